"""Each loss module equals the composition of the pure functions it wraps; the style-target cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynamicnet.losses import (
    REFERENCE_CONTENT_TAP,
    REFERENCE_STYLE_WEIGHTS,
    REFERENCE_TAPS,
    ContentLoss,
    PerceptualLoss,
    StyleLoss,
    StyleTargets,
    VGG16Features,
    content_loss,
    gram_matrix,
    style_loss,
    tv_loss,
)


@pytest.fixture(scope="module")
def vgg() -> VGG16Features:
    torch.manual_seed(0)
    return VGG16Features(taps=REFERENCE_TAPS)  # random weights are enough to check the arithmetic


@pytest.fixture
def images() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {name: torch.rand(2, 3, 32, 32, generator=gen) for name in ("output", "content")} | {
        "style": torch.rand(1, 3, 40, 48, generator=gen)
    }


def test_content_loss_module(vgg: VGG16Features, images: dict[str, torch.Tensor]) -> None:
    feats, target = vgg(images["output"]), vgg(images["content"])
    assert torch.equal(ContentLoss()(feats, target), content_loss(feats["relu2_2"], target["relu2_2"]))


def test_style_loss_module_holds_targets_and_weights(vgg: VGG16Features, images: dict[str, torch.Tensor]) -> None:
    grams = {tap: gram_matrix(f) for tap, f in vgg(images["style"]).items()}
    weights = {"relu1_2": 0.3, "relu3_3": 2.0}
    module = StyleLoss(grams, weights)
    assert set(module.target_grams) == set(weights)  # unweighted taps are dropped
    feats = vgg(images["output"])
    assert torch.equal(module(feats), style_loss(feats, grams, weights))
    doubled = module.double()  # the targets are buffers and follow the module
    assert all(g.dtype == torch.float64 for g in doubled.target_grams.values())
    assert doubled.state_dict() == {}  # recomputed from the style image, never checkpointed
    with pytest.raises(ValueError, match="relu5_1"):
        StyleLoss(grams, {"relu5_1": 1.0})


@pytest.mark.parametrize("tv_weight", [0.0, 3.0])
def test_perceptual_loss_is_the_weighted_sum_of_the_functions(
    vgg: VGG16Features, images: dict[str, torch.Tensor], tv_weight: float
) -> None:
    grams = {tap: gram_matrix(f) for tap, f in vgg(images["style"]).items()}
    loss = PerceptualLoss(vgg, grams, content_weight=2.0, style_weight=50.0, tv_weight=tv_weight)
    output = images["output"].clone().requires_grad_(True)
    total, parts = loss(output, images["content"])

    feats, target = vgg(output), vgg(images["content"])
    expected = {
        "content": content_loss(feats[REFERENCE_CONTENT_TAP], target[REFERENCE_CONTENT_TAP]),
        "style": style_loss(feats, grams, REFERENCE_STYLE_WEIGHTS),
    } | ({"tv": tv_loss(output)} if tv_weight else {})
    assert parts.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(parts[name], value, rtol=1e-6, atol=0)
    expected_total = 2.0 * expected["content"] + 50.0 * expected["style"] + tv_weight * expected.get("tv", 0.0)
    torch.testing.assert_close(total, expected_total, rtol=1e-6, atol=0)

    total.backward()
    assert output.grad is not None and not images["content"].requires_grad


def test_perceptual_loss_needs_the_extractor_taps(images: dict[str, torch.Tensor]) -> None:
    shallow = VGG16Features(taps=("relu1_2", "relu2_2"))
    with pytest.raises(ValueError, match="relu3_3"):
        PerceptualLoss(shallow, {}, content_weight=1.0, style_weight=1.0)


def test_style_targets_computes_each_style_once(vgg: VGG16Features, images: dict[str, torch.Tensor]) -> None:
    calls = []
    hook = vgg.register_forward_hook(lambda *_: calls.append(1))
    try:
        targets = StyleTargets(vgg)
        grams = targets(images["style"], size=32)
        same = targets(images["style"].clone()[0], size=32)  # equal content, another tensor, no batch dim
        assert len(calls) == 1
        assert all(torch.equal(grams[tap], same[tap]) for tap in REFERENCE_TAPS)
        targets(images["style"], size=(24, 24))
        assert len(calls) == 2  # another size is another entry
    finally:
        hook.remove()
    # An int size sets the shorter side and keeps the aspect ratio: 40×48 → 32×38 (38.4 rounded).
    resized = F.interpolate(images["style"], size=(32, 38), mode="bilinear", antialias=True)
    expected = {tap: gram_matrix(f) for tap, f in vgg(resized).items()}
    for tap in REFERENCE_TAPS:
        assert grams[tap].shape == expected[tap].shape == (1, expected[tap].shape[1], expected[tap].shape[1])
        torch.testing.assert_close(grams[tap], expected[tap])
