"""Tensor geometry around the networks: pad to the size they need and crop back, downscale, centre crops.

Images are ``(C, H, W)`` (or ``(B, C, H, W)`` where noted) float tensors; nothing here modifies its input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dynamicnet.errors import DynamicNetError

__all__ = [
    "MAX_NETWORK_PIXELS",
    "check_network_pixels",
    "max_side_size",
    "pad_to_multiple",
    "resize_max_side",
    "square_crop",
    "unpad",
]

#: Cap on the pixels a network runs at in one piece. The image networks keep several full-resolution feature maps
#: of 16–64 channels alive at once (≈ 1 GB each at this size), so a larger input ends in an allocation failure,
#: not in a picture; the pipelines refuse it up front and say which option brings it down.
MAX_NETWORK_PIXELS = 16_000_000


def check_network_pixels(h: int, w: int, hint: str) -> None:
    """Refuse a network input of ``h``×``w`` above :data:`MAX_NETWORK_PIXELS` with one line that names ``hint``."""
    if h * w > MAX_NETWORK_PIXELS:
        raise DynamicNetError(
            f"{w}×{h} is {h * w / 1e6:.1f} MP, more than the {MAX_NETWORK_PIXELS / 1e6:.0f} MP a "
            f"network runs at in one piece; {hint}"
        )


def pad_to_multiple(
    x: torch.Tensor, multiple: int, *, mode: str = "reflect", min_side: int = 0
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad ``x`` (``(C, H, W)`` or ``(B, C, H, W)``) so H and W are multiples of ``multiple``.

    The networks downsample by 4 and upsample back, so odd sizes would come back a few pixels off. Reflection
    padding (the default) continues the image's texture instead of adding a flat border the style network
    would decorate; the padding is split between the two sides (the extra pixel, if any, at the bottom/right)
    so neither edge gets all of it. When the image is too small to reflect (pad ≥ size) the padding falls back
    to replicating edge pixels. A side shorter than ``min_side`` (a multiple of ``multiple``) is padded up to it.
    Returns the padded tensor and ``pads = (left, right, top, bottom)``, the argument :func:`unpad` takes to
    crop the output back to the exact input size.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    if x.dim() not in (3, 4):
        raise ValueError(f"expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    h, w = x.shape[-2], x.shape[-1]
    ph, pw = (max(min_side, n + (-n) % multiple) - n for n in (h, w))
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if ph == 0 and pw == 0:
        return x, pads
    if mode == "reflect" and (max(pads[0], pads[1]) >= w or max(pads[2], pads[3]) >= h):
        mode = "replicate"
    batched = x if x.dim() == 4 else x[None]
    out = F.pad(batched, pads, mode=mode)
    return (out if x.dim() == 4 else out[0]), pads


def unpad(y: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """Crop what :func:`pad_to_multiple` added (``pads = (left, right, top, bottom)``); returns a view."""
    left, right, top, bottom = pads
    h, w = y.shape[-2], y.shape[-1]
    return y[..., top : h - bottom, left : w - right]


def max_side_size(h: int, w: int, max_side: int | None) -> tuple[int, int]:
    """The ``(H, W)`` :func:`resize_max_side` gives an ``h``×``w`` image (unchanged when small enough or None),
    without resampling anything."""
    if max_side is None or max(h, w) <= max_side:
        return (h, w)
    s = max_side / max(h, w)
    return (max(1, round(h * s)), max(1, round(w * s)))


def resize_max_side(x: torch.Tensor, max_side: int) -> torch.Tensor:
    """Downscale ``x`` (``(C, H, W)`` or ``(B, C, H, W)``) so its longer side is at most ``max_side``.

    Antialiased bicubic resampling (a plain bilinear downscale aliases fine texture into moiré, which a style
    network then amplifies), clamped back to ``[0, 1]`` because bicubic overshoots at edges. Images already
    small enough are returned as they are (the same tensor object; nothing is modified).
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if x.dim() not in (3, 4):
        raise ValueError(f"expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    h, w = x.shape[-2], x.shape[-1]
    if max(h, w) <= max_side:
        return x
    size = max_side_size(h, w, max_side)
    batched = x if x.dim() == 4 else x[None]
    out = F.interpolate(batched.float(), size=size, mode="bicubic", align_corners=False, antialias=True)
    out = out.clamp(0.0, 1.0).to(x.dtype)
    return out if x.dim() == 4 else out[0]


def square_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square crop of ``(C, H, W)`` resized to ``size`` — fixed, comparable inputs for every photo."""
    _, h, w = image.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = image[:, top : top + s, left : left + s][None]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
