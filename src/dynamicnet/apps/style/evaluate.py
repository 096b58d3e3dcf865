"""Measure what α does: the objectives' losses of a style model's outputs along the α walk.

For a two-objective model, the style loss w.r.t. O1 should fall as α goes 0 → 1 and the content loss rise;
this is how the bundled models are checked (tests and docs/models.md), not by eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ...data.assets import resolve_style_image
from ...data.geometry import square_crop
from ...data.io import load_image
from ...losses import StyleTargets, VGG16Features, content_loss, style_loss
from ...losses.functional import gram_matrix
from ...utils.progress import progress as progress_bar
from .pipeline import StylePipeline


@dataclass(frozen=True)
class AlphaPoint:
    """Mean losses over the photos at one α (unweighted, as the objective defines them)."""

    alpha: float
    style: float  # w.r.t. the evaluated objective's style image, size and layer weights
    content: float  # w.r.t. the input photo, on the objective's content layer


@torch.no_grad()
def alpha_curve(
    pipe: StylePipeline,
    photos: Sequence[Path],
    alphas: Sequence[float],
    vgg: VGG16Features,
    objective: str = "higher",
    size: int = 256,
    progress: bool | None = False,
) -> list[AlphaPoint]:
    """Style and content losses (w.r.t. the model's ``objective``) of its outputs at each α, averaged over photos.

    ``progress``: a bar over the α values (None: only when stderr is a terminal)."""
    spec = pipe.config["objectives"][objective]
    layers = spec["style_layers"]
    style = load_image(resolve_style_image(spec["style"])).rgb
    device = next(vgg.parameters()).device
    grams = StyleTargets(vgg)(style.to(device), spec.get("style_size"))
    inputs = torch.stack([square_crop(load_image(p).rgb, size) for p in photos])  # (N, 3, S, S), CPU
    target = vgg(inputs.to(device), taps=(spec["content_layer"],))[spec["content_layer"]]
    points = []
    for a in progress_bar(alphas, desc="evaluate α", total=len(alphas), unit="α", enabled=progress):
        outs = torch.stack([pipe(x, alpha=a) for x in inputs]).to(device)
        feats = vgg(outs)
        s = style_loss({k: feats[k] for k in layers}, grams, layers).item()
        c = content_loss(feats[spec["content_layer"]], target).item()
        points.append(AlphaPoint(float(a), s, c))
    return points


SCORE_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
SCORE_SIDE = 512


@dataclass(frozen=True)
class StyleScore:
    """How close an output is to a style, and how far from its photo (docs/models.md, "The measure")."""

    score: float  # Σ_l D_l(output) / D_l(photo): the photo scores 4 (one per layer), the style image 0
    content: float  # relu2_2 MSE between output and photo
    layers: dict[str, float]  # D_l(output) / D_l(photo) per layer


class StyleScorer:
    """The layer-balanced style score of outputs w.r.t. one style image.

    ``D_l(y) = MSE(Gram_l(y), Gram_l(style))`` on the VGG16 taps relu1_2 … relu4_3; the score divides each by the
    same distance for the photo the output came from, so every layer counts alike (a plain sum is dominated by
    relu1_2, i.e. colour) and photos that already resemble the style are not favoured. Lower is closer to the
    style at every scale. The style image is used at ``side`` px on its longer side; pass outputs and photos at
    the same scale (:func:`fit_side`).
    """

    def __init__(self, vgg: VGG16Features, style: torch.Tensor, side: int = SCORE_SIDE) -> None:
        self.vgg = vgg
        self.device = next(vgg.parameters()).device
        with torch.no_grad():
            feats = vgg(fit_side(style, side)[None].to(self.device), taps=SCORE_TAPS)
        self.grams = {k: gram_matrix(v) for k, v in feats.items()}  # (1, C, C)

    @torch.no_grad()
    def distances(self, image: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
        """``D_l`` per tap and the content features of one RGB image ``(3, H, W)``."""
        feats = self.vgg(image[None].to(self.device), taps=SCORE_TAPS)
        d = {k: torch.mean((gram_matrix(feats[k]) - self.grams[k]) ** 2).item() for k in SCORE_TAPS}
        return d, feats["relu2_2"]

    def __call__(self, output: torch.Tensor, photo: torch.Tensor) -> StyleScore:
        if output.shape != photo.shape:
            raise ValueError(f"output {tuple(output.shape)} and photo {tuple(photo.shape)} differ in shape")
        dy, fy = self.distances(output)
        dx, fx = self.distances(photo)
        layers = {k: dy[k] / max(dx[k], 1e-30) for k in SCORE_TAPS}
        return StyleScore(sum(layers.values()), content_loss(fy, fx).item(), layers)


def fit_side(image: torch.Tensor, side: int) -> torch.Tensor:
    """``image`` ``(3, H, W)`` resized (antialiased bicubic, up or down) so its longer side is ``side``."""
    h, w = image.shape[-2:]
    s = side / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    if size == (h, w):
        return image
    out = F.interpolate(image[None], size=size, mode="bicubic", antialias=True, align_corners=False)
    return out[0].clamp(0, 1)


__all__ = ["SCORE_SIDE", "SCORE_TAPS", "AlphaPoint", "StyleScore", "StyleScorer", "alpha_curve", "fit_side"]
