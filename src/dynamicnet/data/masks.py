"""Hole masks for image completion: the paper's centre square, random rectangles, free-form strokes, user PNGs.

Convention everywhere in the library: a mask is a float32 tensor ``(1, H, W)`` with **1 = hole** (pixels to
fill) and **0 = known** (pixels kept exactly). A user mask is a PNG (or any image) in which **white = hole**
and black = known; grey levels are thresholded at ½ and, if the file has transparency, transparent pixels
count as known (so a stroke painted on a transparent layer works as is).

Random masks take their randomness as an argument (a :class:`numpy.random.Generator`), like the training
datasets, so the trainer can replay exactly the same masks after a resume.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from dynamicnet.data.io import load_image
from dynamicnet.errors import DynamicNetError

__all__ = [
    "MASK_KINDS",
    "MaskedImageDataset",
    "center_mask",
    "check_mask",
    "hole_components",
    "hole_depth",
    "load_mask",
    "make_mask",
    "random_rect_mask",
    "stroke_mask",
]

#: Kinds of training mask. ``mixed`` draws centre ½, rectangle ¼, strokes ¼ per sample.
MASK_KINDS: tuple[str, ...] = ("center", "random", "strokes", "mixed")


def _default_hole(height: int, width: int) -> int:
    # The paper's figures: a 64×64 hole in a 128×128 face, i.e. half the side.
    return max(1, min(height, width) // 2)


def center_mask(height: int, width: int, hole: int | None = None) -> torch.Tensor:
    """A centred square hole of side ``hole`` (default: half the shorter side), ``(1, H, W)``."""
    _check_size(height, width)
    side = _default_hole(height, width) if hole is None else int(hole)
    if not 1 <= side <= min(height, width):
        raise DynamicNetError(f"hole side {side} must be between 1 and the image's shorter side {min(height, width)}")
    top, left = (height - side) // 2, (width - side) // 2
    mask = torch.zeros(1, height, width)
    mask[:, top : top + side, left : left + side] = 1.0
    return mask


def random_rect_mask(
    height: int, width: int, rng: np.random.Generator, side_range: tuple[float, float] = (0.25, 0.6)
) -> torch.Tensor:
    """One axis-aligned rectangle anywhere inside the image; each side a uniform fraction of that dimension.

    Draws four numbers from ``rng`` (two sides, two positions).
    """
    _check_size(height, width)
    lo, hi = side_range
    fh, fw, py, px = rng.random(4)
    h = max(1, round(height * (lo + (hi - lo) * fh)))
    w = max(1, round(width * (lo + (hi - lo) * fw)))
    top = min(int(py * (height - h + 1)), height - h)
    left = min(int(px * (width - w + 1)), width - w)
    mask = torch.zeros(1, height, width)
    mask[:, top : top + h, left : left + w] = 1.0
    return mask


def stroke_mask(
    height: int,
    width: int,
    rng: np.random.Generator,
    *,
    max_strokes: int = 4,
    max_vertices: int = 6,
    coverage: tuple[float, float] = (0.1, 0.45),
) -> torch.Tensor:
    """Free-form brush strokes (random polylines with round joints, as in DeepFill v2's training masks).

    Brush width and step length scale with the image, so a 64² and a 256² mask look alike. A mask whose hole
    covers less or more than ``coverage`` of the image is redrawn (from the same ``rng``, so still
    deterministic); too small a hole teaches nothing and a full one leaves nothing to complete from.
    """
    _check_size(height, width)
    s = min(height, width)
    for _ in range(20):
        canvas = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, max_strokes + 1))):
            x, y = rng.random() * width, rng.random() * height
            brush = max(1.0, s * (0.06 + 0.1 * rng.random()))
            angle = rng.random() * 2 * math.pi
            for _ in range(int(rng.integers(2, max_vertices + 1))):
                angle += (rng.random() - 0.5) * math.pi  # meander, at most ±90° per segment
                length = s * (0.1 + 0.25 * rng.random())
                nx = float(np.clip(x + length * math.cos(angle), 0, width - 1))
                ny = float(np.clip(y + length * math.sin(angle), 0, height - 1))
                draw.line([(x, y), (nx, ny)], fill=255, width=max(1, round(brush)))
                r = brush / 2
                draw.ellipse([nx - r, ny - r, nx + r, ny + r], fill=255)  # round joint
                x, y = nx, ny
        mask = torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0)[None].round()
        if coverage[0] <= float(mask.mean()) <= coverage[1]:
            return mask
    return mask if 0.0 < float(mask.mean()) < 1.0 else center_mask(height, width)


def make_mask(
    kind: str, height: int, width: int, rng: np.random.Generator | None = None, hole: int | None = None
) -> torch.Tensor:
    """A mask of ``kind`` (see :data:`MASK_KINDS`); ``hole`` is the centre square's side."""
    if kind not in MASK_KINDS:
        raise DynamicNetError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
    if kind == "center":
        return center_mask(height, width, hole)
    if rng is None:
        raise DynamicNetError(f"mask kind {kind!r} is random and needs an rng")
    if kind == "mixed":
        u = rng.random()
        kind = "center" if u < 0.5 else "random" if u < 0.75 else "strokes"
        if kind == "center":
            return center_mask(height, width, hole)
    if kind == "random":
        return random_rect_mask(height, width, rng)
    return stroke_mask(height, width, rng)


def check_mask(mask: torch.Tensor, height: int, width: int, source: str = "mask") -> torch.Tensor:
    """Validate a ``(1, H, W)`` (or ``(H, W)``) mask for an ``H×W`` image; return it as ``(1, H, W)`` of 0/1.

    Raises:
        DynamicNetError: one line for a size mismatch, an empty hole (nothing to do) or a full hole (nothing
            known to complete from).
    """
    if mask.dim() == 2:
        mask = mask[None]
    if mask.dim() != 3 or mask.shape[0] != 1:
        raise DynamicNetError(f"{source}: expected a (1, H, W) mask, got shape {tuple(mask.shape)}")
    mh, mw = int(mask.shape[-2]), int(mask.shape[-1])
    if (mh, mw) != (height, width):
        raise DynamicNetError(f"{source}: mask is {mw}x{mh} but the image is {width}x{height}; they must match")
    binary = (mask > 0.5).to(torch.float32)
    holes = int(binary.sum())
    if holes == 0:
        raise DynamicNetError(f"{source}: mask has no hole (white = hole, black = known); nothing to complete")
    if holes == height * width:
        raise DynamicNetError(f"{source}: mask covers the whole image; nothing is known to complete from")
    return binary


def load_mask(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> torch.Tensor:
    """Read a mask image (white = hole) as ``(1, H, W)`` of 0/1; checked against ``size = (H, W)`` if given.

    Transparent pixels count as known. Raises :class:`DynamicNetError` (one line naming the file) for an
    unreadable file, and through :func:`check_mask` for a wrong size, an empty or a full hole.
    """
    loaded = load_image(path)
    grey = loaded.rgb.mean(0, keepdim=True)  # (1, H, W)
    hole = grey >= 0.5
    if loaded.alpha is not None:
        hole = hole & (loaded.alpha >= 0.5)
    mask = hole.to(torch.float32)
    h, w = size if size is not None else mask.shape[-2:]
    return check_mask(mask, int(h), int(w), source=os.fspath(path))


class MaskedImageDataset:
    """``(image, mask)`` pairs: any ``get(index, rng)`` image dataset plus a mask drawn from the same ``rng``.

    The image is drawn first, then the mask, so the sequence is a pure function of the trainer's generator
    and resuming replays identical pairs.
    """

    def __init__(self, images: Any, kind: str = "center", hole: int | None = None) -> None:
        if kind not in MASK_KINDS:
            raise DynamicNetError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
        self.images, self.kind, self.hole = images, kind, hole

    def __len__(self) -> int:
        return len(self.images)

    @property
    def skipped(self) -> int:
        return int(getattr(self.images, "skipped", 0))

    def get(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images.get(index, rng)  # (3, H, W)
        mask = make_mask(self.kind, image.shape[-2], image.shape[-1], rng, self.hole)  # (1, H, W)
        return image, mask


def _check_size(height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise DynamicNetError(f"mask size must be positive, got {width}x{height}")


# ---------------------------------------------------------------------------------------------- geometry
def hole_components(mask: torch.Tensor, max_grid: int = 256) -> list[torch.Tensor]:
    """Split a ``(1, H, W)`` mask into its separate holes, each a ``(1, H, W)`` mask (largest first).

    Holes closer than about one grid cell (``max(H, W) / max_grid`` px) count as one, so the strokes of one
    scribble stay together while holes far apart are filled independently, each at its own scale. Labelling
    runs on that coarse grid (at most ``max_grid²`` cells), so a 24 MP mask costs what a 256² one does.
    """
    h, w = mask.shape[-2:]
    cell = max(1, math.ceil(max(h, w) / max_grid))
    coarse = F.max_pool2d(mask[None], cell, cell, ceil_mode=True)[0, 0] > 0  # (h', w')
    grown = F.max_pool2d(coarse[None, None].float(), 3, 1, 1)[0, 0] > 0  # bridge one-cell gaps
    labels = _label(grown.numpy())
    out = []
    for k in range(1, int(labels.max()) + 1):
        cells = torch.from_numpy(labels == k) & coarse
        region = cells.repeat_interleave(cell, 0).repeat_interleave(cell, 1)[:h, :w]
        component = mask * region[None].to(mask.dtype)
        if component.any():
            out.append(component)
    return sorted(out, key=lambda m: -float(m.sum()))


def _label(grid: np.ndarray) -> np.ndarray:
    """4-connected component labels (1, 2, …; 0 = background) of a boolean grid, by breadth-first search."""
    labels = np.zeros(grid.shape, dtype=np.int32)
    h, w = grid.shape
    current = 0
    for y0, x0 in zip(*np.nonzero(grid)):
        if labels[y0, x0]:
            continue
        current += 1
        labels[y0, x0] = current
        queue = [(int(y0), int(x0))]
        while queue:
            y, x = queue.pop()
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and grid[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = current
                    queue.append((ny, nx))
    return labels


def hole_bbox(mask: torch.Tensor, margin: int = 0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), exclusive ends, of a mask's non-zero pixels, grown by ``margin``."""
    ys = torch.nonzero(mask[0].any(1)).flatten()
    xs = torch.nonzero(mask[0].any(0)).flatten()
    h, w = mask.shape[-2:]
    return (
        max(0, int(ys[0]) - margin),
        min(h, int(ys[-1]) + 1 + margin),
        max(0, int(xs[0]) - margin),
        min(w, int(xs[-1]) + 1 + margin),
    )


def hole_depth(mask: torch.Tensor, max_grid: int = 256) -> int:
    """How far, in pixels, the deepest hole pixel lies from the nearest known pixel (chessboard distance).

    This, not the hole's bounding box, is what makes a hole hard: a long thin stroke is shallow everywhere and
    a network fills it at full resolution, while a square of side s is s/2 deep. Measured by eroding the hole
    one pixel at a time on a grid of at most ``max_grid`` cells per side (so exact for small masks, within a
    cell for large ones). Pixels outside the image count as unknown.
    """
    h, w = mask.shape[-2:]
    cell = max(1, math.ceil(max(h, w) / max_grid))
    # A coarse cell is hole when most of it is: thin strokes below a cell's width then measure as shallow.
    coarse = F.avg_pool2d(mask[None].float(), cell, cell, ceil_mode=True)[0, 0] if cell > 1 else mask[0].float()
    hole = coarse.numpy() > 0.5
    if hole.all():
        return max(h, w)  # nothing known: as deep as the image
    # NumPy, not torch: a hundred tiny single-threaded steps, where a busy torch thread pool costs seconds.
    depth = 0
    while hole.any():
        k = np.pad(~hole, 1)  # outside the image: not known
        # a known 8-neighbour: nine shifted slices ORed (a strided 3×3 window view's .any() is ~20× slower)
        grown = (
            k[1:-1, 1:-1]
            | k[:-2, 1:-1]
            | k[2:, 1:-1]
            | k[1:-1, :-2]
            | k[1:-1, 2:]
            | k[:-2, :-2]
            | k[:-2, 2:]
            | k[2:, :-2]
            | k[2:, 2:]
        )
        hole &= ~grown
        depth += 1
    return depth * cell
