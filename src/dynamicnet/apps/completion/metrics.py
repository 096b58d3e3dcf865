"""Quality inside the hole: PSNR, SSIM and a VGG-feature perceptual distance, as pure functions.

Every metric is computed per image over the hole only (the known pixels are identical by construction and
would only dilute the numbers). The perceptual distance is also the training objective's perceptual term, so
"what the model was trained for" and "what the evaluation measures" are the same function.

Images are ``(B, 3, H, W)`` in [0, 1]; masks ``(B, 1, H, W)`` with 1 = hole. Results are ``(B,)`` tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-10

#: VGG16 taps of the perceptual distance (training term and evaluation alike).
PERCEPTUAL_TAPS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3")


def _weights(mask: Tensor, size: Sequence[int]) -> Tensor:
    """Fraction of each cell of a ``size`` grid that lies in the hole: ``(B, 1, h, w)``."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=tuple(size), mode="area")


def hole_mse(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the hole's pixels and channels, per image."""
    sq = ((a - b) ** 2).mean(1, keepdim=True)  # (B, 1, H, W)
    return (sq * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1)


def hole_psnr(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """PSNR (dB, peak 1) over the hole, per image; capped at 100 dB for an exact fill."""
    return (10 * torch.log10(1.0 / hole_mse(a, b, mask).clamp_min(1e-10))).clamp_max(100.0)


def _gaussian_window(size: int = 11, sigma: float = 1.5, device: torch.device | None = None) -> Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # (1, 1, k, k)


def ssim_map(a: Tensor, b: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-pixel SSIM (Wang et al., 2004; Gaussian 11×11, σ = 1.5, K = 0.01, 0.03), averaged over channels.

    Reflection padding keeps the map the image's size so it can be averaged over the hole; images smaller
    than the window use replicate padding.
    """
    c = a.shape[1]
    k = _gaussian_window(window, sigma, a.device).expand(c, 1, window, window)
    pad = window // 2
    mode = "reflect" if min(a.shape[-2:]) > pad else "replicate"

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode=mode), k, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(1, keepdim=True)  # (B, 1, H, W)


def hole_ssim(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """Mean SSIM over the hole's pixels, per image (windows at the edge also see known pixels)."""
    s = ssim_map(a, b)
    return (s * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1)


def _unit(feat: Tensor) -> Tensor:
    """Features unit-normalised along channels, so every layer counts alike whatever its activation scale (the
    offline Caffe-lineage VGG weights differ by orders of magnitude between layers)."""
    return feat / (feat.pow(2).sum(1, keepdim=True).sqrt() + _EPS)


def _mean_over_taps(
    per_tap: Callable[[Tensor, Tensor, Tensor], Tensor],
    feats_a: Mapping[str, Tensor],
    feats_b: Mapping[str, Tensor],
    mask: Tensor,
    taps: Sequence[str] | None,
) -> Tensor:
    """``per_tap(unit features a, unit features b, hole weights at that tap's size)`` averaged over the taps."""
    taps = list(taps if taps is not None else feats_a.keys())
    assert taps, "no taps"
    total = 0.0
    for tap in taps:
        na, nb = _unit(feats_a[tap]), _unit(feats_b[tap])  # (B, C, h, w)
        total = total + per_tap(na, nb, _weights(mask, na.shape[-2:]))
    assert isinstance(total, Tensor)
    return total / len(taps)


def _position_distance(na: Tensor, nb: Tensor, w: Tensor) -> Tensor:
    d = (na - nb).pow(2).sum(1, keepdim=True)  # (B, 1, h, w)
    return (d * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(_EPS)


def _statistics_distance(na: Tensor, nb: Tensor, w: Tensor) -> Tensor:
    root, area = w.sqrt(), w.flatten(1).sum(1).clamp_min(_EPS)[:, None, None]
    grams = [(n * root).flatten(2) for n in (na, nb)]  # (B, C, h·w)
    diff = grams[0] @ grams[0].transpose(1, 2) / area - grams[1] @ grams[1].transpose(1, 2) / area
    return diff.pow(2).flatten(1).sum(1)


def perceptual_hole_distance(
    feats_a: Mapping[str, Tensor], feats_b: Mapping[str, Tensor], mask: Tensor, taps: Sequence[str] | None = None
) -> Tensor:
    """VGG-feature distance inside the hole, per image (LPIPS-style, with uniform layer weights).

    At each tap the features are unit-normalised along channels (:func:`_unit`), the squared difference is summed
    over channels (∈ [0, 4]) and averaged over the hole, weighting each feature cell by the fraction of it that
    lies in the hole; the taps are then averaged.
    """
    return _mean_over_taps(_position_distance, feats_a, feats_b, mask, taps)


def texture_hole_distance(
    feats_a: Mapping[str, Tensor], feats_b: Mapping[str, Tensor], mask: Tensor, taps: Sequence[str] | None = None
) -> Tensor:
    """Distance between the VGG-feature *statistics* of two images inside the hole, per image.

    A Gram-matrix ("style") term in the spirit of the partial-convolution inpainting loss (Liu et al., 2018),
    restricted to the hole: at each tap the unit-normalised features (as in :func:`perceptual_hole_distance`)
    give a channel co-occurrence matrix averaged over the hole's cells, and the squared Frobenius distance between
    the two images' matrices is averaged over the taps. Unlike the per-position distance it does not care *where*
    a texture's strokes fall, only that the fill has the truth's kind and amount of texture, so a fill trained
    for it draws texture where a per-pixel objective would average it into a smooth guess.
    """
    return _mean_over_taps(_statistics_distance, feats_a, feats_b, mask, taps)


__all__ = ["hole_mse", "hole_psnr", "hole_ssim", "perceptual_hole_distance", "ssim_map", "texture_hole_distance"]
