"""Inference for the dynamic DCGAN: draw images at any α from a seed. No training code.

The generator always runs in eval mode. The reference implementation sampled in train mode, so BatchNorm used
the statistics of the batch being generated and an image depended on which other images were drawn with it;
here an image depends only on its z and α, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...core.dynamic import AlphaLike
from ...errors import DynamicNetError
from ..pipeline import Pipeline
from . import model as _model  # noqa: F401  (registers the architecture for load_pretrained)

DEFAULT_MODEL = "fashion-sneaker-boot"
_CHUNK = 256  # images per forward pass: bounds memory for large n, and (eval mode) does not change results


class DCGANPipeline(Pipeline):
    """A loaded dynamic DCGAN on a device, ready to draw images at any α.

    Example:
        >>> pipe = DCGANPipeline.from_pretrained("fashion-sneaker-boot")
        >>> images = pipe(16, alpha=0.5, seed=0)         # (16, C, S, S) in [0, 1]
        >>> columns = pipe.sweep(8, [0, 0.5, 1], seed=0)  # the same 8 z at each α
    """

    application = "dcgan"
    default_model = DEFAULT_MODEL

    @property
    def nz(self) -> int:
        return int(self.model.main.nz)

    @property
    def image_size(self) -> int:
        return int(self.model.main.image_size)

    @property
    def channels(self) -> int:
        return int(self.model.main.channels)

    def noise(self, n: int, seed: int) -> torch.Tensor:
        """z ``(n, nz, 1, 1)`` ~ N(0, 1) from ``seed``, drawn on the CPU so it is the same on every device."""
        if n < 1:
            raise DynamicNetError(f"the number of images must be ≥ 1, got {n}")
        return torch.randn(n, self.nz, 1, 1, generator=torch.Generator().manual_seed(int(seed)))

    @torch.no_grad()
    def generate(self, z: torch.Tensor, alpha: AlphaLike = 0.0) -> torch.Tensor:
        """Images ``(N, C, S, S)`` in [0, 1] (CPU) for the noise ``z`` at ``alpha``."""
        self.model.eval()
        return _to_unit([self.runtime.forward(chunk.to(self.device), alpha) for chunk in z.split(_CHUNK)])

    def __call__(self, n: int = 16, alpha: AlphaLike = 1.0, seed: int = 0) -> torch.Tensor:
        """``n`` images at ``alpha`` from ``seed``: ``(n, C, S, S)`` in [0, 1]."""
        return self.generate(self.noise(n, seed), alpha)

    def session(self, n: int = 16, seed: int = 0) -> DCGANSession:
        """``n`` fixed noise vectors prepared for many α (the demo's slider), like the other pipelines' sessions."""
        return DCGANSession(self, self.noise(n, seed))

    def sweep(
        self, n: int, alphas: Sequence[AlphaLike], seed: int = 0, progress: bool | None = False
    ) -> list[torch.Tensor]:
        """The same ``n`` noise vectors at each α: one ``(n, C, S, S)`` tensor per α.

        ``progress``: a bar over the α values (None: only when stderr is a terminal)."""
        z = self.noise(n, seed)
        return self._over_alphas(lambda a: self.generate(z, a), alphas, progress)


class DCGANSession:
    """Fixed noise ``z`` prepared once: ``render(α)`` equals ``pipeline.generate(z, α)`` and reruns only the part
    of the generator from its first insertion point (see :meth:`dynamicnet.engines.Runtime.prepare`)."""

    def __init__(self, pipe: DCGANPipeline, z: torch.Tensor) -> None:
        self.z = z
        with torch.no_grad():
            self._prepared = [pipe.runtime.prepare(chunk.to(pipe.device)) for chunk in z.split(_CHUNK)]

    @torch.no_grad()
    def render(self, alpha: AlphaLike) -> torch.Tensor:
        """Images ``(N, C, S, S)`` in [0, 1] (CPU) at ``alpha``."""
        return _to_unit([prepared(alpha) for prepared in self._prepared])


def _to_unit(chunks: list[torch.Tensor]) -> torch.Tensor:
    """The generator's chunks of tanh outputs as one CPU batch in [0, 1]."""
    return ((torch.cat([c.float().cpu() for c in chunks]) + 1) / 2).clamp(0, 1)
