"""Inference for dynamic style transfer: one way to stylise an image at any α. No training code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F

from ...core.dynamic import AlphaLike
from ...data.convert import ImageT, as_image_batch
from ...data.geometry import check_network_pixels, max_side_size, pad_to_multiple, resize_max_side, unpad
from ...errors import DynamicNetError
from ..pipeline import Pipeline
from . import model as _model  # noqa: F401  (registers the architecture for load_pretrained)

_MULTIPLE = 4  # two stride-2 downsamplings, two ×2 upsamplings
_MIN_SIDE = 16  # the 9×9 and 3×3 reflection paddings need a few pixels at every scale


def _upscale(y: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Bicubic upscale of a stylised ``(B, 3, h, w)`` image to ``size`` (clamped: bicubic overshoots)."""
    if tuple(y.shape[-2:]) == tuple(size):
        return y
    return F.interpolate(y, size=tuple(size), mode="bicubic", align_corners=False).clamp(0, 1)


class StyleSession:
    """One image prepared for many α (the demo's slider): the α-independent work is done once.

    ``render(α)`` equals ``pipeline(image, α)`` (max |Δ| ≤ 1e-4) but reruns only the part of the network that
    depends on α (see :class:`dynamicnet.core.PreparedInput` and :meth:`dynamicnet.engines.Runtime.prepare`). ``render(α, preview=True)`` does the same on a
    copy whose longer side is ``preview_side``: a quick first frame while the full-resolution one computes.
    """

    def __init__(
        self,
        pipe: StylePipeline,
        image: torch.Tensor,
        max_side: int | None = None,
        preview_side: int | None = 128,
        work_side: int | None = -1,
    ) -> None:
        self.size = max_side_size(*image.shape[-2:], max_side)  # the output's size (no resampling to learn it)
        batch, self._pads = pipe.prepare(image, pipe.working_side(image.shape[-2:], max_side, work_side))
        self._full = pipe.runtime.prepare(batch)
        self._preview = None
        if preview_side is not None and max(self.size) > preview_side:
            small, self._preview_pads = pipe.prepare(image, preview_side)
            self._preview = pipe.runtime.prepare(small)

    @torch.no_grad()
    def render(self, alpha: AlphaLike, preview: bool = False) -> torch.Tensor:
        """The stylised image ``(3, H, W)`` in [0, 1] at ``alpha`` (the preview's size when ``preview``)."""
        if preview and self._preview is not None:
            return unpad(self._preview(alpha), self._preview_pads)[0].clamp(0, 1).cpu()
        return _upscale(unpad(self._full(alpha), self._pads).clamp(0, 1), self.size)[0].cpu()


class StylePipeline(Pipeline):
    """A loaded style model on a device, ready to stylise RGB images in [0, 1] at any α.

    Example:
        >>> pipe = StylePipeline.from_pretrained("starry-level")
        >>> out = pipe(image, alpha=0.5)        # (3, H, W) in [0, 1], the input's size
        >>> out = pipe(Image.open("photo.jpg"))  # a PIL image in, a PIL image out (also NumPy, uint8, batches)

    Working resolution: a feed-forward style network paints strokes of a fixed size in pixels, so a 2000 px photo
    run at full resolution gets strokes a quarter as large, relative to the picture, as a 500 px one, and looks
    like a colour grade. Models record the working side they were trained for (``work_side`` in config.json);
    a larger image is stylised at that side and the result upscaled (bicubic) to the output size, so the look
    does not depend on the photo's resolution. ``work_side=None`` runs at full resolution.
    """

    application = "style"

    @property
    def default_work_side(self) -> int | None:
        """The working side the model was trained for (None: run at full resolution)."""
        side = self.config.get("extra", {}).get("work_side")
        return int(side) if isinstance(side, int) and not isinstance(side, bool) and side > 0 else None

    def working_side(self, size: Sequence[int], max_side: int | None = None, work_side: int | None = -1) -> int | None:
        """The longer side to resize an image of ``size`` to before the network (None: as it is), given the output
        cap ``max_side`` and the working side (−1: the model's, None: full resolution)."""
        side = self.default_work_side if work_side == -1 else work_side
        caps = [c for c in (max_side, side) if c is not None]
        return min(caps) if caps and max(size) > min(caps) else None

    def prepare(self, image: torch.Tensor, max_side: int | None = None) -> tuple[torch.Tensor, tuple[int, ...]]:
        """Resize (optionally) and pad to a multiple of 4; returns the (1, 3, H', W') batch and the padding."""
        if image.dim() != 3 or image.shape[0] != 3:
            raise DynamicNetError(f"expected an RGB image tensor (3, H, W), got shape {tuple(image.shape)}")
        if max_side is not None:
            if max_side < _MULTIPLE:
                raise DynamicNetError(
                    f"max_side must be at least {_MULTIPLE}, got {max_side}",
                    cli=f"--max-side must be at least {_MULTIPLE}, got {max_side}",
                )
            image = resize_max_side(image, max_side)
        check_network_pixels(*image.shape[-2:], "use --work-side / work_side (e.g. 1024) or --max-side")
        padded, pads = pad_to_multiple(image, _MULTIPLE)
        extra_h, extra_w = (max(0, _MIN_SIDE - n) for n in padded.shape[-2:])
        if extra_h or extra_w:  # tiny images: replicate the border so every layer has room; cropped off after
            padded = F.pad(padded[None], (0, extra_w, 0, extra_h), mode="replicate")[0]
            pads = (pads[0], pads[1] + extra_w, pads[2], pads[3] + extra_h)
        return padded.unsqueeze(0).to(self.device), pads

    @torch.no_grad()
    def __call__(
        self, image: ImageT, alpha: AlphaLike = 1.0, max_side: int | None = None, work_side: int | None = -1
    ) -> ImageT:
        """Stylise an RGB image at ``alpha`` (shared, per block, or per set).

        ``image``: a float ``(3, H, W)`` tensor in [0, 1], a uint8 one, a batch ``(B, 3, H, W)`` of either, a PIL
        image, or an ``(H, W, 3)`` / ``(B, H, W, 3)`` NumPy array (uint8, or float in [0, 1]). The result is of the
        same kind and dtype (tensors on the CPU; PIL keeps the input's transparency; see
        :mod:`dynamicnet.data.convert`). It has the input's size, or ``max_side`` on its longer side; the network
        runs at ``work_side`` (−1: the model's working side, None: full resolution) and its result is upscaled.
        """
        batch = as_image_batch(image)
        return cast(ImageT, batch.restore([self._stylise(x, alpha, max_side, work_side) for x in batch.images]))

    def _stylise(
        self, image: torch.Tensor, alpha: AlphaLike, max_side: int | None, work_side: int | None
    ) -> torch.Tensor:
        """One float32 ``(3, H, W)`` image stylised: see :meth:`__call__`."""
        size = max_side_size(*image.shape[-2:], max_side)
        batch, pads = self.prepare(image, self.working_side(image.shape[-2:], max_side, work_side))
        out = self.runtime.forward(batch, alpha)  # (1, 3, H', W')
        return _upscale(unpad(out, pads).clamp(0, 1), size)[0].cpu()

    def session(
        self,
        image: torch.Tensor,
        max_side: int | None = None,
        preview_side: int | None = 128,
        work_side: int | None = -1,
    ) -> StyleSession:
        """Prepare ``image`` for fast α changes (interactive use); see :class:`StyleSession`."""
        return StyleSession(self, image, max_side, preview_side, work_side)

    @torch.no_grad()
    def sweep(
        self,
        image: torch.Tensor,
        alphas: Sequence[AlphaLike],
        max_side: int | None = None,
        work_side: int | None = -1,
        progress: bool | None = False,
    ) -> list[torch.Tensor]:
        """The same image at several α (prepared once, so only the α-dependent tail reruns per α).

        ``progress``: a bar over the α values (None: only when stderr is a terminal)."""
        prepared = self.session(image, max_side, preview_side=None, work_side=work_side)
        return self._over_alphas(prepared.render, alphas, progress)
