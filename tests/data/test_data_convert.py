"""The pipelines' image conversion: every input kind to float (3, H, W) tensors, and results back to that kind."""

import numpy as np
import pytest
import torch
from PIL import Image

from dynamicnet.data.convert import as_image_batch, as_mask_list, pil_to_tensor
from dynamicnet.data.masks import check_mask
from dynamicnet.errors import DynamicNetError

RNG = np.random.default_rng(0)
U8 = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)  # (H, W, 3)


def test_float32_tensor_passes_through_untouched():
    x = torch.rand(3, 5, 7)
    batch = as_image_batch(x)
    assert batch.images[0] is x and not batch.batched
    out = torch.rand(3, 5, 7)
    assert batch.restore([out]) is out  # the pipelines' existing tensor path: no copy, no conversion


def test_uint8_array_pil_and_tensor_read_alike():
    from_array = as_image_batch(U8).images[0]
    from_pil = as_image_batch(Image.fromarray(U8)).images[0]
    from_tensor = as_image_batch(torch.from_numpy(U8).permute(2, 0, 1)).images[0]
    assert from_array.dtype == torch.float32 and from_array.shape == (3, 5, 7)
    assert torch.equal(from_array, from_pil) and torch.equal(from_array, from_tensor)
    assert torch.equal(from_array, torch.from_numpy(U8).permute(2, 0, 1).float() / 255)


@pytest.mark.parametrize(
    "image",
    [U8, U8.astype(np.uint16) * 257, U8.astype(np.float16) / 255, U8 / 255.0, np.stack([U8, U8[::-1]])],
    ids=["u8", "u16", "f16", "f64", "batch"],
)
def test_arrays_come_back_as_arrays_of_their_dtype(image):
    before = image.copy()
    batch = as_image_batch(image)
    back = batch.restore(batch.images)
    assert isinstance(back, np.ndarray) and back.dtype == image.dtype and back.shape == image.shape
    if image.dtype.kind == "u":
        assert np.array_equal(back, image)  # integer → float → integer is exact
    else:
        np.testing.assert_allclose(back, image, atol=1e-3)
    assert np.array_equal(image, before)


@pytest.mark.parametrize(
    "image",
    [torch.from_numpy(U8).permute(2, 0, 1), torch.rand(2, 3, 5, 7, dtype=torch.float64), torch.rand(3, 5, 7).half()],
    ids=["u8", "f64-batch", "f16"],
)
def test_tensors_come_back_as_tensors_of_their_dtype(image):
    batch = as_image_batch(image)
    assert all(x.dtype == torch.float32 and x.shape == (3, 5, 7) for x in batch.images)
    back = batch.restore(batch.images)
    assert back.dtype == image.dtype and back.shape == image.shape
    if image.dtype == torch.uint8:
        assert torch.equal(back, image)


def test_pil_comes_back_as_pil_with_its_transparency():
    rgba = np.dstack([U8, np.full((5, 7), 255, np.uint8)])
    rgba[0, 0, 3] = 0  # one transparent pixel
    rgba[1, 1, 3] = 128
    batch = as_image_batch(Image.fromarray(rgba, "RGBA"))
    back = batch.restore(batch.images)
    assert isinstance(back, Image.Image) and back.mode == "RGBA" and back.size == (7, 5)
    assert np.array_equal(np.asarray(back)[..., 3], rgba[..., 3])
    opaque = as_image_batch(Image.fromarray(U8))
    out = opaque.restore(opaque.images)
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), U8)
    grey = as_image_batch(Image.fromarray(U8[..., 0], "L"))
    assert grey.images[0].shape == (3, 5, 7)  # the networks see RGB


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (torch.rand(5, 7, 3), "channels-first"),
        (U8.transpose(2, 0, 1), "channels-last"),
        (U8[..., 0], r"\(H, W, 3\)"),
        (U8.astype(np.int64), "dtype int64"),
        (torch.ones(3, 5, 7, dtype=torch.int32), "torch.int32"),
        ([U8], "got list"),
        (torch.rand(0, 3, 5, 7), "empty batch"),
    ],
)
def test_unsupported_inputs_are_one_line_errors(image, message):
    with pytest.raises(DynamicNetError, match=message):
        as_image_batch(image)


def test_masks_in_every_form_mean_the_same_hole():
    hole = np.zeros((5, 7), bool)
    hole[1:3, 2:5] = True
    expected = torch.from_numpy(hole)[None].float()
    single = as_image_batch(U8)
    for mask in (
        hole,
        hole.astype(np.uint8),
        hole.astype(np.uint8) * 255,
        hole[..., None].astype(np.float32),
        Image.fromarray(hole.astype(np.uint8) * 255),
        torch.from_numpy(hole)[None].float(),
    ):
        (m,) = as_mask_list(mask, single)
        assert torch.equal(check_mask(m, 5, 7), expected), type(mask)
    tensor = torch.from_numpy(hole)[None].float()
    assert as_mask_list(tensor, single)[0] is tensor  # tensors pass as they are
    assert as_mask_list(None, single) == [None]


def test_batches_take_one_mask_for_all_or_one_each():
    batch = as_image_batch(np.stack([U8, U8, U8]))
    one = np.zeros((5, 7), bool)
    assert len(as_mask_list(one, batch)) == 3
    each = np.zeros((3, 5, 7), bool)
    each[1, 0, 0] = True
    masks = as_mask_list(each, batch)
    assert [float(m.sum()) for m in masks] == [0.0, 1.0, 0.0]
    per_tensor = as_mask_list(torch.zeros(3, 1, 5, 7), as_image_batch(torch.rand(3, 3, 5, 7)))
    assert [tuple(m.shape) for m in per_tensor] == [(5, 7)] * 3
    with pytest.raises(DynamicNetError, match="does not fit 3 image"):
        as_mask_list(np.zeros((2, 5, 7), bool), batch)
    with pytest.raises(DynamicNetError, match="does not fit 1 image"):
        as_mask_list(np.zeros((5, 7, 3)), as_image_batch(U8))


def test_pil_to_tensor_keeps_the_images_channels():
    assert pil_to_tensor(Image.fromarray(U8[..., 0], "L")).shape == (1, 5, 7)
    assert pil_to_tensor(Image.fromarray(U8)).shape == (3, 5, 7)
    assert pil_to_tensor(Image.fromarray(U8).convert("RGBA")).shape == (4, 5, 7)
    assert pil_to_tensor(Image.fromarray(U8).convert("P")).shape == (3, 5, 7)
    assert torch.equal(pil_to_tensor(Image.fromarray(U8)), as_image_batch(U8).images[0])
