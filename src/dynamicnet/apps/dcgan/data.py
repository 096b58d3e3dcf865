"""Data for the dynamic DCGAN: the ``--data`` sources, the attribute split, and the per-phase view.

``--data`` names a labelled source:

* ``celeba:PATH`` — CelebA as distributed (:class:`~dynamicnet.data.celeba.CelebA`), 40 attributes with values ±1;
* ``fashion-mnist[:CLASS,CLASS…]`` — the Debian package's Fashion-MNIST restricted to some classes (default the
  pair ``sneaker,ankle_boot``), attribute ``label``;
* ``folder:PATH`` — an image folder labelled by a CSV (``PATH/labels.csv`` or ``--labels``).

The split: θ trains on the images with ``attribute == value`` (O0), the tuning block on the others (O1).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ...core.dynamic import HIGHER
from ...data.labels import LabelTable, normalise_value
from ...errors import DynamicNetError

logger = logging.getLogger(__name__)

FASHION_DEFAULT_PAIR = ("sneaker", "ankle_boot")
KINDS = ("celeba:PATH", "fashion-mnist[:CLASS,CLASS,…]", "folder:PATH")


class LabelledSource(Protocol):
    """What the DCGAN app needs from a dataset: images, their attributes and a channel count."""

    channels: int
    size: int
    labels: LabelTable

    def __len__(self) -> int: ...

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor: ...

    @property
    def description(self) -> str: ...


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value."""

    kind: str  # "celeba" | "fashion-mnist" | "folder"
    path: str | None = None
    classes: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "fashion-mnist":
            return f"fashion-mnist:{','.join(self.classes)}"
        return f"{self.kind}:{self.path}"

    @property
    def default_attribute(self) -> str | None:
        return "label" if self.kind == "fashion-mnist" else None

    @property
    def default_value(self) -> str | None:
        return self.classes[0] if self.kind == "fashion-mnist" else None


def parse_data_spec(text: str) -> DataSpec:
    """``celeba:PATH`` | ``fashion-mnist[:A,B,…]`` | ``folder:PATH`` → :class:`DataSpec`."""
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind == "fashion-mnist":
        classes = tuple(c.strip() for c in rest.split(",") if c.strip()) if rest else FASHION_DEFAULT_PAIR
        if len(classes) < 2:
            raise DynamicNetError(f"--data {text!r}: name at least two Fashion-MNIST classes (e.g. sneaker,ankle_boot)")
        return DataSpec("fashion-mnist", classes=classes)
    if kind in ("celeba", "folder"):
        if not rest:
            raise DynamicNetError(f"--data {text!r}: expected {kind}:PATH")
        return DataSpec(kind, path=rest)
    raise DynamicNetError(f"unknown --data {text!r}; expected one of {', '.join(KINDS)}")


def open_source(
    spec: DataSpec | str, size: int, *, role: str = "train", labels: str | Path | None = None, hflip: bool = False
) -> LabelledSource:
    """Open a labelled source at ``size``² for training (``role="train"``) or evaluation (``"test"``).

    Fashion-MNIST uses its train/test split; CelebA its train/test partition when
    ``list_eval_partition.txt`` is there, else all images; a folder has no split (both roles see all of it).
    """
    if isinstance(spec, str):
        spec = parse_data_spec(spec)
    if role not in ("train", "test"):
        raise ValueError(f"role must be 'train' or 'test', got {role!r}")
    if spec.kind == "fashion-mnist":
        from ...data.fashion_mnist import FashionMNIST

        return FashionMNIST(role, spec.classes, size=size)
    if spec.kind == "celeba":
        from ...data.celeba import PARTITION_FILE, CelebA

        root = Path(spec.path or "")
        has_partition = any((root / d / PARTITION_FILE).is_file() for d in (".", "Eval", "Anno"))
        return CelebA(root, size=size, partition=role if has_partition else "all", hflip=hflip)
    from ...data.labels import LabelledImageFolder

    return LabelledImageFolder(spec.path or "", labels, size=size, hflip=hflip)


@dataclass
class AttributeSplit:
    """Indices of a source's images with ``attribute == value`` (O0, θ) and ``≠ value`` (O1, the blocks)."""

    source: Any
    attribute: str
    value: str
    main: np.ndarray
    tuning: np.ndarray

    def describe(self) -> dict[str, dict[str, Any]]:
        """The objectives, as recorded in the model folder's ``config.json``."""
        which = {"attribute": self.attribute, "value": self.value}
        return {
            "main": {"gan": "images with attribute = value", **which, "images": int(len(self.main))},
            HIGHER: {
                "gan": "images with attribute != value",
                **which,
                "images": int(len(self.tuning)),
                "values": self.other_values(),
            },
        }

    def other_values(self) -> list[str]:
        column = self.source.labels.attributes[self.attribute]
        return sorted({normalise_value(column[i]) for i in self.tuning})


def split_by_attribute(source: LabelledSource, attribute: str, value: Any) -> AttributeSplit:
    """Split ``source`` by ``attribute == value``.

    Raises:
        DynamicNetError: unknown attribute or value (listing the valid ones), or a split with an empty side.
    """
    name = source.labels.resolve(attribute)
    mask = source.labels.mask(name, value)
    main, tuning = np.flatnonzero(mask), np.flatnonzero(~mask)
    if len(tuning) == 0:
        raise DynamicNetError(f"every image has {name} = {value}: nothing left for the tuning objective (a ≠ v)")
    return AttributeSplit(source, name, normalise_value(value), main, tuning)  # "+1" → "1", "Sneaker" → "sneaker"


class PhaseDataset:
    """The trainer's dataset: the images of the objective the current phase trains for.

    The trainer takes one dataset for every phase, while θ and the tuning block learn from different
    subsets; the task calls :meth:`use` in ``start_phase`` (which the trainer runs before it draws a phase's
    first batch, on resume too). The length is constant — the larger subset's — because the trainer
    fingerprints it for exact resume; index ``i`` maps to ``subset[i % len(subset)]``, so within an epoch of
    the larger subset every image of the smaller one is seen ⌊L/m⌋ or ⌈L/m⌉ times.

    An unreadable image is skipped (warned about once) in favour of the next one of the same subset, so one
    corrupt file does not end a long run; :attr:`skipped` counts them for the metrics log.
    """

    def __init__(self, split: AttributeSplit) -> None:
        self.split = split
        self.groups = {"main": split.main, HIGHER: split.tuning}
        self.active = "main"
        self.bad: set[int] = set()

    def use(self, objective: str) -> None:
        if objective not in self.groups:
            raise ValueError(f"unknown objective {objective!r}; expected one of {sorted(self.groups)}")
        self.active = objective

    @property
    def skipped(self) -> int:
        return len(self.bad)

    def __len__(self) -> int:
        return max(len(g) for g in self.groups.values())

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        group = self.groups[self.active]
        m = len(group)
        for k in range(m):
            i = int(group[(index + k) % m])
            if i in self.bad:
                continue
            try:
                return self.split.source.get(i, rng)
            except DynamicNetError as exc:
                self.bad.add(i)
                msg = f"skipping unreadable training image: {exc}"
                logger.warning(msg)
                warnings.warn(msg, stacklevel=2)
        raise DynamicNetError(f"none of the {m} images of the {self.active!r} subset could be read")


class SyntheticLabelled:
    """``n`` procedural images labelled ``label`` = ``even``/``odd`` by index: the data of ``--dry-run``."""

    channels = 3

    def __init__(self, n: int = 8, size: int = 32, seed: int = 0) -> None:
        from ...data.folder import SyntheticImageDataset

        self.images = SyntheticImageDataset(n, size, seed=seed, hflip=False)
        self.size = size
        self.labels = LabelTable({"label": ["even" if i % 2 == 0 else "odd" for i in range(n)]}, "synthetic data")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def description(self) -> str:
        return f"synthetic ({len(self)} images, dry run)"

    def get(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        return self.images.get(index, rng)
