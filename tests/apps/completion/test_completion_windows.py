"""Filling at the model's scale: per-hole windows, working scale from the hole's depth, seamless upsampling."""

import pytest
import torch
import torch.nn.functional as F
from factories import make_tiny_completion_model

from dynamicnet.apps.completion.model import push_pull
from dynamicnet.apps.completion.pipeline import CompletionPipeline, upsample_fill
from dynamicnet.data.masks import center_mask


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    folder = make_tiny_completion_model(tmp_path_factory.mktemp("m") / "tiny", size=32, hole=16)  # depth 8 px
    return CompletionPipeline.from_pretrained(folder)


def photo(h, w):
    """A smooth image with fine texture: what a seam would show up in."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    texture = 0.05 * torch.sin(x * w / 2) * torch.sin(y * h / 3)
    return torch.stack([0.3 + 0.4 * x + texture, 0.2 + 0.5 * y, 0.6 - 0.3 * x * y + texture]).clamp(0, 1)


def test_working_scale_follows_the_holes_depth(pipe):
    image = photo(256, 256)
    square = center_mask(256, 256, 64)  # 32 px deep: four times the training depth
    (win,) = pipe.plan(image, square)
    top, bottom, left, right = win.box
    assert (top, bottom, left, right) == (32, 224, 32, 224)  # the hole and twice its depth around it
    assert tuple(win.image.shape[-2:]) == (48, 48)  # shrunk 4× so the hole is 8 px deep, as trained
    scratch = torch.zeros(1, 256, 256)
    scratch[:, 100:104, 20:230] = 1  # 2 px deep: filled at full resolution
    (win,) = pipe.plan(image, scratch)
    assert tuple(win.image.shape[-2:]) == (win.box[1] - win.box[0], win.box[3] - win.box[2])
    capped = CompletionPipeline(pipe.model, pipe.config, max_side=32)
    assert max(capped.plan(image, square)[0].image.shape[-2:]) == 32


def test_large_photo_hole_known_pixels_exact_and_no_seam(pipe, monkeypatch):
    image = photo(384, 512)
    mask = torch.zeros(1, 384, 512)
    mask[:, 128:224, 160:288] = 1  # about 1/16 of the area
    out = pipe(image, mask, alpha=0.5)
    known = (mask == 0).expand(3, -1, -1)
    assert torch.equal(out[known], image[known])
    # With a network that fills the working-scale window perfectly (the downscaled truth), what reaches full
    # resolution continues its neighbours across the hole's edge: the step between the last known row/column
    # and the first filled one is no larger than steps inside the photo.
    monkeypatch.setattr(pipe, "_fill", lambda prepared, pads, image, mask, alpha: image)
    out = pipe(image, mask, alpha=0.5)
    steps = [
        (out[:, 128, 160:288] - out[:, 127, 160:288]).abs().mean(),
        (out[:, 223, 160:288] - out[:, 224, 160:288]).abs().mean(),
        (out[:, 128:224, 160] - out[:, 128:224, 159]).abs().mean(),
        (out[:, 128:224, 287] - out[:, 128:224, 288]).abs().mean(),
    ]
    typical = (image[:, :, 1:] - image[:, :, :-1]).abs().mean() + (image[:, 1:] - image[:, :-1]).abs().mean()
    assert max(float(s) for s in steps) < 1.5 * float(typical)  # a plain upsampled paste measures 1.7×


def test_separate_holes_are_filled_independently(pipe):
    image = photo(200, 300)
    a, b = torch.zeros(1, 200, 300), torch.zeros(1, 200, 300)
    a[:, 20:40, 20:40] = 1
    b[:, 150:180, 240:280] = 1
    both = pipe(image, a + b, alpha=1.0)
    only_a, only_b = pipe(image, a, alpha=1.0), pipe(image, b, alpha=1.0)
    assert torch.equal(both[:, 20:40, 20:40], only_a[:, 20:40, 20:40])
    assert torch.equal(both[:, 150:180, 240:280], only_b[:, 150:180, 240:280])
    session = pipe.session(image, a + b)
    assert torch.equal(session.render(1.0), both) and len(session.windows) == 2


def test_push_pull_keeps_known_values_and_fills_smoothly():
    values = torch.linspace(0, 1, 64).expand(1, 64, 64).clone()  # a horizontal ramp
    known = torch.ones(1, 64, 64)
    known[:, 16:48, 16:48] = 0
    filled = push_pull(values * known, known)
    assert torch.equal(filled[known.bool()], values[known.bool()])
    inside = filled[0, 16:48, 16:48]
    assert float((inside - values[0, 16:48, 16:48]).abs().max()) < 0.15  # close to the ramp it interrupts
    assert float(inside.min()) >= 0 and float(inside.max()) <= 1
    const = push_pull(torch.full((3, 20, 30), 0.7) * known[:, :20, :30], known[:, :20, :30])
    assert torch.allclose(const, torch.full_like(const, 0.7))


def test_upsample_fill_carries_the_photos_detail_to_the_hole_edge():
    crop = photo(128, 128)
    mask = center_mask(128, 128, 48)
    small = F.interpolate(crop[None], size=(32, 32), mode="bilinear", antialias=True, align_corners=False)[0]
    out = upsample_fill(small, crop, mask)
    known = (mask == 0).expand(3, -1, -1)
    assert torch.allclose(out[known], crop[known], atol=1e-5)  # known pixels come back (then pasted exactly)
    plain = F.interpolate(small[None], size=(128, 128), mode="bilinear", align_corners=False)[0]
    edge = (slice(None), slice(40, 88), 40)  # first hole column: its neighbour's detail, not the blur
    assert float((out[edge] - crop[edge]).abs().mean()) < float((plain[edge] - crop[edge]).abs().mean())
