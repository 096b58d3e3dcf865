"""Measure what α does to a dynamic DCGAN: attribute fraction and Fréchet distances along the α walk.

For fixed noise z and each α, the attribute classifier (:mod:`.classifier`) scores the generated images:

* **O1 fraction** — the share judged to have the O1 attribute (``a ≠ v``). It should rise monotonically from
  about the classifier's rate on real O0 images (α = 0) to about its rate on real O1 images (α = 1).
* **Fréchet distance** — between the Gaussians fitted to the classifier's pooled features of the generated
  images and of the real images of each subset (the FID formula, Heusel et al. 2017, in a small task-specific
  feature space instead of Inception's). Low FD to O0 at α = 0 and to O1 at α = 1 says the samples are
  realistic members of each subset; the real-vs-real distances give the scale.

The real images come from held-out data (Fashion-MNIST's test split, CelebA's test partition) where it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from ...errors import DynamicNetError
from ...utils.progress import progress as progress_bar
from .classifier import AttributeClassifier, o1_rate, predict, real_predictions
from .data import AttributeSplit
from .pipeline import DCGANPipeline


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½) between feature sets ``(N, D)`` and ``(M, D)``.

    Computed in float64 with symmetric eigendecompositions (no SciPy): Tr((ΣaΣb)^½) equals the sum of the
    square roots of the eigenvalues of the symmetric PSD matrix Σa^½ Σb Σa^½.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected two (N, D) feature sets of the same D, got {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least two samples per set")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    w, v = torch.linalg.eigh(cov_a)
    sqrt_a = (v * w.clamp_min(0).sqrt()) @ v.T  # Σa^½
    middle = sqrt_a @ cov_b @ sqrt_a
    middle = (middle + middle.T) / 2  # symmetric up to rounding; make it exactly so for eigvalsh
    tr_sqrt = torch.linalg.eigvalsh(middle).clamp_min(0).sqrt().sum()
    fd = (mu_a - mu_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * tr_sqrt
    return float(fd.clamp_min(0))


@dataclass(frozen=True)
class AlphaPoint:
    """Scores of the generated images at one α."""

    alpha: float
    o1_fraction: float  # share judged to have the O1 attribute
    mean_o1_probability: float
    fd_main: float  # Fréchet distance to the real O0 images
    fd_tuning: float  # … to the real O1 images


@dataclass(frozen=True)
class AlphaEvaluation:
    """An α walk and the real-data references that give its numbers a scale."""

    points: list[AlphaPoint]
    real_o1_rate_main: float  # classifier's O1 rate on real O0 images (where α = 0 should be)
    real_o1_rate_tuning: float  # … on real O1 images (where α = 1 should be)
    fd_real_main_tuning: float  # FD between the two real subsets
    fd_real_main_halves: float  # FD between two halves of the real O0 images: the sampling-noise floor
    fd_real_tuning_halves: float
    samples: int
    real_main: int
    real_tuning: int
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The α walk as a plain-text table (what ``dynamicnet evaluate-dcgan`` prints)."""
        lines = [f"{'alpha':>6} {'O1 fraction':>12} {'mean p(O1)':>11} {'FD to O0':>9} {'FD to O1':>9}"]
        for p in self.points:
            lines.append(
                f"{p.alpha:>6g} {p.o1_fraction:>12.3f} {p.mean_o1_probability:>11.3f} "
                f"{p.fd_main:>9.3f} {p.fd_tuning:>9.3f}"
            )
        lines.append(
            f"real O0 images: O1 rate {self.real_o1_rate_main:.3f}; real O1 images: O1 rate "
            f"{self.real_o1_rate_tuning:.3f}"
        )
        lines.append(
            f"real FD: O0 vs O1 {self.fd_real_main_tuning:.3f}; half vs half: O0 "
            f"{self.fd_real_main_halves:.3f}, O1 {self.fd_real_tuning_halves:.3f}"
        )
        return "\n".join(lines)


def _halves_fd(feats: torch.Tensor, seed: int) -> float:
    perm = torch.randperm(len(feats), generator=torch.Generator().manual_seed(seed))
    h = len(feats) // 2
    return frechet_distance(feats[perm[:h]], feats[perm[h : 2 * h]])


def evaluate_alphas(
    pipe: DCGANPipeline,
    classifier: AttributeClassifier,
    real: AttributeSplit,
    alphas: Sequence[float],
    n: int = 1000,
    seed: int = 0,
    max_real: int = 2000,
    progress: bool | None = False,
) -> AlphaEvaluation:
    """Score ``n`` generated images (the same z at every α) against ``real`` (held-out, ideally).

    ``progress``: a bar over the α values (None: only when stderr is a terminal).

    Raises:
        DynamicNetError: the classifier was trained at another image size or channel count than the model.
    """
    if (classifier.channels, classifier.image_size) != (pipe.channels, pipe.image_size):
        raise DynamicNetError(
            f"the classifier expects {classifier.channels}×{classifier.image_size}² images but the model makes "
            f"{pipe.channels}×{pipe.image_size}²"
        )
    if n < 2:
        raise DynamicNetError(f"need at least 2 samples per α, got {n}")
    (f0, p0), (f1, p1) = real_predictions(classifier, real, max_real, seed)
    points = []
    z = pipe.noise(n, seed)
    for a in progress_bar(alphas, desc="evaluate α", total=len(alphas), unit="α", enabled=progress):
        f, p = predict(classifier, pipe.generate(z, float(a)))
        points.append(
            AlphaPoint(float(a), o1_rate(p), float(p.mean()), frechet_distance(f, f0), frechet_distance(f, f1))
        )
    fd_real = frechet_distance(f0, f1)
    halves = (_halves_fd(f0, seed), _halves_fd(f1, seed))
    return AlphaEvaluation(points, o1_rate(p0), o1_rate(p1), fd_real, *halves, n, len(f0), len(f1), seed)
