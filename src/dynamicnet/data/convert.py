"""Images in the forms users hold them (PIL, NumPy, tensors, batches) to the pipelines' tensors, and back.

The pipelines compute on float32 ``(3, H, W)`` tensors in [0, 1]. A caller holding a PIL image, an OpenCV- or
imageio-style ``(H, W, 3)`` uint8 array or a uint8 tensor should not have to guess the layout and scale, and
should get back the kind it gave: PIL for PIL (RGBA when the input had transparency, with the same alpha), a NumPy
array of the input's dtype for an array, a tensor of the input's dtype for a tensor, and a batch for a batch.
Integer images are scaled by their dtype's maximum (255 for uint8); float images are taken to be in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from ..errors import DynamicNetError
from .io import _has_transparency, pil_to_rgb, to_pil_image

#: What a pipeline accepts as an image; a pipeline returns the same type (see the module docstring).
ImageT = TypeVar("ImageT", Image.Image, np.ndarray, torch.Tensor)

_INT_DTYPES = (np.uint8, np.uint16)
_SHAPES = "an RGB image: a PIL image, an (H, W, 3) or (B, H, W, 3) array, or a (3, H, W) or (B, 3, H, W) tensor"


@dataclass(frozen=True)
class ImageBatch:
    """The images of one pipeline call as float32 ``(3, H, W)`` tensors in [0, 1], and how to give results back.

    Attributes:
        images: one tensor per image (a float32 tensor input is passed through as it is, not copied).
        kind: ``"tensor"``, ``"numpy"`` or ``"pil"``.
        dtype: the input's torch or NumPy dtype (None for PIL).
        batched: whether the input was a batch (results are stacked back into one).
        alpha: a PIL input's transparency ``(1, H, W)``, re-attached to the result (None: opaque).
    """

    images: list[torch.Tensor]
    kind: str
    dtype: Any = None
    batched: bool = False
    alpha: torch.Tensor | None = None

    def restore(self, outputs: Sequence[torch.Tensor]) -> Any:
        """The pipeline's results (float32 ``(3, H, W)`` in [0, 1], one per image) as the input's kind."""
        if self.kind == "pil":
            return to_pil_image(outputs[0], alpha=self.alpha)
        if self.kind == "numpy":
            arrays = [_to_array(out, self.dtype) for out in outputs]
            return np.stack(arrays) if self.batched else arrays[0]
        tensors = [_to_tensor(out, self.dtype) for out in outputs]
        return torch.stack(tensors) if self.batched else tensors[0]


def as_image_batch(image: Any) -> ImageBatch:
    """Read any image form a pipeline accepts (see the module docstring) into an :class:`ImageBatch`.

    Raises:
        DynamicNetError: one line naming the accepted forms, for any other type, layout or dtype.
    """
    if isinstance(image, Image.Image):
        loaded = pil_to_rgb(image)
        return ImageBatch([loaded.rgb], "pil", alpha=loaded.alpha)
    if isinstance(image, np.ndarray):
        if not (image.dtype in _INT_DTYPES or np.issubdtype(image.dtype, np.floating)):
            raise DynamicNetError(f"expected a uint8, uint16 or float image array, got dtype {image.dtype}")
        if image.ndim not in (3, 4) or image.shape[-1] != 3:
            hint = " (arrays are channels-last: use image.transpose(1, 2, 0))" if image.ndim == 3 else ""
            raise DynamicNetError(f"expected {_SHAPES}; got an array of shape {image.shape}{hint}")
        scaled = (
            image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
            if image.dtype in _INT_DTYPES
            else image.astype(np.float32)
        )  # a copy: the caller's array is never touched
        chw = torch.from_numpy(np.ascontiguousarray(np.moveaxis(scaled, -1, -3)))  # (…, 3, H, W)
        return _batch(chw, "numpy", image.dtype)
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8 and not image.is_floating_point():
            raise DynamicNetError(f"expected a uint8 or float image tensor, got {image.dtype}")
        if image.dim() not in (3, 4) or image.shape[-3] != 3:
            hint = (
                " (tensors are channels-first: use image.permute(2, 0, 1))"
                if image.dim() == 3 and image.shape[-1] == 3
                else ""
            )
            raise DynamicNetError(f"expected {_SHAPES}; got a tensor of shape {tuple(image.shape)}{hint}")
        floats = image.to(torch.float32) / 255 if image.dtype == torch.uint8 else image.to(torch.float32)
        return _batch(floats, "tensor", image.dtype)
    raise DynamicNetError(f"expected {_SHAPES}; got {type(image).__name__}")


def as_mask_list(mask: Any, batch: ImageBatch) -> list[torch.Tensor | None]:
    """One mask per image of ``batch`` (None: the pipeline's default), in the form the image came in.

    A mask value above 0.5 is hole: ``True``, 1, 255 or 1.0 (a PIL mask is read as grey in [0, 1], as a mask file
    is). One ``(H, W)``, ``(1, H, W)`` tensor or ``(H, W)``, ``(H, W, 1)`` array serves every image of a batch;
    a ``(B, 1, H, W)`` tensor or ``(B, H, W[, 1])`` array gives one per image. Shapes are checked by the pipeline.
    """
    n = len(batch.images)
    if mask is None:
        return [None] * n
    if isinstance(mask, Image.Image):
        grey = torch.from_numpy(np.asarray(mask.convert("L"), dtype=np.float32) / np.float32(255))
        return [grey[None]] * n
    shape = tuple(mask.shape) if isinstance(mask, (np.ndarray, torch.Tensor)) else ()
    if isinstance(mask, np.ndarray):
        if mask.ndim in (3, 4) and mask.shape[-1] == 1:
            mask = mask[..., 0]  # (…, H, W, 1) → (…, H, W)
        per_image = mask.ndim == 3
        mask = torch.from_numpy(mask.astype(np.float32))  # bool, 0/1, 0/255 and floats alike; a copy
    elif isinstance(mask, torch.Tensor):
        per_image = mask.dim() == 4
        mask = mask[:, 0] if per_image and mask.shape[1] == 1 else mask  # tensors otherwise pass as they are
    else:
        raise DynamicNetError(f"expected the mask as a PIL image, an array or a tensor; got {type(mask).__name__}")
    if not per_image:
        return [mask] * n
    if not batch.batched or len(mask) != n:
        raise DynamicNetError(
            f"a mask of shape {shape} does not fit {n} image(s): give one (H, W) mask for all, "
            "or one per image of a batch"
        )
    return list(mask.unbind(0))


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image as float32 ``(C, H, W)`` in [0, 1] with its own channels (L → 1, LA → 2, RGB → 3, RGBA → 4),
    as torchvision's ``to_tensor`` gives it; other modes become RGB, or RGBA when they carry transparency.

    This is for training data (a grey dataset stays grey); pipelines use :func:`as_image_batch` instead.
    """
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if _has_transparency(image) else "RGB")
    arr = np.asarray(image, dtype=np.float32) / np.float32(255)
    return torch.from_numpy(np.ascontiguousarray(np.atleast_3d(arr).transpose(2, 0, 1)))


def _batch(chw: torch.Tensor, kind: str, dtype: Any) -> ImageBatch:
    if chw.dim() == 3:
        return ImageBatch([chw], kind, dtype)
    if len(chw) == 0:
        raise DynamicNetError("got an empty batch (B = 0)")
    return ImageBatch(list(chw.unbind(0)), kind, dtype, batched=True)


def _to_array(out: torch.Tensor, dtype: Any) -> np.ndarray:
    """A ``(3, H, W)`` result as an ``(H, W, 3)`` array of ``dtype`` (integers rounded, not truncated)."""
    hwc = out.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
    if dtype in _INT_DTYPES:
        hwc = np.rint(np.clip(hwc, 0.0, 1.0) * np.float32(np.iinfo(dtype).max))
    return hwc.astype(dtype, copy=False)


def _to_tensor(out: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A result in the input tensor's dtype (float32 results are returned as they are)."""
    if dtype == torch.uint8:
        return out.clamp(0, 1).mul(255).round().to(torch.uint8)
    return out if out.dtype == dtype else out.to(dtype)
