"""Geometry helpers: exact pad/unpad round trips, reflection padding, downscaling to a longer side."""

from __future__ import annotations

import pytest
import torch

from dynamicnet.data import pad_to_multiple, resize_max_side, unpad


@pytest.mark.parametrize(("h", "w"), [(1, 1), (5, 7), (33, 17), (8, 12), (2, 3)])
@pytest.mark.parametrize("multiple", [4, 8])
def test_pad_unpad_round_trip_exact(h: int, w: int, multiple: int) -> None:
    x = torch.rand(3, h, w)
    padded, pads = pad_to_multiple(x, multiple)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - h < multiple and padded.shape[-1] - w < multiple
    assert torch.equal(unpad(padded, pads), x)
    xb = torch.rand(2, 3, h, w)
    pb, pads_b = pad_to_multiple(xb, multiple)
    assert pads_b == pads and torch.equal(unpad(pb, pads_b), xb)


def test_pad_reflects_and_is_a_no_op_when_aligned() -> None:
    x = torch.arange(5.0).repeat(1, 4, 1)  # (C, H, W) = (1, 4, 5)
    padded, pads = pad_to_multiple(x, 8)
    assert pads == (1, 2, 2, 2)
    assert padded[0, 0].tolist() == [1, 0, 1, 2, 3, 4, 3, 2]  # reflection, not zeros
    tiny, pads = pad_to_multiple(torch.ones(1, 1, 1), 4)  # too small to reflect: edge replication
    assert pads == (1, 2, 1, 2) and torch.equal(tiny, torch.ones(1, 4, 4))
    y = torch.rand(3, 8, 8)
    same, pads = pad_to_multiple(y, 4)
    assert same is y and pads == (0, 0, 0, 0)


def test_pad_up_to_a_min_side() -> None:
    x = torch.rand(3, 5, 3)
    padded, pads = pad_to_multiple(x, 4, min_side=8)
    assert padded.shape == (3, 8, 8) and pads == (2, 3, 1, 2) and torch.equal(unpad(padded, pads), x)
    assert pad_to_multiple(torch.rand(3, 9, 12), 4, min_side=8)[0].shape == (3, 12, 12)


def test_resize_max_side() -> None:
    x = torch.rand(3, 100, 50)
    before = x.clone()
    y = resize_max_side(x, 40)
    assert y.shape == (3, 40, 20) and y.min() >= 0 and y.max() <= 1
    assert torch.equal(x, before)
    assert resize_max_side(x, 100) is x
    assert resize_max_side(torch.rand(2, 3, 10, 30), 15).shape == (2, 3, 5, 15)
    flat = torch.full((3, 64, 64), 0.3)
    assert torch.allclose(resize_max_side(flat, 16), torch.full((3, 16, 16), 0.3), atol=1e-5)
