"""What the training loop reads data from, and an adapter that lets it read any map-style torch dataset.

The loop asks a dataset for ``get(index, rng)`` rather than ``dataset[index]``: each sample's randomness then
comes from a generator seeded by (seed, phase, epoch, position), which is what makes a resumed run, or a DDP
run, draw exactly the samples and augmentations of an uninterrupted single-process one.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..data.convert import pil_to_tensor
from ..errors import DynamicNetError


@runtime_checkable
class TrainDataset(Protocol):
    """What the loop needs from a dataset: a length and a sample drawn with the randomness it is given."""

    def __len__(self) -> int: ...

    def get(self, index: int, rng: np.random.Generator) -> Any: ...


class TorchDataset:
    """Any map-style :class:`torch.utils.data.Dataset` (``__len__`` and ``__getitem__``) as a :class:`TrainDataset`.

    A torch dataset's random transforms draw from the global generators (torchvision's from torch's, some from
    Python's ``random``), so each item is fetched with torch, NumPy and ``random`` seeded from the loop's ``rng``
    and their states restored afterwards: augmentations replay exactly on resume and do not depend on the
    process count. Items may be tensors, NumPy arrays (as tensors, same dtype), PIL images (float ``(C, H, W)``
    in [0, 1], see :func:`~dynamicnet.data.convert.pil_to_tensor`), numbers, and tuples, lists or dicts of them.

    :class:`~dynamicnet.training.Trainer` wraps a torch dataset in this itself; use it directly to inspect what
    the loop will see.
    """

    def __init__(self, dataset: Dataset[Any]) -> None:
        if not hasattr(dataset, "__len__"):
            raise DynamicNetError(
                f"{type(dataset).__name__} has no __len__: the trainer needs a map-style dataset "
                "(__len__ and __getitem__), not an IterableDataset"
            )
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def get(self, index: int, rng: np.random.Generator) -> Any:
        with _seeded(int(rng.integers(2**63))):
            return _as_tensors(self.dataset[index])


def as_train_dataset(dataset: TrainDataset | Dataset[Any]) -> TrainDataset:
    """``dataset`` itself when it has ``get(index, rng)``, else a :class:`TorchDataset` around it."""
    if isinstance(dataset, TrainDataset):
        return dataset
    if not hasattr(dataset, "__getitem__"):
        raise DynamicNetError(
            f"cannot train on a {type(dataset).__name__}: expected a map-style torch Dataset "
            "(__len__ and __getitem__) or an object with __len__ and get(index, rng)"
        )
    return TorchDataset(dataset)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's, NumPy's and Python's global generators within the block; restore them afterwards."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def _as_tensors(item: Any) -> Any:
    """A dataset item with its arrays and images as tensors, so that the loop can stack a batch of them."""
    if isinstance(item, Image.Image):
        return pil_to_tensor(item)
    if isinstance(item, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(item))
    if isinstance(item, (tuple, list)):
        return type(item)(_as_tensors(x) for x in item)
    if isinstance(item, Mapping):
        return {k: _as_tensors(v) for k, v in item.items()}
    return item
