"""Sanity check of the whole perceptual stack: Gatys-style optimisation toward a style image (not timed)."""

from __future__ import annotations

import pytest
import torch

from dynamicnet.losses import REFERENCE_STYLE_WEIGHTS, REFERENCE_TAPS, StyleLoss, StyleTargets, VGG16Features

pytestmark = pytest.mark.slow


def test_lbfgs_pixel_optimisation_lowers_the_style_loss_by_a_large_factor(
    vgg: VGG16Features, photos: dict[str, torch.Tensor], style_image: torch.Tensor
) -> None:
    torch.manual_seed(0)
    style = StyleLoss(StyleTargets(vgg)(style_image, size=128), REFERENCE_STYLE_WEIGHTS)
    pixels = photos["astronaut"].clone().requires_grad_(True)  # (1, 3, 128, 128), starts as the content

    def loss() -> torch.Tensor:
        return style(vgg(pixels.clamp(0, 1), taps=REFERENCE_TAPS))

    with torch.no_grad():
        initial = loss().item()
    optimiser = torch.optim.LBFGS([pixels], max_iter=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        value = loss()
        value.backward()
        return value

    optimiser.step(closure)
    with torch.no_grad():
        final = loss().item()
    assert final < initial / 10, (initial, final)
