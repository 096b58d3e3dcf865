import numpy as np
import pytest

from dynamicnet.apps.completion.auto_alpha import AutoAlphaCalibration, proxy_regions
from dynamicnet.data.masks import center_mask, stroke_mask
from dynamicnet.errors import DynamicNetError


def test_proxy_regions_lie_on_known_pixels_beside_the_hole():
    mask = center_mask(32, 32)
    proxies = proxy_regions(mask)
    assert len(proxies) == 4
    for p in proxies:
        assert float((p * mask).sum()) == 0 and float(p.sum()) == 16 * 8
    assert proxy_regions(center_mask(32, 32, hole=30)) == []  # no room left: auto α falls back
    assert len(proxy_regions(stroke_mask(48, 48, np.random.default_rng(0)))) >= 1


def test_calibration_corrects_bias_and_shrinks_to_the_prior():
    cal = AutoAlphaCalibration(grid=(0.0, 0.5, 1.0), offset=(0.3, 0.0, -0.3), prior_alpha=0.5, shrinkage=0.0)
    assert cal.choose([0.0, 0.1, 0.2]) == 1.0  # raw argmin 0, but the proxy over-rates the sharp end
    assert AutoAlphaCalibration.from_dict(cal.to_dict()) == cal
    strong = AutoAlphaCalibration(grid=(0.0, 0.5, 1.0), offset=(0.0,) * 3, prior_alpha=0.5, shrinkage=10.0)
    assert strong.choose([0.0, 0.1, 0.2]) == 0.5
    with pytest.raises(DynamicNetError, match="offsets"):
        AutoAlphaCalibration(grid=(0.0, 1.0), offset=(0.0,))
