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
from ...data.io import load_image
from ...losses import StyleTargets, VGG16Features, content_loss, style_loss
from .pipeline import StylePipeline


@dataclass(frozen=True)
class AlphaPoint:
    """Mean losses over the photos at one α (unweighted, as the objective defines them)."""

    alpha: float
    style: float  # w.r.t. the evaluated objective's style image, size and layer weights
    content: float  # w.r.t. the input photo, on the objective's content layer


def square_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square crop resized to ``size`` — fixed, comparable inputs for every photo."""
    _, h, w = image.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = image[:, top : top + s, left : left + s][None]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


@torch.no_grad()
def alpha_curve(pipe: StylePipeline, photos: Sequence[Path], alphas: Sequence[float], vgg: VGG16Features,
                objective: str = "higher", size: int = 256) -> list[AlphaPoint]:
    """Style and content losses (w.r.t. the model's ``objective``) of its outputs at each α, averaged over photos."""
    spec = pipe.config["objectives"][objective]
    layers = spec["style_layers"]
    style = load_image(resolve_style_image(spec["style"])).rgb
    device = next(vgg.parameters()).device
    grams = StyleTargets(vgg)(style.to(device), spec.get("style_size"))
    inputs = torch.stack([square_crop(load_image(p).rgb, size) for p in photos])  # (N, 3, S, S), CPU
    target = vgg(inputs.to(device), taps=(spec["content_layer"],))[spec["content_layer"]]
    points = []
    for a in alphas:
        outs = torch.stack([pipe(x, alpha=a) for x in inputs]).to(device)
        feats = vgg(outs)
        s = style_loss({k: feats[k] for k in layers}, grams, layers).item()
        c = content_loss(feats[spec["content_layer"]], target).item()
        points.append(AlphaPoint(float(a), s, c))
    return points


__all__ = ["AlphaPoint", "alpha_curve", "square_crop"]
