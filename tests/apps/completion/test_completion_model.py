"""The completion network, its input and output conventions and its discriminator. The checks every application's
model passes (α = 0 ≡ θ, α continuity, prepared input ≡ forward, save → load, …) are in
tests/apps/test_model_contract.py."""

import pytest
import torch
from factories import tiny_completion_net

from dynamicnet.apps.completion.model import (
    DEFAULT_POINTS,
    CompletionNet,
    PatchDiscriminator,
    composite,
    hole_logits,
    masked_input,
    to_prediction,
)
from dynamicnet.apps.completion.recipe import builtin_recipes
from dynamicnet.apps.completion.train import build_model
from dynamicnet.data.masks import center_mask

G = torch.Generator().manual_seed(0)
IMAGE = torch.rand(2, 3, 32, 40, generator=G)
MASK = center_mask(32, 40).expand(2, 1, 32, 40).clone()
X = masked_input(IMAGE, MASK)


def test_shapes_and_insertion_points():
    main = CompletionNet(width=32)
    assert main(torch.rand(1, 4, 64, 48)).shape == (1, 3, 64, 48)
    assert main(torch.rand(1, 4, 8, 12)).shape == (1, 3, 8, 12)  # zero padding: tiny inputs work too
    model = build_model(builtin_recipes()["photos"])
    assert model.insertion_points == DEFAULT_POINTS and model.channels == (96, 96, 24)
    assert not any(isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.BatchNorm2d)) for m in main.modules())


def test_masked_input_hides_the_hole_and_composite_keeps_known_pixels_exactly():
    assert X.shape == (2, 4, 32, 40)
    assert torch.equal(X[:, 3:], MASK) and (X[:, :3][MASK.expand(-1, 3, -1, -1) > 0] == 0.5).all()
    pred = torch.rand(2, 3, 32, 40, generator=G)
    out = composite(IMAGE, MASK, pred)
    known = (MASK < 0.5).expand(-1, 3, -1, -1)
    assert torch.equal(out[known], IMAGE[known]) and torch.equal(out[~known], pred[~known])


def test_push_pull_prefill_continues_the_surroundings_smoothly():
    # left half dark, right half bright: the hole in the middle must ramp between them, known pixels untouched
    image = torch.cat([torch.full((1, 3, 32, 20), 0.2), torch.full((1, 3, 32, 20), 0.8)], dim=-1)
    x = masked_input(image, MASK[:1], "push-pull")
    hole = MASK[:1].expand(-1, 3, -1, -1) > 0.5
    assert torch.equal(x[:, :3][~hole], image[~hole]) and torch.equal(x[:, 3:], MASK[:1])
    row = x[0, 0, 16, 10:30]  # across the hole (columns 10–29)
    assert row.min() >= 0.2 and row.max() <= 0.8 and row[0] < 0.4 and row[-1] > 0.6
    assert (row[1:] - row[:-1] >= -1e-6).all()  # monotone ramp, no overshoot
    const = masked_input(torch.full((2, 3, 24, 24), 0.3), center_mask(24, 24).expand(2, 1, 24, 24), "push-pull")
    assert torch.allclose(const[:, :3], torch.tensor(0.3))
    with pytest.raises(ValueError, match="unknown hole fill"):
        masked_input(IMAGE, MASK, "blue")


def test_an_untrained_push_pull_model_returns_its_prefill():
    """θ predicts the change to the push-pull prefill and starts at zero: training starts from a smooth fill."""
    model = tiny_completion_net(trained=False)
    x = masked_input(IMAGE, MASK, "push-pull")
    with torch.no_grad():
        assert torch.equal(to_prediction(model(x, alpha=0.0), x, "push-pull"), x[:, :3])
    assert torch.equal(to_prediction(X[:, :3], X, "grey"), X[:, :3])  # grey: the raw output is the prediction


def test_discriminator_judges_only_patches_touching_the_hole():
    disc = PatchDiscriminator(width=4)
    logits = disc(IMAGE, MASK)
    assert logits.shape == (2, 1, 4, 5)
    picked = hole_logits(logits, MASK)
    assert 0 < picked.numel() < logits.numel()
    corner = torch.zeros_like(MASK)
    corner[:, :, :4, :4] = 1
    assert hole_logits(logits, corner).numel() == 2  # one patch per image
