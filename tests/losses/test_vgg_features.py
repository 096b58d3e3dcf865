"""The VGG16 extractor's structure and behaviour (random weights: no file needed)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamicnet.losses import (
    CAFFE_MEAN_BGR,
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_LAYER_INDEX,
    VGG16_LAYERS,
    VGG16_STATE_SHAPES,
    VGG16Features,
)

# torchvision.models.vgg.cfgs["D"] (VGG16), as torchvision's make_layers turns it into ``features``:
# each number is a Conv2d followed by a ReLU, each "M" a MaxPool2d.
TORCHVISION_CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def torchvision_layer_kinds() -> list[str]:
    kinds: list[str] = []
    for v in TORCHVISION_CFG_D:
        kinds += ["pool"] if v == "M" else ["conv", "relu"]
    return kinds


def test_layer_names_follow_torchvision_indices() -> None:
    assert [name[:4] for name in VGG16_LAYERS] == torchvision_layer_kinds()
    expected = {"conv1_1": 0, "relu1_1": 1, "conv1_2": 2, "relu1_2": 3, "pool1": 4, "conv2_1": 5, "relu2_2": 8}
    expected |= {"relu3_3": 15, "relu4_3": 22, "relu5_3": 29, "pool5": 30}
    assert {name: VGG16_LAYER_INDEX[name] for name in expected} == expected
    assert [shape[0] for key, shape in VGG16_STATE_SHAPES.items() if key.endswith("weight")] == [
        v for v in TORCHVISION_CFG_D if v != "M"
    ]


def test_builds_only_as_deep_as_the_deepest_tap() -> None:
    vgg = VGG16Features(taps=("relu2_2", "relu1_1"))
    assert len(vgg.features) == VGG16_LAYER_INDEX["relu2_2"] + 1
    assert set(vgg.state_dict()) == {key for key in VGG16_STATE_SHAPES if int(key.split(".")[1]) < 9}
    for index, layer in enumerate(vgg.features):
        expected = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[VGG16_LAYERS[index][:4]]
        assert isinstance(layer, expected)
    feats = vgg(torch.rand(2, 3, 32, 32))
    assert {tap: tuple(f.shape) for tap, f in feats.items()} == {
        "relu1_1": (2, 64, 32, 32),
        "relu2_2": (2, 128, 16, 16),
    }


def test_unknown_taps_are_rejected() -> None:
    with pytest.raises(ValueError, match="relu2_3"):
        VGG16Features(taps=("relu2_3",))
    with pytest.raises(ValueError, match="subset"):
        VGG16Features(taps=("relu1_2",))(torch.rand(1, 3, 8, 8), taps=("relu2_2",))


def test_frozen_and_always_in_eval_mode() -> None:
    vgg = VGG16Features(taps=("relu1_2",))
    assert not any(p.requires_grad for p in vgg.parameters())
    assert not vgg.train().training and not vgg.training
    image = torch.rand(1, 3, 8, 8, requires_grad=True)
    vgg(image)["relu1_2"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0  # gradients reach the image
    assert all(p.grad is None for p in vgg.parameters())


def test_a_subset_of_taps_stops_early_and_matches_the_full_run() -> None:
    torch.manual_seed(0)
    vgg = VGG16Features(taps=("conv1_1", "relu1_1", "relu2_2"))
    image = torch.rand(1, 3, 16, 16)
    full = vgg(image)
    shallow = vgg(image, taps=("conv1_1",))
    assert list(shallow) == ["conv1_1"]
    torch.testing.assert_close(shallow["conv1_1"], full["conv1_1"])
    # The ReLU is not in place, so the conv tap keeps its negative values.
    assert (full["conv1_1"] < 0).any()
    torch.testing.assert_close(full["relu1_1"], full["conv1_1"].clamp(min=0))


@pytest.mark.parametrize("preprocessing", ["imagenet", "caffe_bgr"])
def test_preprocessing_matches_the_weights_convention(preprocessing: str) -> None:
    vgg = VGG16Features(taps=("relu1_1",), preprocessing=preprocessing)  # type: ignore[arg-type]
    image = torch.rand(2, 3, 4, 5)
    before = image.clone()
    if preprocessing == "imagenet":
        mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
        expected = (image - mean) / std
    else:
        bgr = image[:, [2, 1, 0]]
        expected = bgr * 255 - torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
    torch.testing.assert_close(vgg.preprocess(image), expected)
    vgg(image)
    assert torch.equal(image, before)  # the caller's tensor is untouched


def test_rejects_non_rgb_batches() -> None:
    with pytest.raises(ValueError, match="B, 3, H, W"):
        VGG16Features(taps=("relu1_1",))(torch.rand(3, 8, 8))
