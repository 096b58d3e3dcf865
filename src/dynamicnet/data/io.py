"""Image decoding and encoding for users' photos, training data and result figures.

Everything here is written for files a user hands us: the loader accepts the well-formed oddities real photos
come in (EXIF rotation, CMYK, 16-bit, palettes, transparency, ICC profiles) and turns every bad input (missing,
empty, not an image, truncated, absurdly large) into a one-line :class:`~dynamicnet.errors.DynamicNetError`
that names the file, never a traceback. Writers are atomic (temporary file + rename), so an interrupted run
never leaves a half-written image that a later run would trip over. Animations are written by
:mod:`~dynamicnet.data.animation`, contact sheets drawn by :mod:`~dynamicnet.data.figures`.

Tensor convention: images are float32 ``(C, H, W)`` in ``[0, 1]`` (a leading batch dimension of 1 is accepted
where noted); NumPy arrays are ``(H, W)`` or ``(H, W, C)`` as every image library returns them.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageCms, UnidentifiedImageError

from dynamicnet.errors import DynamicNetError, first_line
from dynamicnet.utils.fs import atomic_path

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "SAVE_FORMATS",
    "LoadedImage",
    "decode_image",
    "load_image",
    "pil_to_rgb",
    "save_image",
    "to_pil_image",
]

#: Default cap on decoded pixels (≈ a 7700×5200 photo). A 40 MP float32 RGB tensor is already ~480 MB, so
#: anything bigger is far more likely a decompression bomb or a mistake than a photo to stylise.
DEFAULT_MAX_PIXELS = 40_000_000

#: Extensions the folder dataset treats as images (lower case, with the dot).
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".bmp",
    ".tif",
    ".tiff",
    ".gif",
    ".ppm",
    ".pgm",
    ".pnm",
)

# extension -> (PIL format name, whether the format can store an alpha channel)
SAVE_FORMATS: dict[str, tuple[str, bool]] = {
    ".png": ("PNG", True),
    ".jpg": ("JPEG", False),
    ".jpeg": ("JPEG", False),
    ".webp": ("WEBP", True),
    ".bmp": ("BMP", False),
    ".tif": ("TIFF", True),
    ".tiff": ("TIFF", True),
}

ImageLike = torch.Tensor | np.ndarray | Image.Image


class LoadedImage(NamedTuple):
    """A decoded image: ``rgb`` float32 ``(3, H, W)`` in ``[0, 1]``; ``alpha`` ``(1, H, W)`` or ``None``.

    A named tuple so that both ``img.rgb`` and ``rgb, alpha = load_image(p)`` read naturally. Alpha is kept
    apart because the networks see RGB only; callers that want transparency back pass it to
    :func:`save_image`.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None


# --------------------------------------------------------------------------------------------------- loading


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode the image file at ``path`` into an RGB tensor (and its alpha channel, if it has one).

    Handled as a user would expect: EXIF orientation is applied; CMYK, palette, grayscale and YCbCr images
    become RGB; an embedded ICC profile is converted to sRGB; 16-bit PNG/TIFF keep their precision (scaled by
    65535); of an animated/multi-page file the first frame is used. Where the image has transparency (RGBA,
    LA, a palette or PNG ``tRNS`` transparency) ``alpha`` is returned separately; the RGB of *fully*
    transparent pixels is undefined in most files (often black), so it is set to white, while partially
    transparent pixels keep their stored (straight, not premultiplied) colour so that re-attaching the alpha
    later reproduces the original edges without a halo.

    Raises:
        DynamicNetError: one line naming the file, for a missing path, a directory, an empty file, a file
            that is not an image, a truncated or corrupt image, or one with more than ``max_pixels`` pixels
            (checked from the header, before anything is decoded).
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    name = str(p)
    if not p.exists():
        raise DynamicNetError(f"{name}: no such file")
    if p.is_dir():
        raise DynamicNetError(f"{name}: is a directory, not an image file")
    try:
        if p.stat().st_size == 0:
            raise DynamicNetError(f"{name}: file is empty (0 bytes)")
        with open(p, "rb") as fh:
            return _decode(fh, name=name, max_pixels=max_pixels, file_path=p)
    except OSError as exc:
        # stat() or open() failing (permissions, a FIFO that vanished, ...); decoding errors are mapped inside.
        raise DynamicNetError(f"{name}: cannot read file ({exc.strerror or exc})") from None


def decode_image(data: bytes, *, name: str = "<image data>", max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Like :func:`load_image`, for an image already in memory (e.g. an upload); ``name`` labels errors."""
    if not data:
        raise DynamicNetError(f"{name}: no data (0 bytes)")
    return _decode(io.BytesIO(data), name=name, max_pixels=max_pixels, file_path=None)


def _decode(fh, *, name: str, max_pixels: int, file_path: Path | None) -> LoadedImage:
    with warnings.catch_warnings():
        # We enforce our own, smaller pixel limit from the header below, and a damaged file ends in one clear
        # error: Pillow's warnings (decompression bombs, "Corrupt EXIF data" …) would only be stderr noise.
        warnings.simplefilter("ignore")
        try:
            im = Image.open(fh)
        except Image.DecompressionBombError:
            raise DynamicNetError(
                f"{name}: image dimensions are implausibly large (refusing to decode a possible decompression bomb)"
            ) from None
        except UnidentifiedImageError:
            raise DynamicNetError(f"{name}: not an image, or an image format that is not supported") from None
        except Exception as exc:  # noqa: BLE001 - any parser failure on user input is a user-facing error
            raise DynamicNetError(f"{name}: cannot read image header ({first_line(exc)})") from None

        width, height = im.size
        if width <= 0 or height <= 0:
            raise DynamicNetError(f"{name}: image has an empty size {width}x{height}")
        if width * height > max_pixels:
            raise DynamicNetError(
                f"{name}: image is {width}x{height} = {width * height:,} pixels, more than the limit of "
                f"{max_pixels:,} (possible decompression bomb; raise max_pixels to allow it)"
            )
        high_bit = _is_high_bit_colour(im)
        try:
            im.load()  # force a full decode: truncated/corrupt data fails here, not later in a worker
        except Exception as exc:  # noqa: BLE001
            raise DynamicNetError(f"{name}: truncated or corrupt image ({first_line(exc)})") from None
        orientation = _exif_orientation(im)
    try:
        rgb, alpha = _to_float_arrays(im, name)
        if high_bit:
            # PIL decodes 16-bit RGB(A) to 8 bits; re-decode losslessly with ffmpeg when it is at hand.
            wide = _decode_16bit_colour(fh, file_path, width, height, has_alpha=alpha is not None)
            if wide is not None:
                rgb, alpha = wide
    except DynamicNetError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DynamicNetError(f"{name}: cannot convert image to RGB ({first_line(exc)})") from None

    rgb = _apply_orientation(rgb, orientation)
    return _loaded(rgb, None if alpha is None else _apply_orientation(alpha, orientation))


def pil_to_rgb(im: Image.Image, name: str = "image") -> LoadedImage:
    """An in-memory PIL image as :func:`load_image` returns a file (modes, 16-bit grey, transparency handled
    alike), except that EXIF orientation is not applied: the caller's image keeps the geometry it has."""
    try:
        return _loaded(*_to_float_arrays(im, name))
    except Exception as exc:  # noqa: BLE001 - any conversion failure of a user's image is a user-facing error
        raise DynamicNetError(f"{name}: cannot convert image to RGB ({first_line(exc)})") from None


def _loaded(rgb: np.ndarray, alpha: np.ndarray | None) -> LoadedImage:
    """(H, W, 3) RGB and (H, W) alpha arrays in [0, 1] as a :class:`LoadedImage`."""
    if alpha is not None:
        rgb = np.where(alpha[..., None] <= 0.0, np.float32(1.0), rgb)  # undefined RGB under alpha=0 -> white
        if np.all(alpha >= 1.0):
            alpha = None  # an all-opaque alpha channel carries no information; spare callers the bookkeeping
    rgb_t = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))  # (3, H, W)
    alpha_t = None if alpha is None else torch.from_numpy(np.ascontiguousarray(alpha[None], dtype=np.float32))
    return LoadedImage(rgb_t, alpha_t)


def _has_transparency(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _tile_rawmode(im: Image.Image) -> str:
    try:
        args = im.tile[0].args if hasattr(im.tile[0], "args") else im.tile[0][3]
    except (IndexError, AttributeError, TypeError):
        return ""
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return ""


def _is_high_bit_colour(im: Image.Image) -> bool:
    # PIL has no 16-bit colour modes: a 16-bit RGB(A)/LA file opens as 8-bit with a raw mode like "RGB;16B".
    return im.mode in ("RGB", "RGBA", "LA") and ";16" in _tile_rawmode(im)


def _to_float_arrays(im: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) float32 RGB in [0, 1] and (H, W) float32 alpha or None, before orientation."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        # 16-bit grayscale (PNG/TIFF); mode "I" is how some Pillow versions open 16-bit PNG. Scale by 65535.
        g = np.asarray(im).astype(np.float32) / 65535.0
        g = np.clip(g, 0.0, 1.0)
        return np.repeat(g[..., None], 3, axis=2), None
    if mode == "F":
        # Floating-point TIFF: assumed to be in [0, 1] already (values outside are clipped, not rescaled).
        g = np.clip(np.nan_to_num(np.asarray(im, dtype=np.float32)), 0.0, 1.0)
        return np.repeat(g[..., None], 3, axis=2), None

    if _has_transparency(im):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return rgba[..., :3], rgba[..., 3]
    if mode in ("RGB", "CMYK") and im.info.get("icc_profile"):
        im = _icc_to_srgb(im)
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0, None


_SRGB_PROFILE = None


def _icc_to_srgb(im: Image.Image) -> Image.Image:
    """Convert an RGB/CMYK image with an embedded ICC profile to sRGB; on any failure fall back to plain."""
    global _SRGB_PROFILE
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        if im.mode == "RGB" and "srgb" in (ImageCms.getProfileDescription(src) or "").lower():
            return im
        if _SRGB_PROFILE is None:
            _SRGB_PROFILE = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(im, src, _SRGB_PROFILE, outputMode="RGB")
        return out if out is not None else im
    except Exception:  # noqa: BLE001 - a broken profile must not make a viewable photo unloadable
        return im


def _decode_16bit_colour(
    fh, file_path: Path | None, width: int, height: int, *, has_alpha: bool
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Decode a 16-bit colour image at full precision with the ffmpeg binary shipped by imageio-ffmpeg.

    Returns None (the caller keeps PIL's 8-bit result) when ffmpeg is unavailable or fails.
    """
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001
        warnings.warn("16-bit colour image decoded at 8 bits (imageio-ffmpeg unavailable)", stacklevel=4)
        return None
    tmp: str | None = None
    try:
        if file_path is None:
            fh.seek(0)
            with tempfile.NamedTemporaryFile(delete=False, suffix=".img") as out:
                out.write(fh.read())
                tmp = out.name
        src = str(file_path) if file_path is not None else tmp
        pix_fmt, channels = ("rgba64le", 4) if has_alpha else ("rgb48le", 3)
        args = [exe, "-v", "error", "-nostdin", "-i", src, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
        proc = subprocess.run(args, capture_output=True, check=False, timeout=120)
        expected = width * height * channels * 2
        if proc.returncode != 0 or len(proc.stdout) != expected:
            warnings.warn("16-bit colour image decoded at 8 bits (ffmpeg could not decode it)", stacklevel=4)
            return None
        arr = np.frombuffer(proc.stdout, dtype="<u2").reshape(height, width, channels).astype(np.float32) / 65535.0
        return (arr[..., :3], arr[..., 3]) if has_alpha else (arr, None)
    except Exception:  # noqa: BLE001
        return None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _exif_orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - corrupt EXIF should not reject an otherwise fine photo
        return 1
    return value if 1 <= value <= 8 else 1


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W[, C]) array, matching ``PIL.ImageOps.exif_transpose``."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:  # transpose (swap x and y)
        return a.swapaxes(0, 1)
    if orientation == 6:  # stored rotated 90° CCW: rotate 90° clockwise to display
        return np.rot90(a, -1)
    if orientation == 7:  # transverse
        return np.rot90(a, 2).swapaxes(0, 1)
    if orientation == 8:  # rotate 90° counter-clockwise
        return np.rot90(a, 1)
    return a


# --------------------------------------------------------------------------------------------------- saving


def _to_hwc_float(image: ImageLike, what: str) -> np.ndarray:
    """Any supported image value -> (H, W, C) float32 array in [0, 1] (C in 1, 3, 4), without touching input."""
    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if _has_transparency(image) else "RGB")
        arr = np.asarray(image, dtype=np.float32) / 255.0
        return arr[..., None] if arr.ndim == 2 else arr
    if isinstance(image, torch.Tensor):
        t = image.detach().to("cpu", torch.float32)  # a copy where needed; never modified in place below
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() == 2:
            t = t[None]
        if t.dim() != 3 or t.shape[0] not in (1, 3, 4):
            raise DynamicNetError(
                f"{what}: expected a (C, H, W) tensor with C in 1, 3, 4; got shape {tuple(image.shape)}"
            )
        arr = t.permute(1, 2, 0).numpy()
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise DynamicNetError(f"{what}: expected an (H, W) or (H, W, C) array with C in 1, 3, 4; got {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif arr.dtype == np.uint16:
            arr = arr.astype(np.float32) / 65535.0
        else:
            arr = arr.astype(np.float32)
    else:
        raise DynamicNetError(f"{what}: expected a tensor, NumPy array or PIL image, got {type(image).__name__}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DynamicNetError(f"{what}: image is empty ({arr.shape[0]}x{arr.shape[1]})")
    return np.clip(np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _quantize8(arr: np.ndarray) -> np.ndarray:
    return np.rint(arr * 255.0).astype(np.uint8)


def to_pil_image(image: ImageLike, *, alpha: ImageLike | None = None) -> Image.Image:
    """Convert a ``(C, H, W)`` tensor / ``(H, W, C)`` array / PIL image to an 8-bit PIL image.

    Values are clamped to ``[0, 1]`` (NaN → 0) and rounded, not truncated, to uint8. ``alpha``
    (``(1, H, W)``/``(H, W)``) is attached as an alpha channel.
    """
    arr = _to_hwc_float(image, "image")
    if alpha is not None:
        a = _to_hwc_float(alpha, "alpha")
        if a.shape[:2] != arr.shape[:2]:
            raise DynamicNetError(f"alpha size {a.shape[1]}x{a.shape[0]} != image size {arr.shape[1]}x{arr.shape[0]}")
        rgb = arr[..., :3] if arr.shape[2] >= 3 else np.repeat(arr, 3, axis=2)
        arr = np.concatenate([rgb, a[..., :1]], axis=2)
    u8 = _quantize8(arr)
    if u8.shape[2] == 1:
        return Image.fromarray(u8[..., 0], mode="L")
    return Image.fromarray(u8, mode="RGBA" if u8.shape[2] == 4 else "RGB")


def _check_save_path(path: str | os.PathLike[str], formats: Sequence[str]) -> Path:
    p = Path(os.path.expanduser(os.fspath(path)))
    ext = p.suffix.lower()
    if ext not in formats:
        raise DynamicNetError(f"{p}: unsupported output extension {ext or '(none)'!r}; use one of {', '.join(formats)}")
    if p.exists() and p.is_dir():
        raise DynamicNetError(f"{p}: is a directory")
    return p


def save_image(
    image: ImageLike,
    path: str | os.PathLike[str],
    *,
    alpha: ImageLike | None = None,
    quality: int = 95,
) -> Path:
    """Write ``image`` to ``path`` atomically, in the format its extension names; return the path.

    ``image`` is a float ``(C, H, W)`` tensor in ``[0, 1]`` (C = 1, 3 or 4, or ``(1, C, H, W)``), an
    ``(H, W[, C])`` NumPy array (uint8, uint16 or float in ``[0, 1]``) or a PIL image. Values are clamped and
    rounded to 8 bits. ``alpha`` is attached when the format stores it (PNG, WebP, TIFF) and dropped for
    JPEG/BMP. ``quality`` applies to JPEG and WebP; JPEGs at quality ≥ 90 keep full chroma resolution, since
    stylised images are full of saturated detail that 4:2:0 subsampling smears.

    The file is first written next to the target and renamed over it, so a failure leaves neither a partial
    file nor a temporary one. An unsupported extension raises :class:`DynamicNetError` before anything is
    written.
    """
    p = _check_save_path(path, tuple(SAVE_FORMATS))
    fmt, keeps_alpha = SAVE_FORMATS[p.suffix.lower()]
    pil = to_pil_image(image, alpha=alpha)
    if not keeps_alpha and pil.mode == "RGBA":
        pil = pil.convert("RGB")
    kwargs: dict[str, object] = {}
    if fmt == "JPEG":
        kwargs = {"quality": int(quality), "subsampling": 0 if quality >= 90 else 2, "optimize": False}
    elif fmt == "WEBP":
        kwargs = {"quality": int(quality), "method": 4}
    elif fmt == "PNG":
        kwargs = {"compress_level": 6}
    elif fmt == "TIFF":
        kwargs = {"compression": "tiff_deflate"}
    with atomic_path(p) as tmp:
        pil.save(tmp, format=fmt, **kwargs)
    return p
