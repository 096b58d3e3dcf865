"""The Pillow charts the evaluate commands draw beside their JSON."""

import pytest

from dynamicnet.data.plot import PALETTE, Series, alpha_panels, level


def test_alpha_panels_put_one_chart_per_quantity_under_a_title():
    curve = Series("curve", [(0.0, 1.0), (0.5, 2.0), (1.0, 4.0)])
    one = alpha_panels([("loss", [curve])], title="model: losses", size=(300, 240))
    two = alpha_panels(
        [("loss", [curve]), ("other", [curve, level("reference", 3.0, [0.0, 1.0], PALETTE[1])])],
        title="model: losses",
        size=(300, 240),
    )
    assert one.width == 300 and two.width == 2 * 300 + 12  # side by side, 12 px apart
    assert two.height > one.height  # the second panel's legend has a second row
    assert two.getpixel((5, 5)) == (255, 255, 255)


def test_a_level_is_a_dashed_line_across_the_alphas():
    line = level("oracle", 0.25, [0.0, 0.5, 1.0])
    assert line.points == [(0.0, 0.25), (1.0, 0.25)] and line.dashed and line.marker is None


def test_panels_need_points():
    with pytest.raises(ValueError, match="no points"):
        alpha_panels([("loss", [Series("empty", [])])], title="t")
