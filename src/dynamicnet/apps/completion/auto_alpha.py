"""``--alpha auto`` for completion: the α a model proposes for one image, without ground truth.

Two methods, chosen by what the model folder stores in ``extra.auto_alpha``. A fitted learned critic
(:class:`~.critic.AlphaCritic`) predicts from the fills at every α of a grid how far each is from the truth. Without
one, per-image cross-validation ("proxy holes"): hide a few more regions of the *known* image right next to the
hole (the hole shifted by half its extent up, down, left and right, where the shifted copy still lies mostly on
known pixels), complete the enlarged hole at every α of a grid, and score each α by how well it recovers those
proxy regions, whose truth we have, using the same VGG-feature distance the evaluation reports. The premise:
neighbouring regions share the hole's kind of content (texture vs. smooth surfaces), which should decide which end
of the slider suits an image. The price is ``4 × len(grid)`` extra forward passes (the α-independent prefix of each
is computed once). The raw scores are corrected by the model's :class:`AutoAlphaCalibration` (an α-dependent bias
of proxy regions, and a pull towards the best global α), fitted on calibration photos and stored in the folder.

Both judge the image on the window of its largest hole, at the scale the network fills it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ...data.masks import hole_bbox
from ...errors import DynamicNetError
from ...utils.progress import progress as progress_bar
from .critic import AlphaCritic, critic_features
from .metrics import PERCEPTUAL_TAPS, perceptual_hole_distance

if TYPE_CHECKING:
    from .pipeline import CompletionPipeline, Prepared, Window

    PreparedWindow = tuple[Prepared, tuple[int, ...]]  # what CompletionPipeline._prepare returns: run, padding
AUTO_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
_MIN_PROXY_FRACTION = 0.2  # a proxy region smaller than this share of the hole is too small to judge


def calibration_of(config: Mapping[str, Any]) -> AutoAlphaCalibration | AlphaCritic:
    """How a model proposes α (``extra.auto_alpha``): a fitted critic, a calibrated proxy criterion, or (nothing
    stored) the uncalibrated proxy criterion."""
    stored = config.get("extra", {}).get("auto_alpha")
    if not stored:
        return AutoAlphaCalibration()
    return AlphaCritic.from_dict(stored) if stored.get("kind") == "critic" else AutoAlphaCalibration.from_dict(stored)


@torch.no_grad()
def choose_alpha(
    pipe: CompletionPipeline, win: Window, prepared: PreparedWindow | None = None, progress: bool | None = False
) -> float:
    """The α ``pipe``'s model proposes for the hole of ``win`` (``prepared``: that window already prepared, if so).

    ``progress``: a bar over the fills it judges (None: only when stderr is a terminal)."""
    cal = calibration_of(pipe.config)
    if isinstance(cal, AlphaCritic):
        return cal.choose(
            window_features(pipe, win, prepared or pipe._prepare(win.image, win.mask), cal.grid, progress)
        )
    scores = proxy_scores(pipe, win, cal.grid, progress)
    return cal.prior_alpha if scores is None else cal.choose(scores)


def window_features(
    pipe: CompletionPipeline,
    win: Window,
    prepared: PreparedWindow,
    grid: Sequence[float],
    progress: bool | None = False,
) -> Any:
    """:func:`~.critic.critic_features` of ``win``'s hole filled at each α of ``grid``."""
    prep, pads = prepared
    alphas = progress_bar(grid, desc="auto α", total=len(grid), unit="α", enabled=progress)
    return critic_features([pipe._fill(prep, pads, win.image, win.mask, float(a)) for a in alphas], win.mask)


@torch.no_grad()
def proxy_scores(
    pipe: CompletionPipeline, win: Window, alphas: Sequence[float], progress: bool | None = False
) -> list[float] | None:
    """Proxy-hole score of each α (lower is better), or None when no proxy region fits (see the module doc)."""
    image, mask = win.image, win.mask
    proxies = proxy_regions(mask)
    if not proxies:
        return None
    vgg = pipe._vgg()
    totals = torch.zeros(len(alphas))
    # A bar over the proxy regions: each is len(alphas) fills and VGG passes, the slow part of auto α.
    for proxy in progress_bar(proxies, desc="auto α", total=len(proxies), unit="region", enabled=progress):
        union = ((mask + proxy) > 0).float()  # (1, H, W): the hole and the proxy are both hidden
        prep, pads = pipe._prepare(image, union)
        top, bottom, left, right = hole_bbox(union, margin=8)  # VGG only around what changed
        truth = image[None, :, top:bottom, left:right].to(pipe.device)
        region = proxy[None, :, top:bottom, left:right].to(pipe.device)
        target = vgg(truth, taps=PERCEPTUAL_TAPS)
        for i, a in enumerate(alphas):
            filled = pipe._fill(prep, pads, image, union, float(a))
            crop = filled[None, :, top:bottom, left:right].to(pipe.device)
            totals[i] += float(perceptual_hole_distance(vgg(crop, taps=PERCEPTUAL_TAPS), target, region)[0])
    return (totals / len(proxies)).tolist()


@dataclass(frozen=True)
class AutoAlphaCalibration:
    """How proxy scores become an α: ``argmin_α  proxy(α) + offset(α) + shrinkage·((α − prior)/0.5)²``.

    The proxy regions sit next to known pixels, so their scores are biased in α in a way that is the same
    for every image (on a GAN-trained θ they favoured the sharp end); ``offset`` removes that bias, and
    the shrinkage pulls towards the best global α when the per-image evidence is weak. Both are fitted on
    calibration photos that are neither training nor held-out images
    (:func:`dynamicnet.apps.completion.evaluate.calibrate_auto_alpha`); the defaults are the raw criterion.
    """

    grid: tuple[float, ...] = AUTO_GRID
    offset: tuple[float, ...] = (0.0,) * len(AUTO_GRID)
    prior_alpha: float = 0.5
    shrinkage: float = 0.0
    source: str = "uncalibrated"

    def __post_init__(self) -> None:
        if len(self.offset) != len(self.grid) or not self.grid:
            raise DynamicNetError(f"auto-α calibration: {len(self.grid)} grid points but {len(self.offset)} offsets")

    def objective(self, scores: Sequence[float]) -> list[float]:
        return [
            s + o + self.shrinkage * ((a - self.prior_alpha) / 0.5) ** 2
            for s, o, a in zip(scores, self.offset, self.grid)
        ]

    def choose(self, scores: Sequence[float]) -> float:
        total = self.objective(scores)
        return float(self.grid[min(range(len(total)), key=total.__getitem__)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid": list(self.grid),
            "offset": list(self.offset),
            "prior_alpha": self.prior_alpha,
            "shrinkage": self.shrinkage,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AutoAlphaCalibration:
        return cls(
            tuple(float(a) for a in data["grid"]),
            tuple(float(o) for o in data["offset"]),
            float(data["prior_alpha"]),
            float(data["shrinkage"]),
            str(data.get("source", "")),
        )


def proxy_regions(mask: torch.Tensor) -> list[torch.Tensor]:
    """Known regions shaped like the hole beside it: the mask shifted by half its extent in 4 directions.

    Each proxy is ``(1, H, W)`` of 0/1, the shifted hole minus the real hole, kept only when it covers at
    least a fifth of the hole's area.
    """
    top, bottom, left, right = hole_bbox(mask)
    dy, dx = max(1, (bottom - top) // 2), max(1, (right - left) // 2)
    area = float(mask.sum())
    out = []
    for sy, sx in ((-dy, 0), (dy, 0), (0, -dx), (0, dx)):
        shifted = _shift(mask, sy, sx)
        proxy = shifted * (1 - mask)
        if float(proxy.sum()) >= _MIN_PROXY_FRACTION * area and float(((mask + proxy) > 0).float().mean()) < 0.9:
            out.append(proxy)
    return out


def _shift(mask: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate a ``(1, H, W)`` mask by (dy, dx) pixels, filling with 0 (no wrap-around)."""
    h, w = mask.shape[-2:]
    padded = F.pad(mask, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    y0, x0 = max(-dy, 0), max(-dx, 0)
    return padded[:, y0 : y0 + h, x0 : x0 + w]


__all__ = [
    "AUTO_GRID",
    "AutoAlphaCalibration",
    "calibration_of",
    "choose_alpha",
    "proxy_regions",
    "proxy_scores",
    "window_features",
]
