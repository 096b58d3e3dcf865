"""Fashion-MNIST from the Debian package ``dataset-fashion-mnist``: the offline default for the DCGAN app.

The package installs the original gzipped IDX files (``train-images-idx3-ubyte.gz`` …) under
``/usr/share/datasets/fashion-mnist`` (MIT licence, © Zalando SE). They are read in place; nothing is downloaded
or converted. ``$DYNAMICNET_FASHION_MNIST`` points elsewhere (a folder with the same four files).

Images are 28×28 grayscale, white garments on black. They are kept single-channel (a DCGAN with one output
channel is smaller and faster than one that has to learn three identical channels) and padded with black to
32×32, a size the transposed-convolution stack reaches by doubling; other sizes are resized from the padded
image. The attribute is the class, named as in :data:`CLASSES` (``sneaker``, ``ankle_boot``, …).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dynamicnet.data.labels import LabelTable, normalise_value
from dynamicnet.errors import DynamicNetError

__all__ = ["CLASSES", "DEBIAN_DIR", "FashionMNIST", "fashion_mnist_dir", "read_idx"]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "DYNAMICNET_FASHION_MNIST"
CLASSES: tuple[str, ...] = (
    "t_shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_HINT = "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"


def fashion_mnist_dir() -> Path:
    """Where the IDX files are: ``$DYNAMICNET_FASHION_MNIST`` if set, else the Debian package's folder."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEBIAN_DIR


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes into an array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DynamicNetError(f"{path}: cannot read ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DynamicNetError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise DynamicNetError(f"{path}: size does not match its header shape {shape} (truncated?)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


class FashionMNIST:
    """Fashion-MNIST images of some classes, with the class as the attribute ``label``.

    Args:
        split: ``"train"`` (60 000 images) or ``"test"`` (10 000).
        classes: keep only these classes (names from :data:`CLASSES`; default all ten). A pair such as
            ``("sneaker", "ankle_boot")`` makes the two objectives of an attribute split.
        size: output side (32 = the padded original; others are resized).
        root: folder of the IDX files (default :func:`fashion_mnist_dir`).
    """

    channels = 1

    def __init__(
        self,
        split: str = "train",
        classes: Sequence[str] | None = None,
        *,
        size: int = 32,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        if split not in FILES:
            raise DynamicNetError(f"unknown Fashion-MNIST split {split!r}; expected train or test")
        if size < 1:
            raise DynamicNetError(f"image size must be ≥ 1, got {size}")
        self.root = Path(root) if root is not None else fashion_mnist_dir()
        image_file, label_file = (self.root / f for f in FILES[split])
        for f in (image_file, label_file):
            if not f.is_file():
                raise DynamicNetError(f"{f}: Fashion-MNIST not found; {_HINT}")
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DynamicNetError(f"{self.root}: image and label files do not match")
        if classes is None:
            keep_ids = list(range(len(CLASSES)))
        else:
            known = {normalise_value(c): i for i, c in enumerate(CLASSES)}
            unknown = [c for c in classes if normalise_value(c) not in known]
            if unknown:
                raise DynamicNetError(f"unknown Fashion-MNIST class(es) {unknown}; valid classes: {', '.join(CLASSES)}")
            keep_ids = sorted({known[normalise_value(c)] for c in classes})
        keep = np.isin(labels, keep_ids)
        self.images = images[keep]  # (N, 28, 28) uint8, read-only view of the file's bytes
        self.targets = labels[keep].astype(np.int64)
        self.split, self.size, self.classes = split, int(size), tuple(CLASSES[i] for i in keep_ids)
        self.labels = LabelTable({"label": np.array(CLASSES)[self.targets]}, "Fashion-MNIST")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def description(self) -> str:
        return (
            f"Fashion-MNIST {self.split} split, classes {', '.join(self.classes)} ({len(self)} images, "
            f"{self.root}; 28² padded to 32²{'' if self.size == 32 else f', resized to {self.size}²'})"
        )

    def get(self, index: int, rng: np.random.Generator | None = None) -> torch.Tensor:
        """Image ``index`` as ``(1, size, size)`` float32 in ``[0, 1]``.

        No augmentation (``rng`` is unused): every garment faces the same way, and a flipped shoe is a new shape.
        """
        x = torch.from_numpy(self.images[index].astype(np.float32) / 255.0)[None]  # (1, 28, 28), a copy
        x = F.pad(x, (2, 2, 2, 2))  # (1, 32, 32), black border as in the original background
        if self.size != 32:
            x = F.interpolate(
                x[None], size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=self.size < 32
            )[0].clamp(0.0, 1.0)
        return x
