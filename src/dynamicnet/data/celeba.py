"""CelebA as distributed: ``img_align_celeba/`` + ``list_attr_celeba.txt`` (+ ``list_eval_partition.txt``).

The files are read in their published formats, not a converted copy, so a user points ``--data celeba:PATH``
at the folder they downloaded. Both layouts in circulation are found: everything at the top level, or the
Google-Drive one (``Img/img_align_celeba/``, ``Anno/list_attr_celeba.txt``, ``Eval/list_eval_partition.txt``);
the Kaggle zip's doubled ``img_align_celeba/img_align_celeba/`` works too.

``list_attr_celeba.txt``::

    202599                                   ← number of images
    5_o_Clock_Shadow Arched_Eyebrows … Young ← the 40 attribute names
    000001.jpg -1  1  1 -1 …                 ← one row per image, values ±1 (columns padded with spaces)

``list_eval_partition.txt``: ``000001.jpg 0`` per line (0 train, 1 validation, 2 test).

Images are cropped the way the DCGAN literature does (a 108 px square around the centre of the aligned
178×218 face) and resized to ``size`` (64 in the reference).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from dynamicnet.data.io import DEFAULT_MAX_PIXELS, load_image
from dynamicnet.data.labels import LabelTable, center_crop_resize
from dynamicnet.errors import DynamicNetError

__all__ = ["CELEBA_ATTRIBUTES", "PARTITIONS", "CelebA", "read_attributes", "read_partition"]

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIR = "img_align_celeba"
PARTITIONS = {"train": 0, "val": 1, "test": 2}

#: The 40 binary attributes, in the file's order.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)


def read_attributes(path: str | os.PathLike[str]) -> tuple[list[str], list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt`` → (file names, attribute names, ``(N, K)`` int8 values in {−1, 1}).

    Raises:
        DynamicNetError: one line naming the file and line for a malformed count, header or row.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DynamicNetError(f"{path}: cannot read ({exc})") from None
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 2:
        raise DynamicNetError(f"{path}: expected an image count, the attribute names, then one row per image")
    try:
        count = int(lines[0].strip())
    except ValueError:
        got = lines[0].strip()[:40]
        raise DynamicNetError(f"{path}: line 1 should be the number of images, got {got!r}") from None
    names = lines[1].split()
    if not names or len(set(names)) != len(names):
        raise DynamicNetError(f"{path}: line 2 should list distinct attribute names")
    rows = lines[2:]
    if len(rows) != count:
        raise DynamicNetError(f"{path}: line 1 says {count} images but {len(rows)} rows follow")
    files: list[str] = []
    values = np.empty((count, len(names)), dtype=np.int8)
    for i, line in enumerate(rows):
        parts = line.split()
        if len(parts) != len(names) + 1:
            raise DynamicNetError(f"{path}: line {i + 3} has {len(parts) - 1} values, expected {len(names)}")
        files.append(parts[0])
        try:
            row = [int(v) for v in parts[1:]]
        except ValueError:
            raise DynamicNetError(f"{path}: line {i + 3}: values must be -1 or 1") from None
        if any(v not in (-1, 1) for v in row):
            raise DynamicNetError(f"{path}: line {i + 3}: values must be -1 or 1")
        values[i] = row
    return files, names, values


def read_partition(path: str | os.PathLike[str]) -> dict[str, int]:
    """Parse ``list_eval_partition.txt`` → file name → 0 (train), 1 (validation) or 2 (test)."""
    path = Path(path)
    out: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DynamicNetError(f"{path}: cannot read ({exc})") from None
    for i, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DynamicNetError(f"{path}: line {i} should be 'FILE 0|1|2', got {line.strip()[:60]!r}")
        out[parts[0]] = int(parts[1])
    return out


def _find(root: Path, name: str, subdirs: tuple[str, ...]) -> Path | None:
    for d in ("", *subdirs):
        p = root / d / name if d else root / name
        if p.exists():
            return p
    return None


class CelebA:
    """CelebA images with their 40 attributes, as a labelled source for attribute-split training.

    Args:
        root: the folder holding ``img_align_celeba/`` and ``list_attr_celeba.txt`` (see the module docstring
            for the layouts found).
        size: output side (64 in the reference).
        crop: centre crop side before resizing (108 in the reference).
        partition: ``"all"`` (default, as the DCGAN reference trains), or ``"train"``/``"val"``/``"test"``
            (needs ``list_eval_partition.txt``).
        hflip: random horizontal flips (off in the reference).

    Attributes:
        labels: the :class:`LabelTable` (values −1/1).
        files: image file names, in the attribute file's order.
    """

    channels = 3

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int = 64,
        crop: int = 108,
        partition: str = "all",
        hflip: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.root = Path(os.path.expanduser(os.fspath(root)))
        if not self.root.is_dir():
            raise DynamicNetError(f"{self.root}: CelebA folder does not exist")
        attr = _find(self.root, ATTR_FILE, ("Anno",))
        if attr is None:
            raise DynamicNetError(f"{self.root}: not a CelebA folder ({ATTR_FILE} not found there or in Anno/)")
        images = _find(self.root, IMAGE_DIR, ("Img",))
        if images is None or not images.is_dir():
            raise DynamicNetError(f"{self.root}: not a CelebA folder ({IMAGE_DIR}/ not found there or in Img/)")
        if (images / IMAGE_DIR).is_dir():  # the Kaggle zip nests it once more
            images = images / IMAGE_DIR
        if partition != "all" and partition not in PARTITIONS:
            raise DynamicNetError(f"unknown CelebA partition {partition!r}; expected all, train, val or test")
        if size < 1 or crop < 1:
            raise DynamicNetError(f"image size and crop must be ≥ 1, got {size} and {crop}")
        self.image_dir, self.size, self.crop, self.hflip = images, int(size), int(crop), bool(hflip)
        self.max_pixels, self.partition = int(max_pixels), partition
        files, names, values = read_attributes(attr)
        if partition != "all":
            part_file = _find(self.root, PARTITION_FILE, ("Eval", "Anno"))
            if part_file is None:
                raise DynamicNetError(f"{self.root}: partition {partition!r} needs {PARTITION_FILE}, not found")
            parts = read_partition(part_file)
            unlisted = [f for f in files if f not in parts]
            if unlisted:
                raise DynamicNetError(
                    f"{part_file}: {len(unlisted)} image(s) of {ATTR_FILE} are not listed (first: {unlisted[0]})"
                )
            keep = np.array([parts[f] == PARTITIONS[partition] for f in files], dtype=bool)
            files = [f for f, k in zip(files, keep) if k]
            values = values[keep]
        if not files:
            raise DynamicNetError(f"{self.root}: no images in partition {partition!r}")
        for f in {files[0], files[-1]}:  # a cheap check that the attribute file matches the image folder
            if not (images / f).is_file():
                raise DynamicNetError(f"{images}: {f} (listed in {ATTR_FILE}) is missing")
        self.files = files
        self.labels = LabelTable({n: values[:, j] for j, n in enumerate(names)}, f"CelebA ({attr})")

    def __len__(self) -> int:
        return len(self.files)

    @property
    def description(self) -> str:
        part = "" if self.partition == "all" else f", {self.partition} partition"
        return f"CelebA {self.root} ({len(self)} images{part}; centre crop {self.crop} → {self.size}²)"

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """Image ``index`` as ``(3, size, size)`` float32 in ``[0, 1]``; one draw from ``rng`` (the flip)."""
        image = load_image(self.image_dir / self.files[index], max_pixels=self.max_pixels).rgb  # (3, 218, 178)
        out = center_crop_resize(image, self.size, self.crop)
        flip = rng.random() < 0.5
        return out.flip(-1) if self.hflip and flip else out
