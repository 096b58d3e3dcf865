"""Folder and synthetic datasets: discovery, determinism under an explicit RNG, skipping bad files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dynamicnet.data import ImageFolderDataset, SyntheticImageDataset, find_images
from dynamicnet.errors import DynamicNetError


def test_recursive_discovery_is_sorted_and_filtered(tmp_path: Path, make_tree) -> None:
    root = tmp_path / "train2014"
    made = make_tree(root)
    (root / "readme.txt").write_text("not an image")
    (root / ".hidden.jpg").write_bytes(b"junk")
    (root / ".cache").mkdir()
    Image.new("RGB", (8, 8)).save(root / ".cache" / "thumb.jpg")
    found = find_images(root)
    assert sorted(found) == sorted(made)  # nested + upper-case extension found; hidden and .txt ignored
    rel = [p.relative_to(root).as_posix() for p in found]
    assert rel == sorted(rel)
    ds = ImageFolderDataset(root, 16)
    assert len(ds) == 5 and ds.paths == found


def test_get_is_deterministic_for_the_rng_state(tmp_path: Path, make_tree) -> None:
    make_tree(tmp_path / "imgs")
    ds = ImageFolderDataset(tmp_path / "imgs", 24)
    a = [ds.get(i, np.random.default_rng(7)) for i in range(len(ds))]
    b = [ds.get(i, np.random.default_rng(7)) for i in range(len(ds))]
    for x, y in zip(a, b):
        assert x.shape == (3, 24, 24) and x.dtype == torch.float32
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert torch.equal(x, y)
    # one generator threaded through a whole epoch replays exactly after restoring its state
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    epoch1 = [ds.get(i, rng) for i in range(len(ds))]
    rng.bit_generator.state = state
    epoch2 = [ds.get(i, rng) for i in range(len(ds))]
    assert all(torch.equal(x, y) for x, y in zip(epoch1, epoch2))
    assert not torch.equal(ds.get(0, np.random.default_rng(1)), ds.get(0, np.random.default_rng(2)))
    assert torch.equal(ds[2], ds[2]) and torch.equal(ds[-1], ds[len(ds) - 1])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_crop_scale_and_flip(tmp_path: Path) -> None:
    root = tmp_path / "one"
    root.mkdir()
    a = np.zeros((40, 40, 3), np.uint8)
    a[:, :20] = 255  # left half white
    Image.fromarray(a).save(root / "half.png")
    full = ImageFolderDataset(root, 40, scale=(1.0, 1.0), hflip=False)
    assert torch.equal(full.get(0, np.random.default_rng(0)), torch.from_numpy(a / 255).permute(2, 0, 1).float())
    flipped = ImageFolderDataset(root, 40, scale=(1.0, 1.0), hflip=True)
    outs = {flipped.get(0, np.random.default_rng(s))[0, 0, 0].item() for s in range(20)}
    assert outs == {0.0, 1.0}  # both orientations occur


def test_small_images_are_upscaled(tmp_path: Path) -> None:
    root = tmp_path / "small"
    root.mkdir()
    Image.new("RGB", (6, 5), (10, 200, 30)).save(root / "tiny.png")
    x = ImageFolderDataset(root, 32).get(0, np.random.default_rng(0))
    assert x.shape == (3, 32, 32)
    assert torch.allclose(x[:, 16, 16], torch.tensor([10, 200, 30]) / 255, atol=1e-4)


def test_corrupt_file_is_skipped_counted_and_warned_once(tmp_path: Path, make_tree) -> None:
    root = tmp_path / "mixed"
    made = make_tree(root, n_flat=3, n_nested=0)
    bad = root / "img_001.jpg"  # second in sorted order
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    ds = ImageFolderDataset(root, 16)
    assert ds.paths == made and ds.skipped == 0
    with pytest.warns(UserWarning, match="img_001.jpg"):
        x = ds.get(1, np.random.default_rng(0))
    # moved on deterministically to the next index: same crop as asking for index 2 with the same rng state
    assert torch.equal(x, ds.get(2, np.random.default_rng(0)))
    assert ds.skipped == 1 and ds.bad_paths == {bad}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning for a known-bad file
        y = ds.get(1, np.random.default_rng(0))
    assert torch.equal(x, y)
    # the random stream consumed does not depend on whether the bad file was already known
    fresh = ImageFolderDataset(root, 16)
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    with pytest.warns(UserWarning, match="skipping unreadable"):
        fresh.get(1, r1)
    ds.get(1, r2)
    assert r1.random() == r2.random()


def test_wraps_around_past_the_last_file(tmp_path: Path, make_tree) -> None:
    root = tmp_path / "wrap"
    made = make_tree(root, n_flat=2, n_nested=0)
    made[-1].write_text("garbage")
    ds = ImageFolderDataset(root, 8)
    with pytest.warns(UserWarning, match="skipping unreadable"):
        x = ds.get(1, np.random.default_rng(0))
    assert torch.equal(x, ds.get(0, np.random.default_rng(0)))


def test_all_files_bad_raises(tmp_path: Path) -> None:
    root = tmp_path / "allbad"
    root.mkdir()
    for i in range(3):
        (root / f"x{i}.jpg").write_text("nope")
    ds = ImageFolderDataset(root, 8)
    with pytest.warns(UserWarning, match="skipping unreadable"), pytest.raises(DynamicNetError, match="none of the 3"):
        ds.get(0, np.random.default_rng(0))


def test_empty_missing_and_non_folder_roots(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DynamicNetError, match="no images found"):
        ImageFolderDataset(tmp_path / "empty", 8)
    with pytest.raises(DynamicNetError, match="does not exist"):
        ImageFolderDataset(tmp_path / "nowhere", 8)
    f = tmp_path / "file.jpg"
    f.write_bytes(b"x")
    with pytest.raises(DynamicNetError, match="not a folder"):
        ImageFolderDataset(f, 8)
    with pytest.raises(DynamicNetError, match="scale"):
        ImageFolderDataset(tmp_path / "empty", 8, scale=(0.0, 1.0))


def test_rng_must_be_a_generator(tmp_path: Path, make_tree) -> None:
    make_tree(tmp_path / "r", n_flat=1, n_nested=0)
    with pytest.raises(TypeError):
        ImageFolderDataset(tmp_path / "r", 8).get(0, 123)  # type: ignore[arg-type]


def test_synthetic_dataset() -> None:
    ds = SyntheticImageDataset(4, 32, seed=1)
    assert len(ds) == 4
    x = ds.get(0, np.random.default_rng(0))
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.std() > 0.05  # not a flat image
    assert torch.equal(ds.image(2), SyntheticImageDataset(4, 32, seed=1).image(2))
    assert not torch.equal(ds.image(0), ds.image(1))
    assert not torch.equal(ds.image(0), SyntheticImageDataset(4, 32, seed=2).image(0))
    flips = {torch.equal(ds.get(3, np.random.default_rng(s)), ds.image(3)) for s in range(10)}
    assert flips == {True, False}
    assert torch.equal(ds[1], ds[1])
    with pytest.raises(IndexError):
        ds[4]


def test_flat_crops_are_redrawn_when_asked(tmp_path):
    # a cut-out on a white background: most crops of the right half are perfectly flat
    img = np.full((64, 128, 3), 255, np.uint8)
    img[:, :40] = np.random.default_rng(0).integers(0, 256, (64, 40, 3))
    Image.fromarray(img).save(tmp_path / "cutout.png")
    plain = ImageFolderDataset(tmp_path, 16, scale=(0.02, 0.02))
    picky = ImageFolderDataset(tmp_path, 16, scale=(0.02, 0.02), min_std=0.05)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    flat_plain = sum(float(plain.get(0, rng_a).std()) < 0.05 for _ in range(40))
    flat_picky = sum(float(picky.get(0, rng_b).std()) < 0.05 for _ in range(40))
    assert flat_plain > 10 and flat_picky < flat_plain / 4
