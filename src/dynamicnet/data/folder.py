"""Training datasets: a recursive image folder with random crops, and a procedural stand-in for dry runs.

Resumable training has to replay exactly the same crops after a restart, and global RNGs (``random``,
``np.random``, ``torch``'s default generator, per-worker seeding) make that fragile. So the datasets here take
their randomness as an argument: ``get(index, rng)`` with a :class:`numpy.random.Generator` the trainer owns,
seeds and checkpoints. ``__getitem__`` exists for convenience and uses a fixed per-index seed.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from dynamicnet.data.io import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, load_image
from dynamicnet.errors import DynamicNetError

__all__ = ["ImageFolderDataset", "SyntheticImageDataset", "find_images", "random_square_crop"]

logger = logging.getLogger(__name__)

#: Crops flatter than this pixel standard deviation (in [0, 1] units) are redrawn when training on photo folders:
#: a crop of clear sky teaches a style net nothing and a completion net only to predict one colour.
FLAT_CROP_STD = 0.02


def find_images(root: str | os.PathLike[str], extensions: Iterable[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """All image files under ``root`` (recursively), sorted by relative POSIX path for determinism.

    Works for COCO's flat ``train2014/`` as well as nested class folders. Hidden files and folders (names
    starting with ``.``, e.g. ``.DS_Store`` or a temporary file left by an interrupted copy) are ignored;
    extensions are matched case-insensitively; symlinked folders are followed.

    Raises:
        DynamicNetError: ``root`` is missing or not a folder.
    """
    r = Path(os.path.expanduser(os.fspath(root)))
    if not r.exists():
        raise DynamicNetError(f"{r}: image folder does not exist")
    if not r.is_dir():
        raise DynamicNetError(f"{r}: is not a folder")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(r, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith(".") or os.path.splitext(fn)[1].lower() not in exts:
                continue
            full = Path(dirpath) / fn
            found.append((full.relative_to(r).as_posix(), full))
    found.sort(key=lambda t: t[0])
    return [p for _, p in found]


def random_square_crop(
    image: torch.Tensor, rng: np.random.Generator, size: int, scale: tuple[float, float], min_side: int = 1
) -> torch.Tensor:
    """One evaluation crop of ``image`` ``(3, H, W)``, drawn like the training crops: a square whose area is a
    uniform fraction ``scale`` of the largest square (side at least ``min_side``), anywhere, resized to ``size``².

    Draws three values from ``rng`` (area, row, column), so a caller that fixes the seed gets the same crops.
    """
    _, h, w = image.shape
    u, py, px = rng.random(3)
    side = min(max(min_side, round(min(h, w) * math.sqrt(scale[0] + (scale[1] - scale[0]) * u))), h, w)
    top, left = int(py * (h - side + 1)), int(px * (w - side + 1))
    crop = F.interpolate(
        image[None, :, top : top + side, left : left + side],
        size=(size, size),
        mode="bilinear",
        align_corners=False,
        antialias=side > size,
    )
    return crop[0].clamp(0, 1)


class ImageFolderDataset(Dataset):
    """Square random-resized crops from every image under a folder.

    Each sample is a float32 ``(3, size, size)`` tensor in ``[0, 1]``: a square crop whose area is a uniform
    fraction in ``scale`` of the largest square that fits the image, resized (antialiased) to ``size`` and
    flipped horizontally with probability ½ when ``hflip``. Crops are square so that photos are never
    distorted; images smaller than the crop are upscaled. Transparent images are used with their transparent
    areas white (see :func:`~dynamicnet.data.io.load_image`).

    Unreadable files (corrupt, truncated, too large, not images) are skipped, not fatal: the first failure of
    each file is reported with :func:`warnings.warn`, the path is added to :attr:`bad_paths` and the next index
    (wrapping around) is used instead, deterministically. Randomness is drawn only after an image decoded, so
    the sequence of crops for a given RNG state does not depend on which bad files were already known. Only
    if no file at all can be decoded is :class:`DynamicNetError` raised. With DataLoader workers each worker
    keeps its own copy of :attr:`bad_paths`.

    Args:
        root: folder searched recursively (see :func:`find_images`).
        size: output side length in pixels.
        scale: range of the crop area as a fraction of the largest square crop, ``0 < lo <= hi <= 1``.
        hflip: random horizontal flips.
        extensions: file extensions treated as images.
        max_pixels: per-image decode limit (guards against decompression bombs in scraped data).
        seed: seed of the per-index generator :meth:`__getitem__` uses.
        min_std: redraw a crop whose pixel standard deviation is below this (three more tries in the same image,
            then the next image, and so on).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        size: int,
        *,
        scale: tuple[float, float] = (0.5, 1.0),
        hflip: bool = True,
        extensions: Iterable[str] = IMAGE_EXTENSIONS,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        seed: int = 0,
        min_std: float = 0.0,
    ) -> None:
        if size < 1:
            raise DynamicNetError(f"crop size must be >= 1, got {size}")
        lo, hi = float(scale[0]), float(scale[1])
        if not (0.0 < lo <= hi <= 1.0):
            raise DynamicNetError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
        self.root = Path(os.path.expanduser(os.fspath(root)))
        self.size = int(size)
        self.scale = (lo, hi)
        self.hflip = bool(hflip)
        self.max_pixels = int(max_pixels)
        self.seed = int(seed)
        self.min_std = float(min_std)
        self.extensions = tuple(extensions)
        self.paths: list[Path] = find_images(self.root, self.extensions)
        if not self.paths:
            raise DynamicNetError(
                f"{self.root}: no images found (looked recursively for {', '.join(sorted(set(self.extensions)))})"
            )
        self.bad_paths: set[Path] = set()

    @property
    def skipped(self) -> int:
        """How many distinct files failed to decode so far (in this process)."""
        return len(self.bad_paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        return f"ImageFolderDataset(root={str(self.root)!r}, n={len(self)}, size={self.size}, skipped={self.skipped})"

    def _load_valid(self, index: int) -> tuple[int, torch.Tensor]:
        n = len(self.paths)
        start = index % n
        for k in range(n):
            i = (start + k) % n
            path = self.paths[i]
            if path in self.bad_paths:
                continue
            try:
                return i, load_image(path, max_pixels=self.max_pixels).rgb
            except DynamicNetError as exc:
                self.bad_paths.add(path)
                msg = f"skipping unreadable training image: {exc}"
                logger.warning(msg)
                warnings.warn(msg, stacklevel=3)
        raise DynamicNetError(f"{self.root}: none of the {n} image files could be decoded")

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """The crop for ``index`` drawn with ``rng``: ``(3, size, size)`` float32 in ``[0, 1]``.

        Draws three values from ``rng`` (scale, position, flip) per crop tried, so a trainer can checkpoint and
        restore the generator's state and replay the same stream.
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        i, img = self._load_valid(int(index))  # (3, H, W)
        crop = self._random_crop(img, rng)
        # A flat crop (a cut-out's white background, a clear sky) carries no content, and an instance-normalised
        # network fed one can blow up (a θ run went NaN on a constant crop): redraw it, from the next image after
        # a few tries.
        tries = 0
        while self.min_std > 0 and float(crop.std()) < self.min_std and tries < 4 * len(self.paths) + 8:
            tries += 1
            if tries % 4 == 0:
                i, img = self._load_valid(i + 1)
            crop = self._random_crop(img, rng)
        return crop

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        return self.get(index, np.random.default_rng([self.seed, index]))

    def _random_crop(self, img: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        _, h, w = img.shape
        u, pos, flip = rng.random(3)
        lo, hi = self.scale
        side_max = min(h, w)
        # area fraction a ~ U(lo, hi) of the largest square -> side = side_max * sqrt(a)
        side = max(1, min(side_max, round(side_max * math.sqrt(lo + (hi - lo) * u))))
        # one uniform number picks the position on the (h - side + 1) x (w - side + 1) grid of top-left corners
        ny, nx = h - side + 1, w - side + 1
        cell = min(int(pos * ny * nx), ny * nx - 1)
        top, left = divmod(cell, nx)
        crop = img[:, top : top + side, left : left + side]
        if side != self.size:
            crop = F.interpolate(
                crop[None],
                size=(self.size, self.size),
                mode="bilinear",
                align_corners=False,
                antialias=side > self.size,
            )[0].clamp(0.0, 1.0)
        else:
            crop = crop.clone()  # never hand out a view into the decoded image
        if self.hflip and flip < 0.5:
            crop = crop.flip(-1)
        return crop.contiguous()


class SyntheticImageDataset(Dataset):
    """``n`` procedural images for dry runs and tests; same ``get(index, rng)`` protocol as the folder dataset.

    Image ``index`` is a smooth random colour field (a small random grid upsampled bicubically) overlaid with
    a few soft-edged discs, rectangles and stripes, fully determined by ``(seed, index)``: it has edges,
    flat regions and gradients, which is what a perceptual loss needs to produce non-trivial gradients. The
    ``rng`` argument only draws the augmentation (a horizontal flip), mirroring the real dataset.
    """

    def __init__(self, n: int, size: int, seed: int = 0, *, hflip: bool = True) -> None:
        if n < 1:
            raise DynamicNetError(f"synthetic dataset needs n >= 1, got {n}")
        if size < 4:
            raise DynamicNetError(f"synthetic images need size >= 4, got {size}")
        self.n, self.size, self.seed, self.hflip = int(n), int(size), int(seed), bool(hflip)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"SyntheticImageDataset(n={self.n}, size={self.size}, seed={self.seed})"

    def image(self, index: int) -> torch.Tensor:
        """The un-augmented image ``index`` (``(3, size, size)`` float32 in ``[0, 1]``)."""
        g = np.random.default_rng([self.seed, int(index) % self.n, 0x5EED])
        s = self.size
        grid = torch.from_numpy(g.random((1, 3, 4, 4), dtype=np.float32))
        img = F.interpolate(grid, size=(s, s), mode="bicubic", align_corners=False)[0]  # (3, s, s)
        yy, xx = torch.meshgrid(torch.linspace(0, 1, s), torch.linspace(0, 1, s), indexing="ij")  # (s, s)
        soft = 1.5 / s  # edge width ~1.5 px, so shapes are antialiased rather than jagged
        for _ in range(int(g.integers(2, 6))):
            kind = int(g.integers(0, 3))
            colour = torch.from_numpy(g.random(3, dtype=np.float32))[:, None, None]
            if kind == 0:  # disc
                cy, cx, r = g.random(3) * np.array([1.0, 1.0, 0.3]) + np.array([0.0, 0.0, 0.05])
                d = torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) - r
            elif kind == 1:  # axis-aligned rectangle
                y0, x0 = g.random(2) * 0.7
                hh, ww = g.random(2) * 0.4 + 0.1
                d = torch.maximum(torch.abs(yy - (y0 + hh / 2)) - hh / 2, torch.abs(xx - (x0 + ww / 2)) - ww / 2)
            else:  # oriented stripes
                theta, freq, phase = g.random(3) * np.array([math.pi, 12.0, 2 * math.pi]) + np.array([0, 3.0, 0])
                wave = torch.sin(2 * math.pi * freq * (xx * math.cos(theta) + yy * math.sin(theta)) + phase)
                # stripes only inside a random box, so they read as a textured object, not the whole scene
                y0, x0 = g.random(2) * 0.6
                hh, ww = g.random(2) * 0.3 + 0.2
                box = torch.maximum(torch.abs(yy - (y0 + hh / 2)) - hh / 2, torch.abs(xx - (x0 + ww / 2)) - ww / 2)
                d = torch.maximum(-wave * 0.05, box)
            mask = torch.clamp(0.5 - d / soft, 0.0, 1.0)[None]  # (1, s, s)
            img = img * (1 - mask) + colour * mask
        return img.clamp(0.0, 1.0).contiguous()

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """Image ``index``, flipped horizontally when ``rng`` says so (one draw)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        img = self.image(index)
        if self.hflip and rng.random() < 0.5:
            img = img.flip(-1)
        return img

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -self.n <= index < self.n:
            raise IndexError(index)
        index %= self.n
        return self.get(index, np.random.default_rng([self.seed, index]))
