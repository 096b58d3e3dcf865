"""CompletionPipeline takes PIL images, NumPy arrays, uint8/float tensors and batches (with masks in the same
forms), gives back the same kind, and keeps every known pixel of the input exactly."""

import numpy as np
import pytest
import torch
from factories import make_tiny_completion_model
from PIL import Image

from dynamicnet.apps.completion.pipeline import CompletionPipeline

H, W = 24, 32
IMAGE = torch.rand(3, H, W, generator=torch.Generator().manual_seed(0))
U8 = (IMAGE * 255).round().to(torch.uint8)
ARRAY = U8.permute(1, 2, 0).numpy()  # (H, W, 3) uint8
HOLE = np.zeros((H, W), bool)
HOLE[6:14, 10:20] = True


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return CompletionPipeline.from_pretrained(
        make_tiny_completion_model(tmp_path_factory.mktemp("m") / "tiny", hole_fill="push-pull")
    )


def test_float_tensor_path_is_unchanged(pipe):
    mask = torch.from_numpy(HOLE)[None].float()
    out = pipe(IMAGE, mask, alpha=0.5)
    assert out.dtype == torch.float32 and torch.equal(out, pipe._complete(IMAGE, mask, 0.5))
    assert torch.equal(out[:, ~torch.from_numpy(HOLE)], IMAGE[:, ~torch.from_numpy(HOLE)])


def test_uint8_array_with_bool_mask_keeps_known_pixels_exactly(pipe):
    out = pipe(ARRAY, HOLE, alpha=0.5)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (H, W, 3)
    assert np.array_equal(out[~HOLE], ARRAY[~HOLE])
    assert np.array_equal(out, pipe(U8, torch.from_numpy(HOLE)[None], alpha=0.5).permute(1, 2, 0).numpy())


def test_pil_image_and_pil_mask_give_a_pil_image(pipe):
    out = pipe(Image.fromarray(ARRAY), Image.fromarray(HOLE.astype(np.uint8) * 255), alpha=1.0)
    assert isinstance(out, Image.Image) and out.size == (W, H) and out.mode == "RGB"
    assert np.array_equal(np.asarray(out), pipe(ARRAY, HOLE, alpha=1.0))


def test_a_batch_takes_one_mask_each_and_equals_single_calls(pipe):
    masks = torch.zeros(2, 1, H, W)
    masks[0, :, 2:8, 2:8] = 1
    masks[1, :, 10:20, 12:30] = 1
    batch = torch.stack([IMAGE, IMAGE.flip(-1)])
    out = pipe(batch, masks, alpha=0.0)
    assert out.shape == (2, 3, H, W)
    for i in range(2):
        assert torch.equal(out[i], pipe(batch[i], masks[i], alpha=0.0))
    default = pipe(batch, alpha=0.0)  # no mask: each image gets the default centre hole
    assert torch.equal(default[1], pipe(batch[1], alpha=0.0))
