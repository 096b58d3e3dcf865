import numpy as np
import pytest
import torch
from PIL import Image

from dynamicnet.data.folder import SyntheticImageDataset
from dynamicnet.data.masks import (
    MASK_KINDS,
    MaskedImageDataset,
    center_mask,
    check_mask,
    load_mask,
    make_mask,
    random_rect_mask,
    stroke_mask,
)
from dynamicnet.errors import DynamicNetError


def rng(seed=0):
    return np.random.default_rng(seed)


def test_center_mask_is_the_papers_half_size_square():
    m = center_mask(128, 128)
    assert m.shape == (1, 128, 128) and m.dtype == torch.float32
    assert m.sum() == 64 * 64 and m[0, 32:96, 32:96].all() and m[0, 31, 64] == 0
    odd = center_mask(37, 50, hole=10)
    ys, xs = torch.nonzero(odd[0], as_tuple=True)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (13, 22, 20, 29)
    with pytest.raises(DynamicNetError, match="hole side"):
        center_mask(10, 10, hole=11)


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_every_kind_is_binary_partial_and_replayable(kind):
    for seed in range(5):
        a = make_mask(kind, 48, 40, rng(seed))
        b = make_mask(kind, 48, 40, rng(seed))
        assert torch.equal(a, b) and a.shape == (1, 48, 40)
        assert set(a.unique().tolist()) == {0.0, 1.0}


def test_random_rectangles_stay_inside_and_vary():
    masks = [random_rect_mask(64, 64, rng(s)) for s in range(20)]
    assert len({m.nonzero()[0].tolist().__repr__() for m in masks}) > 10
    for m in masks:
        ys, xs = torch.nonzero(m[0], as_tuple=True)
        area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        assert area == m.sum()  # one solid rectangle
        assert 0.25**2 * 64 * 64 - 64 <= area <= 0.6**2 * 64 * 64 + 200


def test_strokes_cover_a_sensible_share_at_any_scale():
    for size in (32, 64, 256):
        for s in range(5):
            cover = float(stroke_mask(size, size, rng(s)).mean())
            assert 0.1 <= cover <= 0.45


def test_unknown_kind_and_missing_rng_are_clear():
    with pytest.raises(DynamicNetError, match="unknown mask kind"):
        make_mask("blob", 8, 8, rng())
    with pytest.raises(DynamicNetError, match="needs an rng"):
        make_mask("strokes", 8, 8)


def test_check_mask_rejects_empty_full_and_mismatched_masks_in_one_line():
    good = center_mask(8, 8)
    assert torch.equal(check_mask(good * 0.9, 8, 8), good)  # grey ≥ ½ counts as hole
    for mask, h, w, words in [
        (torch.zeros(1, 8, 8), 8, 8, "no hole"),
        (torch.ones(1, 8, 8), 8, 8, "whole image"),
        (good, 8, 9, "8x8 but the image is 9x8"),
    ]:
        with pytest.raises(DynamicNetError, match=words) as info:
            check_mask(mask, h, w, source="m.png")
        assert "\n" not in str(info.value) and "m.png" in str(info.value)


def test_load_mask_white_is_hole_and_transparent_is_known(tmp_path):
    a = np.zeros((6, 8), np.uint8)
    a[1:3, 2:5] = 255
    a[4, 6] = 100  # dark grey: known
    Image.fromarray(a).save(tmp_path / "m.png")
    m = load_mask(tmp_path / "m.png", size=(6, 8))
    assert m.shape == (1, 6, 8) and m.sum() == 6 and m[0, 1, 2] == 1 and m[0, 4, 6] == 0
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[2:4, 2:4, 3] = 255  # opaque white stroke on a transparent layer
    Image.fromarray(rgba, "RGBA").save(tmp_path / "layer.png")
    assert load_mask(tmp_path / "layer.png").sum() == 4
    with pytest.raises(DynamicNetError, match="8x6 but the image is 9x6"):
        load_mask(tmp_path / "m.png", size=(6, 9))
    with pytest.raises(DynamicNetError, match="nope.png"):
        load_mask(tmp_path / "nope.png")


def test_masked_dataset_draws_image_then_mask_from_the_trainers_rng():
    ds = MaskedImageDataset(SyntheticImageDataset(4, 32), "mixed")
    (i1, m1), (i2, m2) = ds.get(1, rng(7)), ds.get(1, rng(7))
    assert torch.equal(i1, i2) and torch.equal(m1, m2)
    assert i1.shape == (3, 32, 32) and m1.shape == (1, 32, 32) and len(ds) == 4
    kinds = {float(ds.get(0, rng(s))[1].sum()) for s in range(12)}
    assert len(kinds) > 2  # mixed: centre squares and random shapes


# ---------------------------------------------------------------------------------------------- geometry
def test_hole_components_split_far_holes_and_keep_a_scribble_together():
    from dynamicnet.data.masks import hole_components

    mask = torch.zeros(1, 300, 400)
    mask[:, 10:20, 20:300] = 1  # a scratch
    mask[:, 150:250, 250:350] = 1  # a square far from it
    mask[:, 150:250, 240:245] = 1  # a stroke 5 px from the square: the same hole
    parts = hole_components(mask)
    assert len(parts) == 2
    assert torch.equal(sum(parts), mask)  # a partition of the hole pixels
    assert float(parts[0].sum()) == 100 * 100 + 100 * 5  # largest first, the nearby stroke with it


def test_hole_depth_is_the_distance_to_known_pixels_not_the_box():
    from dynamicnet.data.masks import hole_depth

    assert hole_depth(center_mask(128, 128, 64)) == 32
    thin = torch.zeros(1, 200, 200)
    thin[:, 100:106, 0:200] = 1  # 6 px wide, as long as the image
    assert hole_depth(thin) == 3
    corner = torch.zeros(1, 100, 100)
    corner[:, :40, :40] = 1  # outside the image is not known: only the inner sides erode
    assert hole_depth(corner) == 40
    big = torch.zeros(1, 2048, 2048)
    big[:, 512:1536, 512:1536] = 1  # measured on a coarse grid: within a cell (8 px)
    assert abs(hole_depth(big) - 512) <= 8
