"""A learned ``--alpha auto`` for completion: predict, per image, how far each α's fill is from the truth.

Which end of the slider suits an image depends on what surrounds the hole: texture wants the sharp end, smooth
surfaces the smooth one, and a fill that is much busier or much flatter (or another colour) than the pixels
around the hole is a bad fill. :func:`critic_features` measures exactly that for the fill at every α of a grid —
the fill's detail, spread and colour against a ring of known pixels around the hole — plus the context's own
detail and spread; :class:`AlphaCritic` maps those features linearly to the VGG distance of every α (centred per
image), and auto α is the α with the smallest predicted distance.

The weights are fitted by ridge regression on crops of *training* photos with ground truth
(:func:`fit_critic`; ``dynamicnet calibrate-completion``), the ridge strength by leave-one-photo-out cross-
validation of the share of the oracle's gain recovered; the held-out photos of the benchmark stay out of it. The
cost at inference is one fill per grid α of the hole's working window, which the α-independent prefix makes
cheap (no VGG, no extra holes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

_EPS = 1e-4
RIDGE_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)


def _detail(image: torch.Tensor) -> torch.Tensor:
    """Per-pixel gradient magnitude of the luminance, ``(1, H, W)`` (forward differences, edge-replicated)."""
    y = image.mean(0, keepdim=True)
    dx = F.pad(y[:, :, 1:] - y[:, :, :-1], (0, 1, 0, 0))
    dy = F.pad(y[:, 1:, :] - y[:, :-1, :], (0, 0, 0, 1))
    return (dx.square() + dy.square()).sqrt()


def _ring(mask: torch.Tensor, width: int) -> torch.Tensor:
    """Known pixels within ``width`` px (chessboard) of the hole, ``(1, H, W)`` bool."""
    grown = F.max_pool2d(mask[None], 2 * width + 1, 1, width)[0] > 0
    return grown & (mask < 0.5)


def _stats(image: torch.Tensor, detail: torch.Tensor, region: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """(mean detail, colour spread, mean colour) of ``image`` over ``region``."""
    pixels = image[:, region[0]]  # (3, n)
    return float(detail[region].mean()), float(pixels.std(1).mean()) if pixels.shape[1] > 1 else 0.0, pixels.mean(1)


def critic_features(fills: Sequence[torch.Tensor], mask: torch.Tensor) -> np.ndarray:
    """Features of one hole filled at each α of a grid: ``fills`` ``(3, H, W)`` each (known pixels identical),
    ``mask`` ``(1, H, W)`` with 1 = hole. Returns ``3·len(fills) + 2`` numbers (see the module docstring)."""
    hole = mask > 0.5
    depth = max(2, int(min(hole.any(2).sum(), hole.any(1).sum()) // 4))
    ring = _ring(mask.float(), depth)
    if not bool(ring.any()):
        ring = ~hole
    d_ring, s_ring, c_ring = _stats(fills[0], _detail(fills[0]), ring)
    out = [np.log(d_ring + _EPS), np.log(s_ring + _EPS)]
    for fill in fills:
        d, s, c = _stats(fill, _detail(fill), hole)
        out += [
            np.log((d + _EPS) / (d_ring + _EPS)),
            np.log((s + _EPS) / (s_ring + _EPS)),
            float((c - c_ring).abs().mean()),
        ]
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class AlphaCritic:
    """Linear map from :func:`critic_features` to the centred VGG distance of each α of ``grid``."""

    grid: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]  # (features, alphas)
    bias: tuple[float, ...]  # (alphas,)
    prior_alpha: float = 0.5
    ridge: float = 1.0
    source: str = ""

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + np.asarray(self.bias)

    def choose(self, features: np.ndarray) -> float:
        return float(self.grid[int(np.argmin(self.predict(features)))])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "critic",
            "grid": list(self.grid),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": [list(w) for w in self.weights],
            "bias": list(self.bias),
            "prior_alpha": self.prior_alpha,
            "ridge": self.ridge,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlphaCritic:
        return cls(
            tuple(float(a) for a in data["grid"]),
            tuple(float(m) for m in data["mean"]),
            tuple(float(s) for s in data["scale"]),
            tuple(tuple(float(w) for w in row) for row in data["weights"]),
            tuple(float(b) for b in data["bias"]),
            float(data.get("prior_alpha", 0.5)),
            float(data.get("ridge", 1.0)),
            str(data.get("source", "")),
        )


def ridge_fit(
    features: np.ndarray, curves: np.ndarray, ridge: float, grid: Sequence[float], source: str = ""
) -> AlphaCritic:
    """Fit :class:`AlphaCritic` to ``features`` ``(N, F)`` and true distance ``curves`` ``(N, A)``."""
    mean, scale = features.mean(0), features.std(0) + 1e-8
    z = (features - mean) / scale
    target = curves - curves.mean(1, keepdims=True)  # the shape of each image's curve, not its level
    bias = target.mean(0)
    weights = np.linalg.solve(z.T @ z + ridge * np.eye(z.shape[1]), z.T @ (target - bias))
    prior = float(grid[int(curves.mean(0).argmin())])
    return AlphaCritic(
        tuple(float(a) for a in grid),
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(tuple(row) for row in weights.tolist()),
        tuple(bias.tolist()),
        prior,
        ridge,
        source,
    )


def oracle_share(curves: np.ndarray, picks: np.ndarray) -> float:
    """Share of the per-image oracle's gain over the best global α that the per-image ``picks`` (indices) recover."""
    d_global, d_oracle = curves.mean(0).min(), curves.min(1).mean()
    d_pick = curves[np.arange(len(curves)), picks].mean()
    return float((d_global - d_pick) / (d_global - d_oracle)) if d_global > d_oracle else 0.0


def fit_critic(
    features: np.ndarray, curves: np.ndarray, groups: np.ndarray, grid: Sequence[float], source: str = ""
) -> tuple[AlphaCritic, dict[str, Any]]:
    """The ridge strength with the best leave-one-group-out share of the oracle's gain, refitted on everything.

    ``groups`` labels each row by photo, so no photo's crops help predict that photo."""
    shares: dict[float, float] = {}
    for ridge in RIDGE_GRID:
        picks = np.zeros(len(curves), dtype=int)
        for g in np.unique(groups):
            train, test = groups != g, groups == g
            critic = ridge_fit(features[train], curves[train], ridge, grid)
            picks[test] = [int(np.argmin(critic.predict(f))) for f in features[test]]
        shares[ridge] = oracle_share(curves, picks)
    best = max(RIDGE_GRID, key=lambda r: shares[r])
    critic = ridge_fit(features, curves, best, grid, source)
    in_sample = oracle_share(curves, np.array([int(np.argmin(critic.predict(f))) for f in features]))
    report = {
        "images": len(curves),
        "photos": len(np.unique(groups)),
        "ridge": best,
        "leave_one_photo_out_share": {str(k): round(v, 3) for k, v in shares.items()},
        "in_sample_share": round(in_sample, 3),
        "prior_alpha": critic.prior_alpha,
    }
    return critic, report


__all__ = ["RIDGE_GRID", "AlphaCritic", "critic_features", "fit_critic", "oracle_share", "ridge_fit"]
