"""Figures made of images: contact sheets with text labels (and their label fonts) and plain image grids."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from dynamicnet.data.geometry import max_side_size
from dynamicnet.data.io import ImageLike, to_pil_image
from dynamicnet.errors import DynamicNetError, first_line

__all__ = ["image_grid", "make_contact_sheet"]


def make_contact_sheet(
    images: Sequence[ImageLike] | torch.Tensor,
    labels: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    tile_size: int | None = None,
    padding: int = 8,
    font_size: int | None = None,
    font: str | os.PathLike[str] | None = None,
    background: float = 1.0,
    text_color: float = 0.0,
) -> torch.Tensor:
    """Lay ``images`` out in a grid with a text label under each tile; return a ``(3, H, W)`` float tensor.

    Used by ``dynamicnet sweep`` (one tile per α). ``tile_size`` bounds each tile's longer side (images are
    downscaled with antialiasing, never upscaled); by default tiles are as large as the largest image. Images
    smaller than their tile are centred on ``background`` (a gray level in [0, 1]). Labels are drawn with
    ``font`` (a TrueType file), else DejaVu Sans where the system has it (it has "α"), else PIL's built-in
    ``ImageFont.load_default()``, which needs no files but lacks Greek: characters a font cannot draw are
    spelled out ("α" → "alpha") rather than shown as boxes. A label too wide for its tile is cut with an
    ellipsis. ``ncols`` defaults to one row for up to 8 images, else a near-square grid.
    """
    imgs = list(images) if not isinstance(images, torch.Tensor) or images.dim() == 4 else [images]
    if not imgs:
        raise DynamicNetError("contact sheet: no images")
    if labels is not None and len(labels) != len(imgs):
        raise DynamicNetError(f"contact sheet: {len(imgs)} images but {len(labels)} labels")
    pils = [to_pil_image(im).convert("RGB") for im in imgs]
    if tile_size is not None:
        if tile_size < 1:
            raise DynamicNetError(f"contact sheet: tile_size must be >= 1, got {tile_size}")
        # never upscaled: max_side_size keeps a small image's size, and PIL resizes that to a plain copy
        pils = [im.resize(max_side_size(im.height, im.width, tile_size)[::-1], Image.Resampling.LANCZOS) for im in pils]
    tw = max(im.width for im in pils)
    th = max(im.height for im in pils)
    n = len(pils)
    if ncols is None:
        ncols = n if n <= 8 else math.ceil(math.sqrt(n))
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)

    face = None
    label_h = 0
    if labels is not None:
        face = _label_font(font_size or max(10, min(24, tw // 12)), font)
        asc, desc = _font_metrics(face)
        label_h = asc + desc + padding // 2 + 2

    bg = round(min(max(background, 0.0), 1.0) * 255)
    fg = round(min(max(text_color, 0.0), 1.0) * 255)
    cell_w, cell_h = tw + padding, th + label_h + padding
    sheet = Image.new("RGB", (ncols * cell_w + padding, nrows * cell_h + padding), (bg, bg, bg))
    draw = ImageDraw.Draw(sheet)
    for i, im in enumerate(pils):
        r, c = divmod(i, ncols)
        x0, y0 = padding + c * cell_w, padding + r * cell_h
        sheet.paste(im, (x0 + (tw - im.width) // 2, y0 + (th - im.height) // 2))
        if labels is not None and face is not None:
            text = _fit_text(draw, _drawable(str(labels[i]), face), face, tw)
            width = draw.textlength(text, font=face)
            draw.text((x0 + (tw - width) / 2, y0 + th + padding // 4 + 1), text, fill=(fg, fg, fg), font=face)
    arr = np.asarray(sheet, dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


_SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian/Ubuntu fonts-dejavu-core
    "/usr/share/fonts/TTF/DejaVuSans.ttf",  # Arch, Fedora
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
_SPELLED = {"α": "alpha", "β": "beta", "γ": "gamma", "λ": "lambda", "σ": "sigma", "→": "->", "×": "x", "…": "..."}


def _label_font(size: int, path: str | os.PathLike[str] | None):
    if path is not None:
        try:
            return ImageFont.truetype(os.fspath(path), size=size)
        except OSError as exc:
            raise DynamicNetError(f"{path}: cannot load font ({first_line(exc)})") from None
    for candidate in _SYSTEM_FONTS:
        if os.path.isfile(candidate):
            try:
                return ImageFont.truetype(candidate, size=size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def _drawable(text: str, font) -> str:
    """Replace characters ``font`` has no glyph for (they would render as the same 'missing' box)."""
    try:
        missing = font.getmask("\U0010fffd")
        missing_key = (missing.size, bytes(missing))
    except Exception:  # noqa: BLE001 - bitmap fonts: keep ASCII only
        return "".join(c if ord(c) < 128 else _SPELLED.get(c, "?") for c in text)
    out = []
    for c in text:
        if c.isspace() or ord(c) < 128:
            out.append(c)
            continue
        m = font.getmask(c)
        out.append(_SPELLED.get(c, "?") if (m.size, bytes(m)) == missing_key else c)
    return "".join(out)


def _font_metrics(font) -> tuple[int, int]:
    try:
        asc, desc = font.getmetrics()
        return int(asc), int(desc)
    except AttributeError:  # the bitmap fallback font has no metrics
        box = font.getbbox("Ag")
        return int(box[3]), 0


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…" if text else ""


def image_grid(images: torch.Tensor, nrow: int = 4, pad: int = 2) -> torch.Tensor:
    """Tile ``(N, C, H, W)`` images into one ``(C, H', W')`` image with white gutters."""
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nrows = (n + ncol - 1) // ncol
    grid = images.new_ones(c, nrows * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, ncol)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = (
            images[i]
        )
    return grid
