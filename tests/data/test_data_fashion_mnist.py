"""Fashion-MNIST from its IDX files: a synthetic copy in tmp_path, and the Debian package where installed."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from dynamicnet.data import fashion_mnist
from dynamicnet.data.fashion_mnist import CLASSES, DEBIAN_DIR, FashionMNIST, read_idx
from dynamicnet.errors import DynamicNetError

installed = pytest.mark.skipif(
    not (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file(), reason="Debian dataset-fashion-mnist is not installed"
)


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fmnist(tmp_path, monkeypatch):
    """20 images per split: image i has label i % 10 and every pixel equal to 10·i."""
    for images, labels in fashion_mnist.FILES.values():
        n = 20
        _write_idx(tmp_path / images, np.stack([np.full((28, 28), 10 * i) for i in range(n)]))
        _write_idx(tmp_path / labels, np.arange(n) % 10)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    return tmp_path


def test_idx_round_trip_and_class_pair(fake_fmnist):
    assert read_idx(fake_fmnist / "train-labels-idx1-ubyte.gz").tolist() == [i % 10 for i in range(20)]
    data = FashionMNIST("train", ["sneaker", "Ankle boot"])
    assert len(data) == 4 and data.channels == 1 and data.classes == ("sneaker", "ankle_boot")
    assert data.labels.distinct("label") == ["ankle_boot", "sneaker"]
    assert data.labels.mask("label", "sneaker").tolist() == [True, False, True, False]
    x = data.get(0, np.random.default_rng(0))  # image 7 (a sneaker): every pixel 70/255
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32
    assert torch.all(x[:, 2:30, 2:30] == 70 / 255) and torch.all(x[:, :2] == 0)  # padded with black
    assert FashionMNIST("test", size=16).get(3).shape == (1, 16, 16)


def test_truncated_or_foreign_files_are_one_line(fake_fmnist):
    path = fake_fmnist / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-5]))
    with pytest.raises(DynamicNetError, match="truncated"):
        read_idx(path)
    path.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(DynamicNetError, match="not an IDX file"):
        read_idx(path)


def test_missing_package_and_unknown_class(tmp_path, monkeypatch, fake_fmnist):
    with pytest.raises(DynamicNetError, match="valid classes: t_shirt"):
        FashionMNIST(classes=["sneaker", "boot"])
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(DynamicNetError, match="apt-get install dataset-fashion-mnist"):
        FashionMNIST()


@installed
def test_debian_package_sneakers_and_boots(monkeypatch):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    train = FashionMNIST("train", ["sneaker", "ankle_boot"])
    test = FashionMNIST("test", ["sneaker", "ankle_boot"])
    assert (len(train), len(test)) == (12000, 2000)
    assert int(train.labels.mask("label", "sneaker").sum()) == 6000
    x = train.get(0, np.random.default_rng(0))
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.5 and torch.all(x[:, :2] == 0)
    assert len(CLASSES) == 10
