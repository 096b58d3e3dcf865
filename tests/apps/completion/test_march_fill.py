"""The marching prefill (``hole_fill="march"``): coherence transport ring by ring, eager and as a static graph."""

import numpy as np
import pytest
import torch

from dynamicnet.apps.completion.march import march_fill, march_fill_static
from dynamicnet.apps.completion.model import masked_input, push_pull
from dynamicnet.data.masks import center_mask, stroke_mask

G = torch.Generator().manual_seed(0)


def _masks() -> torch.Tensor:
    masks = torch.zeros(3, 1, 40, 56)
    masks[0, :, 8:30, 10:40] = 1  # a rectangle
    masks[1, :, 20:40, 0:25] = 1  # touching two borders
    masks[2] = stroke_mask(40, 56, np.random.default_rng(0))  # free-form strokes
    return masks


def test_known_pixels_are_kept_and_the_hole_is_filled_from_its_surroundings():
    image = torch.rand(3, 3, 40, 56, generator=G)
    masks = _masks()
    out = march_fill(image, masks)
    known = (masks < 0.5).expand_as(image)
    assert torch.equal(out[known], image[known])
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()  # a convex combination of known pixels
    const = march_fill(torch.full((1, 3, 24, 24), 0.3), center_mask(24, 24)[None])
    assert torch.allclose(const, torch.tensor(0.3))


def test_an_edge_is_carried_into_the_hole_where_push_pull_blurs_it():
    # A horizontal edge (dark above row 16, bright below) crossing a square hole: marching continues it.
    image = torch.full((1, 3, 32, 48), 0.2)
    image[..., 16:, :] = 0.8
    mask = torch.zeros(1, 1, 32, 48)
    mask[..., 8:24, 16:32] = 1
    marched = march_fill(image, mask)
    known = 1 - mask
    blurred = torch.where(mask > 0.5, push_pull(image * known, known), image)
    err_march = (marched - image).abs()[mask.expand_as(image) > 0.5].mean()
    err_blur = (blurred - image).abs()[mask.expand_as(image) > 0.5].mean()
    assert err_march < 0.5 * err_blur, (err_march, err_blur)
    assert marched[0, 0, 10, 24] < 0.35 and marched[0, 0, 21, 24] > 0.65  # each side keeps its level


@pytest.mark.slow
def test_the_static_graph_equals_the_eager_fill_and_push_pull_takes_what_rings_do_not_reach():
    image = torch.rand(3, 3, 40, 56, generator=G)
    masks = _masks()
    assert (march_fill_static(image, masks) - march_fill(image, masks)).abs().max() <= 1e-5
    assert torch.equal(masked_input(image, masks, "march")[:, 3:], masks)
    static = masked_input(image, masks, "march", static=True)
    assert (static - masked_input(image, masks, "march")).abs().max() <= 1e-5
    # two rings cannot reach the middle of a 22 px deep hole: the rest is push-pull's, and nothing is left empty
    few = march_fill_static(image, masks, rings=2)
    assert torch.isfinite(few).all() and (few - march_fill(image, masks)).abs().max() > 1e-3


def test_an_image_with_no_known_pixel_gets_push_pull_and_does_not_hang():
    image = torch.rand(2, 3, 16, 16, generator=G)
    masks = torch.zeros(2, 1, 16, 16)
    masks[0] = 1  # all hole: nothing to march from
    masks[1, :, 4:12, 4:12] = 1
    out = march_fill(image, masks)
    assert torch.isfinite(out).all() and torch.equal(out[1][:, :4], image[1][:, :4])
