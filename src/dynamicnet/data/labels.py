"""Labelled images: a table of per-image attributes, and an image folder labelled by a CSV file.

Attribute-conditioned applications (Dynamic-Net's DCGAN: θ on the images with ``a = v``, the tuning blocks on
those with ``a ≠ v``) need three things from a dataset: its images, a table of attributes, and a way to pick
the images whose attribute has a value. :class:`LabelTable` is that table, shared by every labelled source
(CelebA, Fashion-MNIST, a folder + CSV); it turns a misspelt attribute or value into one line that lists the
valid ones, because with 40 CelebA attributes the user cannot be expected to remember their spelling.

Sources follow the trainer's protocol: ``len(source)`` and ``source.get(index, rng)`` returning a float32
``(C, size, size)`` tensor in ``[0, 1]``, with all randomness (only the optional flip) drawn from ``rng``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dynamicnet.data.io import DEFAULT_MAX_PIXELS, load_image
from dynamicnet.errors import DynamicNetError

__all__ = ["FILE_COLUMNS", "LabelTable", "LabelledImageFolder", "center_crop_resize", "normalise_value"]

#: Column names taken to hold the image file name in a label CSV (else its first column is).
FILE_COLUMNS = ("file", "filename", "file_name", "image", "image_id", "path", "name")

_MAX_LISTED_VALUES = 20


def normalise_value(value: Any) -> str:
    """Canonical form used to compare attribute values: numbers by value (``"1" == "+1" == "1.0"``), other
    text case-insensitively with spaces and hyphens read as underscores (``"Ankle boot" == "ankle_boot"``)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text.lower().replace(" ", "_").replace("-", "_")
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return repr(number)


class LabelTable:
    """Per-image attributes: ``attributes[name][i]`` is image ``i``'s value of attribute ``name``.

    Values are kept as given (ints for CelebA's ±1, strings for class names and CSV cells) and compared through
    :func:`normalise_value`.

    Args:
        attributes: attribute name → one value per image.
        source: how to name the data in error messages (a path or ``"Fashion-MNIST"``).
    """

    def __init__(self, attributes: Mapping[str, Sequence[Any] | np.ndarray], source: str) -> None:
        lengths = {len(v) for v in attributes.values()}
        if len(lengths) > 1:
            raise DynamicNetError(f"{source}: attributes have different lengths {sorted(lengths)}")
        self.attributes = {k: np.asarray(v) for k, v in attributes.items()}
        self.source = source
        self.n = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self.n

    @property
    def names(self) -> list[str]:
        return list(self.attributes)

    def resolve(self, attribute: str) -> str:
        """The attribute's exact name: an exact match, else the unique case-insensitive one (``male`` → ``Male``).

        Raises:
            DynamicNetError: unknown attribute; the message lists the valid ones.
        """
        if attribute in self.attributes:
            return attribute
        folded = [a for a in self.attributes if a.lower() == attribute.lower()]
        if len(folded) == 1:
            return folded[0]
        valid = ", ".join(self.attributes) or "none"
        raise DynamicNetError(f"{self.source}: unknown attribute {attribute!r}; valid attributes: {valid}")

    def distinct(self, attribute: str) -> list[str]:
        """The attribute's distinct values (normalised, sorted numerically where they are numbers)."""
        values = {normalise_value(v) for v in self.attributes[self.resolve(attribute)]}

        def key(v: str) -> tuple[int, float, str]:
            try:
                return (0, float(v), "")
            except ValueError:
                return (1, 0.0, v)

        return sorted(values, key=key)

    def mask(self, attribute: str, value: Any) -> np.ndarray:
        """Boolean ``(N,)``: which images have ``attribute == value``.

        Raises:
            DynamicNetError: unknown attribute, or a value no image has (the message lists the values present).
        """
        name = self.resolve(attribute)
        wanted = normalise_value(value)
        column = self.attributes[name]
        hits = np.fromiter((normalise_value(v) == wanted for v in column), dtype=bool, count=len(column))
        if not hits.any():
            present = self.distinct(name)
            shown = ", ".join(present[:_MAX_LISTED_VALUES]) + (" …" if len(present) > _MAX_LISTED_VALUES else "")
            raise DynamicNetError(f"{self.source}: no image has {name} = {value!r}; values present: {shown}")
        return hits


def center_crop_resize(image: torch.Tensor, size: int, crop: int | None = None) -> torch.Tensor:
    """Centre square crop (``crop`` px, or the largest square when ``None``/too large) resized to ``size``.

    This is the CelebA convention of the DCGAN literature (crop 108 px around the centre of the aligned
    178×218 face, resize to 64). ``image`` is ``(C, H, W)``; a new tensor is returned.
    """
    _, h, w = image.shape
    side = min(h, w) if crop is None else min(crop, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    out = image[:, top : top + side, left : left + side]  # a view: never hand it out (callers may edit it)
    if side == size:
        return out.clone(memory_format=torch.contiguous_format)
    return F.interpolate(out[None], size=(size, size), mode="bilinear", align_corners=False, antialias=side > size)[
        0
    ].clamp(0.0, 1.0)


class LabelledImageFolder:
    """Images under a folder, labelled by a CSV file: the generic attribute split.

    The CSV has a header row; the column named one of :data:`FILE_COLUMNS` (else the first column) holds each
    image's path relative to ``root``; every other column is an attribute. Rows may list a subset of the
    folder's images. Every listed file must exist (checked up front, so a typo fails before training starts).

    Each sample is the centre square (``crop`` px, default the largest) resized to ``size``, RGB, optionally
    flipped horizontally with probability ½ (drawn from ``rng``).

    Args:
        root: the image folder.
        labels: the CSV file (default ``root/labels.csv``).
        size: output side in pixels.
        crop: centre crop side before resizing (``None``: the largest square).
        hflip: random horizontal flips.
    """

    channels = 3

    def __init__(
        self,
        root: str | os.PathLike[str],
        labels: str | os.PathLike[str] | None = None,
        *,
        size: int = 64,
        crop: int | None = None,
        hflip: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.root = Path(os.path.expanduser(os.fspath(root)))
        if not self.root.is_dir():
            raise DynamicNetError(f"{self.root}: image folder does not exist")
        self.csv_path = Path(labels) if labels is not None else self.root / "labels.csv"
        if not self.csv_path.is_file():
            raise DynamicNetError(
                f"{self.csv_path}: label CSV not found (a header row, then one row per image: "
                "file,attribute1,attribute2,…)"
            )
        if size < 1:
            raise DynamicNetError(f"image size must be ≥ 1, got {size}")
        self.size, self.crop, self.hflip, self.max_pixels = int(size), crop, bool(hflip), int(max_pixels)
        files, columns = _read_label_csv(self.csv_path)
        self.paths = [self.root / f for f in files]
        missing = [f for f, p in zip(files, self.paths) if not p.is_file()]
        if missing:
            raise DynamicNetError(
                f"{self.csv_path}: {len(missing)} listed image(s) missing under {self.root} (first: {missing[0]})"
            )
        self.labels = LabelTable(columns, str(self.csv_path))

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def description(self) -> str:
        return f"folder {self.root} labelled by {self.csv_path.name} ({len(self)} images)"

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """Image ``index`` as ``(3, size, size)`` float32 in ``[0, 1]``; one draw from ``rng`` (the flip)."""
        image = load_image(self.paths[index], max_pixels=self.max_pixels).rgb
        out = center_crop_resize(image, self.size, self.crop)
        flip = rng.random() < 0.5
        return out.flip(-1) if self.hflip and flip else out


def _read_label_csv(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DynamicNetError(f"{path}: cannot read the label CSV ({exc})") from None
    if len(rows) < 2:
        raise DynamicNetError(f"{path}: expected a header row and at least one image row")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2 or len(set(header)) != len(header):
        raise DynamicNetError(
            f"{path}: the header needs a file column and at least one attribute, all distinct (got {header})"
        )
    lowered = [h.lower() for h in header]
    file_col = next((lowered.index(c) for c in FILE_COLUMNS if c in lowered), 0)
    files: list[str] = []
    columns: dict[str, list[str]] = {h: [] for i, h in enumerate(header) if i != file_col}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DynamicNetError(f"{path}: line {line} has {len(row)} cells, the header has {len(header)}")
        files.append(row[file_col].strip())
        for i, h in enumerate(header):
            if i != file_col:
                columns[h].append(row[i].strip())
    return files, columns
