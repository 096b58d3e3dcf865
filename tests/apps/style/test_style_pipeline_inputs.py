"""StylePipeline takes PIL images, NumPy arrays, uint8/float tensors and batches, and gives back the same kind."""

import numpy as np
import pytest
import torch
from PIL import Image

from dynamicnet.apps.style.pipeline import StylePipeline

H, W = 20, 28
IMAGE = torch.rand(3, H, W, generator=torch.Generator().manual_seed(0))
U8 = (IMAGE * 255).round().to(torch.uint8)  # (3, H, W)
ARRAY = U8.permute(1, 2, 0).numpy()  # (H, W, 3) uint8


@pytest.fixture(scope="module")
def pipe(tiny_style_model):
    return StylePipeline.from_pretrained(tiny_style_model)


def test_float_tensor_runs_the_network_as_before(pipe):
    # work_side=None, a multiple of 4 above the minimum side: no resizing or padding, the network alone.
    out = pipe(IMAGE, alpha=0.5, work_side=None)
    with torch.no_grad():
        ref = pipe.model(IMAGE[None], alpha=0.5).clamp(0, 1)[0]
    assert out.dtype == torch.float32 and torch.equal(out, ref)


def test_uint8_tensor_array_and_pil_give_the_same_uint8_picture(pipe):
    reference = pipe(U8.float() / 255, alpha=0.7)
    quantized = (reference * 255).round().to(torch.uint8)
    from_tensor = pipe(U8, alpha=0.7)
    from_array = pipe(ARRAY, alpha=0.7)
    from_pil = pipe(Image.fromarray(ARRAY), alpha=0.7)
    assert from_tensor.dtype == torch.uint8 and torch.equal(from_tensor, quantized)
    assert isinstance(from_array, np.ndarray) and from_array.dtype == np.uint8 and from_array.shape == (H, W, 3)
    assert np.array_equal(from_array, quantized.permute(1, 2, 0).numpy())
    assert isinstance(from_pil, Image.Image) and from_pil.size == (W, H) and from_pil.mode == "RGB"
    assert np.array_equal(np.asarray(from_pil), from_array)


def test_float_arrays_keep_their_dtype(pipe):
    for dtype in (np.float32, np.float64):
        out = pipe(ARRAY.astype(dtype) / 255, alpha=1.0)
        assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == (H, W, 3)
        np.testing.assert_allclose(out, pipe(U8.float() / 255, alpha=1.0).permute(1, 2, 0).numpy(), atol=1e-6)


def test_batches_equal_one_image_at_a_time(pipe):
    batch = torch.stack([IMAGE, IMAGE.flip(-1)])
    out = pipe(batch, alpha=0.3, max_side=16)
    assert out.shape == (2, 3, 11, 16)
    assert torch.equal(out[1], pipe(IMAGE.flip(-1), alpha=0.3, max_side=16))
    arrays = pipe(np.stack([ARRAY, ARRAY]), alpha=0.3)
    assert arrays.shape == (2, H, W, 3) and arrays.dtype == np.uint8


def test_pil_transparency_is_kept(pipe):
    rgba = np.dstack([ARRAY, np.full((H, W), 200, np.uint8)])
    out = pipe(Image.fromarray(rgba, "RGBA"), alpha=0.5)
    assert out.mode == "RGBA" and np.all(np.asarray(out)[..., 3] == 200)
