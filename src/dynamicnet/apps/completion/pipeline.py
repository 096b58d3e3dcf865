"""Inference for dynamic image completion: fill a hole at any α, sweep α, or let the image choose α.

No training code. Any image size and any hole work, at the scale the network learnt: each separate hole gets a
window (the hole and twice its depth of context around it), shrunk until the hole is as deep as the training
holes were; the network fills the window there (padded to a multiple of 4), the fill is brought back to full
resolution with the detail of the surrounding photo carried into it (:func:`upsample_fill`, so no seam of
sharpness or colour), and only hole pixels are pasted: every known pixel is the input's, bit for bit.

``auto_alpha`` proposes α per image without ground truth (:mod:`.auto_alpha`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F

from ...core.dynamic import DynamicNet
from ...data.convert import ImageT, as_image_batch, as_mask_list
from ...data.geometry import check_network_pixels, pad_to_multiple, unpad
from ...data.masks import center_mask, check_mask, hole_bbox, hole_components, hole_depth
from ...errors import DynamicNetError
from ..pipeline import Pipeline
from .auto_alpha import AUTO_GRID, AutoAlphaCalibration, calibration_of, choose_alpha, proxy_scores, window_features
from .critic import AlphaCritic
from .metrics import PERCEPTUAL_TAPS
from .model import HOLE_FILL, MULTIPLE, composite, hole_fill_of, masked_input, push_pull, to_prediction

Prepared = Callable[[float], torch.Tensor]  # one working input prepared for many α (Runtime.prepare)
_MIN_SIDE = 8  # smallest padded side: the tuning blocks' reflection padding needs ≥ 2 px at H/4


class CompletionPipeline(Pipeline):
    """A loaded completion model on a device, ready to fill holes in RGB images in [0, 1].

    Args:
        model: the Dynamic-Net (θ + the "higher" block set).
        config: its model folder's ``config.json``.
        device: where the network runs (inputs and outputs are CPU tensors).
        vgg: the VGG16 feature extractor used by :meth:`auto_alpha` (loaded on first use when omitted).
        max_side: also cap each window's longer side at this many pixels while filling (less compute; the
            working scale is already chosen per hole from its depth, see :meth:`plan`). ``None``: no cap.

    Example:
        >>> pipe = CompletionPipeline.from_pretrained("completion-photos")
        >>> mask = pipe.default_mask(*image.shape[-2:])        # centre square, half the shorter side
        >>> out = pipe(image, mask, alpha=0.5)                  # (3, H, W), known pixels unchanged
        >>> a = pipe.auto_alpha(image, mask)                    # α chosen for this image
    """

    application = "completion"

    def __init__(
        self,
        model: DynamicNet,
        config: dict[str, Any],
        device: torch.device | str = "cpu",
        engine: str = "torch",
        *,
        vgg: Any | None = None,
        max_side: int | None = None,
    ) -> None:
        super().__init__(model, config, device, engine)
        self.vgg = vgg
        if max_side is not None and max_side < 8:
            raise DynamicNetError(f"max_side must be at least 8, got {max_side}")
        self.max_side = max_side

    # ------------------------------------------------------------------ masks
    @property
    def hole_ratio(self) -> float:
        """Centre-hole side / image side the model was trained with (½, as in the paper)."""
        extra = self.config.get("extra", {})
        return float(extra.get("hole", 32)) / float(extra.get("size", 64))

    @property
    def hole_fill(self) -> str:
        """What the network's input shows in the hole (``"grey"`` or ``"push-pull"``), as it was trained."""
        return hole_fill_of(self.config.get("extra", {}))

    @property
    def trained_depth(self) -> float:
        """Depth (px from the deepest hole pixel to known pixels) of the training centre hole: half its side."""
        extra = self.config.get("extra", {})
        return float(extra.get("hole", 32)) / 2

    @property
    def default_alpha(self) -> float:
        """The model's recommended single α (its best global α on calibration photos), else 0.5."""
        return float(self.config.get("extra", {}).get("default_alpha", 0.5))

    def default_hole(self, height: int, width: int) -> int:
        return max(1, round(min(height, width) * self.hole_ratio))

    def default_mask(self, height: int, width: int, hole: int | None = None) -> torch.Tensor:
        """The centre square hole, ``(1, H, W)``; its side defaults to the training ratio of the shorter side."""
        return center_mask(height, width, hole if hole is not None else self.default_hole(height, width))

    @staticmethod
    def show_hole(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The input as the network sees it: the hole painted mid-grey (for contact sheets)."""
        return image * (1 - mask) + HOLE_FILL * mask

    # ------------------------------------------------------------------ inference
    def _check(self, image: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if image.dim() != 3 or image.shape[0] != 3:
            raise DynamicNetError(f"expected an RGB image tensor (3, H, W), got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        if mask is None:
            mask = self.default_mask(h, w)
        return image.detach().to(torch.float32).cpu(), check_mask(mask.detach().cpu(), h, w)

    def plan(self, image: torch.Tensor, mask: torch.Tensor) -> list[Window]:
        """Where and at what scale each hole is filled (see :class:`Window`); largest hole first.

        Each separate hole gets a window: its bounding box grown by twice its depth (the distance from its
        deepest pixel to known pixels) on every side, clipped to the image. The window is shrunk until the hole
        is as deep as the training holes were (never enlarged) and further to ``max_side`` if set, so a 1/16-area
        hole in a 4K photo is filled at the scale the network learnt, while a thin scratch stays at full
        resolution.
        """
        h, w = image.shape[-2:]
        windows = []
        for component in hole_components(mask):
            depth = hole_depth(component)
            top, bottom, left, right = hole_bbox(component, margin=2 * depth)
            top, bottom, left, right = max(0, top), min(h, bottom), max(0, left), min(w, right)
            wh, ww = bottom - top, right - left
            scale = min(1.0, self.trained_depth / depth)
            if self.max_side is not None:
                scale = min(scale, self.max_side / max(wh, ww))
            size = (max(1, round(wh * scale)), max(1, round(ww * scale)))
            check_network_pixels(*size, "use --max-side / max_side (e.g. 1024)")
            crop, hole = image[:, top:bottom, left:right], mask[:, top:bottom, left:right]
            if size == (wh, ww):
                work_image, work_mask = crop, hole
            else:
                work_image = F.interpolate(crop[None], size=size, mode="bilinear", antialias=True, align_corners=False)[
                    0
                ].clamp(0, 1)
                # A working pixel is hole if any pixel it covers is: the fill then covers the whole hole.
                work_mask = (F.interpolate(hole[None], size=size, mode="area")[0] > 0).float()
            windows.append(
                Window((top, bottom, left, right), component[:, top:bottom, left:right] > 0, work_image, work_mask)
            )
        return windows

    def _prepare(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[Prepared, tuple[int, ...]]:
        """Pad a working image and mask alike to a multiple of 4 and run the α-independent prefix once."""
        both, pads = pad_to_multiple(torch.cat([image, mask]), MULTIPLE, min_side=_MIN_SIDE)  # (4, H', W')
        x = masked_input(both[None, :3], (both[None, 3:] > 0.5).float(), self.hole_fill).to(
            self.device
        )  # (1, 4, H', W')
        raw = self.runtime.prepare(x)
        if self.hole_fill == "grey":
            return raw, pads
        return (lambda alpha: to_prediction(raw(alpha), x, self.hole_fill)), pads

    def _fill(
        self, prepared: Prepared, pads: tuple[int, ...], image: torch.Tensor, mask: torch.Tensor, alpha: float
    ) -> torch.Tensor:
        """The working image with its hole filled at ``alpha`` (known pixels exact)."""
        pred = unpad(prepared(alpha), pads)  # (1, 3, h, w)
        return composite(image, mask, pred[0].clamp(0, 1).cpu())

    def _render(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        windows: Sequence[Window],
        prepared: Sequence[tuple[Prepared, tuple[int, ...]]],
        alpha: float,
    ) -> torch.Tensor:
        """Fill every window at ``alpha`` and paste each hole into a copy of the full-resolution image."""
        out = image.clone()
        for win, (prep, pads) in zip(windows, prepared):
            filled = self._fill(prep, pads, win.image, win.mask, alpha)
            top, bottom, left, right = win.box
            crop = image[:, top:bottom, left:right]
            if tuple(filled.shape[-2:]) != tuple(crop.shape[-2:]):
                filled = upsample_fill(filled, crop, mask[:, top:bottom, left:right])
            out[:, top:bottom, left:right] = torch.where(win.paste, filled, out[:, top:bottom, left:right])
        return out

    @torch.no_grad()
    def __call__(self, image: ImageT, mask: Any = None, alpha: float | str | None = None) -> ImageT:
        """Fill the hole of an RGB image; ``mask`` ``(1, H, W)``, 1 = hole (default: centre).

        ``image``: a float ``(3, H, W)`` tensor in [0, 1], a uint8 one, a batch ``(B, 3, H, W)`` of either, a PIL
        image, or an ``(H, W, 3)`` / ``(B, H, W, 3)`` NumPy array (uint8, or float in [0, 1]); the result is of the
        same kind and dtype (tensors on the CPU; see :mod:`dynamicnet.data.convert`). ``mask`` may be a tensor,
        an ``(H, W)`` array (bool, 0/1, 0/255) or a PIL image (white = hole), one for every image or one per image
        of a batch (:func:`~dynamicnet.data.convert.as_mask_list`).

        ``alpha`` is a number (0 = the main network's objective, 1 = the tuning blocks'), ``"auto"`` (chosen per
        image), or None for :attr:`default_alpha`. Outside the hole the result equals ``image`` exactly (for
        float64 input, to float32 precision).
        """
        batch = as_image_batch(image)
        masks = as_mask_list(mask, batch)
        return cast(ImageT, batch.restore([self._complete(x, m, alpha) for x, m in zip(batch.images, masks)]))

    def _complete(self, image: torch.Tensor, mask: torch.Tensor | None, alpha: float | str | None) -> torch.Tensor:
        """One float32 ``(3, H, W)`` image filled: see :meth:`__call__`."""
        image, mask = self._check(image, mask)
        if alpha is None:
            alpha = self.default_alpha
        if isinstance(alpha, str) and alpha != "auto":
            raise DynamicNetError(f"alpha must be a number or 'auto', got {alpha!r}")
        windows = self.plan(image, mask)
        prepared = [self._prepare(w.image, w.mask) for w in windows]
        if alpha == "auto":  # chosen on the windows just prepared, not on a second plan of the same image
            alpha = choose_alpha(self, windows[0], prepared[0])
        return self._render(image, mask, windows, prepared, float(alpha))

    def session(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> CompletionSession:
        """Prepare one image and hole for many α (the demo's slider): see :class:`CompletionSession`."""
        return CompletionSession(self, image, mask)

    @torch.no_grad()
    def sweep(
        self, image: torch.Tensor, mask: torch.Tensor | None, alphas: Sequence[float], progress: bool | None = False
    ) -> list[torch.Tensor]:
        """The same image filled at several α (the α-independent part runs once).

        ``progress``: a bar over the α values (None: only when stderr is a terminal)."""
        session = self.session(image, mask)
        return self._over_alphas(lambda a: session.render(float(a)), alphas, progress)

    # ------------------------------------------------------------------ auto α (see :mod:`.auto_alpha`)
    def _vgg(self) -> Any:
        if self.vgg is None:
            from ...losses import load_vgg16

            self.vgg = load_vgg16(taps=PERCEPTUAL_TAPS).to(self.device)
        return self.vgg

    def _largest(self, image: torch.Tensor, mask: torch.Tensor | None) -> Window:
        """The window of the largest hole: auto α judges an image there, at the scale the network fills it."""
        return self.plan(*self._check(image, mask))[0]

    @property
    def auto_calibration(self) -> AutoAlphaCalibration | AlphaCritic:
        """How the model proposes α (:func:`~.auto_alpha.calibration_of` its config)."""
        return calibration_of(self.config)

    def auto_alpha(self, image: torch.Tensor, mask: torch.Tensor | None = None, progress: bool | None = False) -> float:
        """The α this image should use, proposed without ground truth (see :mod:`.auto_alpha`).

        With a fitted critic (the bundled model's): the α whose fill the critic predicts closest to the truth.
        Otherwise the proxy-hole criterion with the model's calibration, falling back to its prior α when the hole
        leaves no room for a proxy region. ``progress``: a bar over the fills it judges (None: only on a terminal).
        """
        return choose_alpha(self, self._largest(image, mask), None, progress)

    def auto_alpha_scores(
        self, image: torch.Tensor, mask: torch.Tensor | None = None, alphas: Sequence[float] = AUTO_GRID
    ) -> list[float] | None:
        """Proxy-hole score of each α (lower is better), or None when no proxy region fits."""
        return proxy_scores(self, self._largest(image, mask), alphas)

    @torch.no_grad()
    def critic_features(self, image: torch.Tensor, mask: torch.Tensor | None, grid: Sequence[float]) -> Any:
        """:func:`~.critic.critic_features` of the largest hole, filled at each α of ``grid`` at its working scale."""
        win = self._largest(image, mask)
        return window_features(self, win, self._prepare(win.image, win.mask), grid)


@dataclass(frozen=True)
class Window:
    """One hole and the part of the image the network fills it from.

    ``box`` is ``(top, bottom, left, right)`` in the full image; ``paste`` ``(1, h, w)`` marks this hole's pixels
    in the box (the only pixels it writes); ``image`` and ``mask`` are the box at the working scale, with every
    hole in the box hidden (another hole's pixels are not known either).
    """

    box: tuple[int, int, int, int]
    paste: torch.Tensor
    image: torch.Tensor
    mask: torch.Tensor


def upsample_fill(filled: torch.Tensor, crop: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Bring a window filled at a smaller working scale back to the crop's full resolution without a seam.

    ``filled`` ``(3, h', w')`` is the working-scale image with its hole filled; ``crop`` ``(3, h, w)`` the
    full-resolution window and ``mask`` ``(1, h, w)`` its holes. Upsampling ``filled`` gives the right colours
    but only working-scale detail, so the photo around the hole would be sharper than the fill next to it. The
    detail the working scale lost is known on the known pixels (``crop`` minus the upsampled image); it is
    carried smoothly into the hole by push-pull interpolation (:func:`push_pull`), so at the hole's edge the
    fill has exactly its neighbours' detail and inside it fades to the network's fill.
    """
    up = F.interpolate(filled[None], size=tuple(crop.shape[-2:]), mode="bilinear", align_corners=False)[0]
    known = 1 - mask
    detail = push_pull((crop - up) * known, known)
    return (up + detail).clamp(0, 1)


class CompletionSession:
    """One image and hole prepared once; ``render(α)`` equals ``pipeline(image, mask, α)`` and reruns only
    the α-dependent part of the network."""

    def __init__(self, pipe: CompletionPipeline, image: torch.Tensor, mask: torch.Tensor | None) -> None:
        self.pipe = pipe
        self.image, self.mask = pipe._check(image, mask)
        self.windows = pipe.plan(self.image, self.mask)
        self._prepared = [pipe._prepare(w.image, w.mask) for w in self.windows]

    @torch.no_grad()
    def render(self, alpha: float) -> torch.Tensor:
        """The filled image ``(3, H, W)``; known pixels are the input's, bit for bit."""
        return self.pipe._render(self.image, self.mask, self.windows, self._prepared, float(alpha))

    def auto_alpha(self) -> float:
        """The α the pipeline proposes for this image (see :meth:`CompletionPipeline.auto_alpha`), judged on the
        windows this session already prepared."""
        return choose_alpha(self.pipe, self.windows[0], self._prepared[0])


__all__ = ["CompletionPipeline", "CompletionSession", "Window", "upsample_fill"]
