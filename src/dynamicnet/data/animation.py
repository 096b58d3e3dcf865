"""Animations (e.g. an α walk) as GIF, WebP or MP4, written atomically, and the one H.264 writer."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dynamicnet.data.io import ImageLike, _check_save_path, to_pil_image
from dynamicnet.errors import DynamicNetError, require
from dynamicnet.utils.fs import atomic_path

__all__ = ["ANIMATION_FORMATS", "h264_writer", "save_animation", "save_gif"]

#: Extensions :func:`save_animation` writes.
ANIMATION_FORMATS: tuple[str, ...] = (".gif", ".webp", ".mp4")


def save_animation(
    frames: Sequence[ImageLike],
    path: str | os.PathLike[str],
    *,
    duration_ms: int = 100,
    loop: int = 0,
    quality: int = 90,
) -> Path:
    """Write ``frames`` (e.g. an α walk) as an animation, atomically; the extension picks the format.

    ``.gif`` (each frame quantised to its own 256-colour palette with dithering), ``.webp`` (animated, lossy at
    ``quality``) or ``.mp4`` (H.264 through the ffmpeg binary of imageio-ffmpeg; odd sizes are padded by one
    edge pixel because yuv420p needs even dimensions). All frames must have the same size. ``loop=0`` loops
    forever (GIF/WebP).
    """
    p = _check_save_path(path, ANIMATION_FORMATS)
    if len(frames) == 0:
        raise DynamicNetError(f"{p}: no frames to write")
    if duration_ms <= 0:
        raise DynamicNetError(f"{p}: duration_ms must be positive, got {duration_ms}")
    pils = [to_pil_image(f).convert("RGB") for f in frames]
    sizes = {im.size for im in pils}
    if len(sizes) != 1:
        raise DynamicNetError(f"{p}: all frames must have the same size, got {sorted(sizes)}")
    ext = p.suffix.lower()
    with atomic_path(p) as tmp:
        common = {"save_all": True, "duration": int(duration_ms), "loop": int(loop)}
        if ext == ".gif":
            dither = Image.Dither.FLOYDSTEINBERG
            q = [im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=dither) for im in pils]
            q[0].save(tmp, format="GIF", append_images=q[1:], disposal=1, optimize=False, **common)
        elif ext == ".webp":
            pils[0].save(tmp, format="WEBP", append_images=pils[1:], quality=int(quality), method=4, **common)
        else:
            with h264_writer(tmp, pils[0].size, fps=1000.0 / duration_ms, purpose="writing .mp4 animations") as send:
                for im in pils:
                    send(np.asarray(im, dtype=np.uint8))
    return p


#: Alias kept for readability at call sites that only ever write GIFs; accepts the same extensions.
save_gif = save_animation


@contextlib.contextmanager
def h264_writer(
    path: str | os.PathLike[str], size: tuple[int, int], *, fps: float, purpose: str, **params: Any
) -> Iterator[Callable[[np.ndarray], None]]:
    """Encode H.264 to ``path`` with the ffmpeg binary of imageio-ffmpeg; yields ``send(frame)``.

    Frames are ``(H, W, 3)`` uint8 arrays of ``size = (W, H)``; an odd width or height is padded by one edge
    pixel because yuv420p needs even dimensions. ``purpose`` names the caller if imageio-ffmpeg is missing;
    ``params`` go to ``imageio_ffmpeg.write_frames`` (e.g. an audio track).
    """
    imageio_ffmpeg = require("imageio_ffmpeg", "video", purpose)
    w, h = size
    ew, eh = w + (w % 2), h + (h % 2)
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (ew, eh),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        quality=8,
        ffmpeg_log_level="error",
        **params,
    )

    def send(frame: np.ndarray) -> None:
        if (ew, eh) != (w, h):
            frame = np.pad(frame, ((0, eh - h), (0, ew - w), (0, 0)), mode="edge")
        writer.send(np.ascontiguousarray(frame))

    try:
        writer.send(None)  # prime the generator
        yield send
    finally:
        writer.close()
