"""Measure what α does for completion, on held-out images with ground truth.

For every image and every α of a grid: PSNR, SSIM and the VGG-feature distance inside the hole. From these:

* the curves (means over images) as a function of α;
* the best *global* α (one α for all images, chosen on the same images — an optimistic baseline);
* the per-image *oracle* (each image at its own best α), the seed's claim: it beats every global α;
* ``auto``: the α :meth:`CompletionPipeline.auto_alpha` picks without ground truth, and the share of the
  oracle's gain over the best global α it recovers, ``(D_global − D_auto) / (D_global − D_oracle)``.

This is how docs/completion.md's numbers are produced (``dynamicnet evaluate-completion``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...core.checkpoint import CONFIG_NAME, read_config
from ...data.assets import held_out_photos
from ...data.folder import random_square_crop
from ...data.io import load_image
from ...errors import DynamicNetError
from ...utils.fs import atomic_write_text
from ...utils.progress import progress as progress_bar
from .auto_alpha import AUTO_GRID, AutoAlphaCalibration
from .critic import AlphaCritic, fit_critic, oracle_share
from .metrics import PERCEPTUAL_TAPS, hole_psnr, hole_ssim, perceptual_hole_distance
from .pipeline import CompletionPipeline


def held_out_crops(
    photos: Sequence[Path] | None = None,
    *,
    size: int = 64,
    per_photo: int = 8,
    scale: tuple[float, float] = (0.02, 1.0),
    seed: int = 1234,
) -> list[torch.Tensor]:
    """``per_photo`` random square crops of each photo (default: the held-out photos), resized to ``size``.

    Crop areas are drawn like the training crops (a uniform fraction ``scale`` of the largest square), so
    the evaluation sees the same mix of close-ups and whole scenes, but from photos never trained on.
    """
    paths = list(photos) if photos is not None else list(held_out_photos().values())
    rng = np.random.default_rng(seed)
    out = []
    for path in paths:
        image = load_image(path).rgb  # (3, H, W)
        for _ in range(per_photo):
            crop = random_square_crop(image, rng, size, scale, min_side=size // 2)
            # Round to 8 bits, as a saved crop would be: the known pixels then survive a PNG round trip.
            out.append(torch.round(crop * 255) / 255)
    return out


@dataclass
class CompletionEval:
    """Per-image metrics along α (arrays are ``(images, alphas)``) and the auto-α results."""

    alphas: list[float]
    psnr: np.ndarray
    ssim: np.ndarray
    perceptual: np.ndarray
    auto_alpha: np.ndarray | None = None  # (images,)
    auto_perceptual: np.ndarray | None = None
    auto_psnr: np.ndarray | None = None
    auto_ssim: np.ndarray | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    # --------------------------------------------------------- derived figures
    def curve(self) -> list[dict[str, float]]:
        return [
            {
                "alpha": a,
                "psnr": float(self.psnr[:, i].mean()),
                "ssim": float(self.ssim[:, i].mean()),
                "perceptual": float(self.perceptual[:, i].mean()),
            }
            for i, a in enumerate(self.alphas)
        ]

    def global_best(self) -> tuple[float, float]:
        """(α, mean perceptual distance) of the best single α."""
        means = self.perceptual.mean(0)
        i = int(means.argmin())
        return self.alphas[i], float(means[i])

    def oracle(self) -> tuple[np.ndarray, float]:
        """(per-image best α, mean perceptual distance at those α)."""
        idx = self.perceptual.argmin(1)
        return np.asarray(self.alphas)[idx], float(self.perceptual.min(1).mean())

    def auto_share(self) -> float | None:
        """Share of the oracle's gain over the best global α that auto α recovers (1 = all, < 0 = worse)."""
        if self.auto_perceptual is None:
            return None
        _, d_global = self.global_best()
        _, d_oracle = self.oracle()
        gain = d_global - d_oracle
        return float((d_global - self.auto_perceptual.mean()) / gain) if gain > 0 else None

    def to_dict(self) -> dict[str, Any]:
        a_best, d_best = self.global_best()
        oracle_alpha, d_oracle = self.oracle()
        d = {
            "alphas": self.alphas,
            "images": int(self.perceptual.shape[0]),
            "curve": self.curve(),
            "global_best": {"alpha": a_best, "perceptual": d_best},
            "oracle": {"perceptual": d_oracle, "alpha_per_image": oracle_alpha.tolist()},
            "perceptual_per_image": self.perceptual.tolist(),
            "notes": self.notes,
        }
        if self.auto_perceptual is not None:
            d["auto"] = {
                "perceptual": float(self.auto_perceptual.mean()),
                "psnr": float(self.auto_psnr.mean()),
                "ssim": float(self.auto_ssim.mean()),
                "alpha_per_image": self.auto_alpha.tolist(),
                "share_of_oracle_gain": self.auto_share(),
            }
        return d


@torch.no_grad()
def evaluate_alphas(
    pipe: CompletionPipeline,
    images: Sequence[torch.Tensor],
    alphas: Sequence[float],
    vgg: Any,
    *,
    hole: int,
    auto: bool = True,
    progress: bool | None = False,
) -> CompletionEval:
    """Metrics inside a centre ``hole``² of every image at every α (and at the auto α when ``auto``).

    ``progress``: a bar over the images (None: only when stderr is a terminal)."""
    device = next(vgg.parameters()).device
    alphas = [float(a) for a in alphas]
    n, k = len(images), len(alphas)
    psnr, ssim, perc = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k))
    auto_a, auto_psnr, auto_ssim, auto_perc = (np.zeros(n) for _ in range(4))
    for j, image in enumerate(progress_bar(images, desc="evaluate", total=n, unit="image", enabled=progress)):
        h, w = image.shape[-2:]
        mask = pipe.default_mask(h, w, hole)
        truth = image[None].to(device)
        m = mask[None].to(device)
        target = vgg(truth, taps=PERCEPTUAL_TAPS)

        def score(
            filled: torch.Tensor, truth: torch.Tensor = truth, m: torch.Tensor = m, target: dict = target
        ) -> tuple[float, float, float]:  # bound now: called in this iteration
            f = filled[None].to(device)
            return (
                float(hole_psnr(f, truth, m)[0]),
                float(hole_ssim(f, truth, m)[0]),
                float(perceptual_hole_distance(vgg(f, taps=PERCEPTUAL_TAPS), target, m)[0]),
            )

        for i, filled in enumerate(pipe.sweep(image, mask, alphas)):
            psnr[j, i], ssim[j, i], perc[j, i] = score(filled)
        if auto:
            auto_a[j] = pipe.auto_alpha(image, mask)
            auto_psnr[j], auto_ssim[j], auto_perc[j] = score(pipe(image, mask, alpha=float(auto_a[j])))
    result = CompletionEval(alphas, psnr, ssim, perc, notes={"hole": hole})
    if auto:
        result.auto_alpha, result.auto_perceptual = auto_a, auto_perc
        result.auto_psnr, result.auto_ssim = auto_psnr, auto_ssim
    return result


def calibration_photos() -> list[Path]:
    """Photos for fitting auto α: in no content set and not held out (scikit-image's motorcycle and
    immunohistochemistry slide, opencv-doc's ``left.jpg``), so the held-out figures stay out of sample."""
    from ...data.assets.registry import OPENCV_DATA_DIR, _skimage_data_dir

    sk = _skimage_data_dir()
    found = [
        p
        for p in ([sk / "motorcycle_left.png", sk / "ihc.png"] if sk is not None else [])
        + [OPENCV_DATA_DIR / "left.jpg"]
        if p.is_file()
    ]
    if len(found) < 2:
        raise DynamicNetError(
            "auto-α calibration needs scikit-image (pip install scikit-image) and/or opencv-doc "
            "(apt-get install opencv-doc), or pass --photos"
        )
    return found


SHRINKAGE_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1)


@torch.no_grad()
def calibrate_auto_alpha(
    pipe: CompletionPipeline,
    groups: Sequence[Sequence[torch.Tensor]],
    vgg: Any,
    *,
    hole: int,
    grid: Sequence[float] = AUTO_GRID,
    source: str = "",
    progress: bool | None = False,
) -> tuple[AutoAlphaCalibration, dict[str, Any]]:
    """Fit :class:`AutoAlphaCalibration` on calibration images with ground truth, grouped by photo.

    ``prior_alpha`` is the best global α on these images; ``offset(α)`` the mean gap between the true
    distance curve and the proxy-score curve (each centred per image), i.e. the proxy's systematic bias;
    ``shrinkage`` the value of :data:`SHRINKAGE_GRID` with the best leave-one-photo-out share of the oracle's
    gain (offset and prior refitted without the left-out photo). Returns the calibration and a report.
    ``progress``: bars over the images, for the true distances and for the proxy scores (None: on a terminal).
    """
    grid = [float(a) for a in grid]
    labels, truth, proxy = _fitting_data(
        pipe, groups, vgg, hole, grid, pipe.auto_alpha_scores, "proxy scores", progress
    )
    g = np.asarray(grid)

    def fit(idx: np.ndarray, shrinkage: float) -> AutoAlphaCalibration:
        t, p = truth[idx], proxy[idx]
        offset = ((t - t.mean(1, keepdims=True)) - (p - p.mean(1, keepdims=True))).mean(0)
        prior = float(g[t.mean(0).argmin()])
        return AutoAlphaCalibration(tuple(grid), tuple(round(float(o), 6) for o in offset), prior, shrinkage, source)

    def share(idx: np.ndarray, cal: AutoAlphaCalibration) -> float:
        return oracle_share(truth[idx], np.asarray([grid.index(cal.choose(p)) for p in proxy[idx]], dtype=int))

    everything = np.arange(len(labels))
    lopo: dict[float, list[float]] = {}
    for lam in SHRINKAGE_GRID:
        lopo[lam] = (
            [share(np.flatnonzero(labels == k), fit(np.flatnonzero(labels != k), lam)) for k in range(len(groups))]
            if len(groups) > 1
            else [share(everything, fit(everything, lam))]
        )
    best = max(SHRINKAGE_GRID, key=lambda lam: float(np.mean(lopo[lam])))
    calibration = fit(everything, best)
    report = {
        "images": len(labels),
        "photos": len(groups),
        "leave_one_photo_out_share": {str(k): [round(v, 3) for v in vs] for k, vs in lopo.items()},
        "chosen_shrinkage": best,
        "prior_alpha": calibration.prior_alpha,
        "in_sample_share": share(everything, calibration),
    }
    return calibration, report


def training_photo_groups(count: int = 40, seed: int = 0) -> list[Path]:
    """``count`` photos drawn (seeded) from the large registry photo set the bundled models train on: the data
    a critic is fitted on (the held-out photos are in no content set, so benchmarks stay out of sample)."""
    from ...data.assets import content_dir
    from ...data.folder import find_images

    photos = find_images(content_dir("large"))
    rng = np.random.default_rng(seed)
    return [photos[i] for i in sorted(rng.choice(len(photos), size=min(count, len(photos)), replace=False))]


@torch.no_grad()
def fit_auto_critic(
    pipe: CompletionPipeline,
    groups: Sequence[Sequence[torch.Tensor]],
    vgg: Any,
    *,
    hole: int,
    grid: Sequence[float] = AUTO_GRID,
    source: str = "",
    progress: bool | None = False,
) -> tuple[AlphaCritic, dict[str, Any]]:
    """Fit :class:`~.critic.AlphaCritic` on crops with ground truth, grouped by photo (centre ``hole``²).

    ``progress``: bars over the images, for the true distances and for the critic's features (None: on a
    terminal); the fit itself (:func:`~.critic.fit_critic`, a few small ridge regressions) takes no time."""
    grid = [float(a) for a in grid]
    labels, curves, features = _fitting_data(
        pipe, groups, vgg, hole, grid, pipe.critic_features, "critic features", progress
    )
    return fit_critic(features, curves, labels, grid, source)


def _fitting_data(
    pipe: CompletionPipeline,
    groups: Sequence[Sequence[torch.Tensor]],
    vgg: Any,
    hole: int,
    grid: list[float],
    measure: Callable[[torch.Tensor, torch.Tensor, list[float]], Any],
    desc: str,
    progress: bool | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What an auto-α fit learns from: each image's photo label, its true VGG distance at every α of ``grid``
    ``(N, A)``, and ``measure(image, centre mask, grid)`` of each image stacked (proxy scores, critic features)."""
    images = [im for g in groups for im in g]
    labels = np.concatenate([np.full(len(g), k) for k, g in enumerate(groups)])
    truth = evaluate_alphas(pipe, images, grid, vgg, hole=hole, auto=False, progress=progress).perceptual
    measured = np.stack(
        [
            np.asarray(measure(im, pipe.default_mask(*im.shape[-2:], hole), grid))
            for im in progress_bar(images, desc=desc, total=len(images), unit="image", enabled=progress)
        ]
    )
    return labels, truth, measured


def write_calibration(folder: Path, calibration: AutoAlphaCalibration | AlphaCritic) -> None:
    """Store a calibration in a model folder's ``config.json`` (``extra.auto_alpha``; atomic rewrite)."""
    config = read_config(folder)
    config["extra"] = {
        **config.get("extra", {}),
        "auto_alpha": calibration.to_dict(),
        "default_alpha": calibration.prior_alpha,
    }
    atomic_write_text(Path(folder) / CONFIG_NAME, json.dumps(config, indent=2) + "\n")


def summarize(result: CompletionEval, title: str) -> str:
    """The evaluation as the text table ``dynamicnet evaluate-completion`` prints."""
    lines = [
        title,
        f"{'alpha':>6} {'PSNR dB':>9} {'SSIM':>7} {'VGG dist':>9}   (inside the hole; VGG: lower is better)",
    ]
    for row in result.curve():
        lines.append(f"{row['alpha']:>6g} {row['psnr']:>9.3f} {row['ssim']:>7.4f} {row['perceptual']:>9.4f}")
    a_best, d_best = result.global_best()
    oracle_alpha, d_oracle = result.oracle()
    d0, d1 = float(result.perceptual[:, 0].mean()), float(result.perceptual[:, -1].mean())
    lines.append(f"best global α = {a_best:g}: VGG dist {d_best:.4f}")
    lines.append(
        f"per-image oracle α: VGG dist {d_oracle:.4f}  ({_pct(d_oracle, d_best)} vs best global, "
        f"{_pct(d_oracle, d0)} vs α={result.alphas[0]:g}, {_pct(d_oracle, d1)} vs α={result.alphas[-1]:g})"
    )
    values, counts = np.unique(oracle_alpha, return_counts=True)
    lines.append("oracle α histogram: " + ", ".join(f"{v:g}×{c}" for v, c in zip(values, counts)))
    if result.auto_perceptual is not None:
        share = result.auto_share()
        lines.append(
            f"auto α: VGG dist {result.auto_perceptual.mean():.4f}  PSNR {result.auto_psnr.mean():.3f}  "
            f"SSIM {result.auto_ssim.mean():.4f}  ({_pct(float(result.auto_perceptual.mean()), d_best)} "
            f"vs best global); share of the oracle's gain recovered: "
            f"{'n/a' if share is None else f'{100 * share:.0f}%'}"
        )
        varied = np.std(result.auto_alpha) > 0 and np.std(oracle_alpha) > 0
        corr = np.corrcoef(result.auto_alpha, oracle_alpha)[0, 1] if varied else float("nan")
        lines.append(f"auto α: mean {result.auto_alpha.mean():.2f}, correlation with the oracle α {corr:.2f}")
    return "\n".join(lines)


def _pct(value: float, reference: float) -> str:
    return f"{100 * (value - reference) / reference:+.1f}%" if reference else "n/a"


__all__ = [
    "SHRINKAGE_GRID",
    "CompletionEval",
    "calibrate_auto_alpha",
    "calibration_photos",
    "evaluate_alphas",
    "fit_auto_critic",
    "held_out_crops",
    "summarize",
    "training_photo_groups",
    "write_calibration",
]
