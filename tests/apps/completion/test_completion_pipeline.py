import numpy as np
import pytest
import torch
from factories import make_tiny_completion_model

from dynamicnet.apps.completion.auto_alpha import AUTO_GRID, AutoAlphaCalibration
from dynamicnet.apps.completion.evaluate import (
    SHRINKAGE_GRID,
    calibrate_auto_alpha,
    evaluate_alphas,
    held_out_crops,
    summarize,
    write_calibration,
)
from dynamicnet.apps.completion.metrics import (
    hole_psnr,
    hole_ssim,
    perceptual_hole_distance,
    texture_hole_distance,
)
from dynamicnet.apps.completion.model import composite, masked_input, to_prediction
from dynamicnet.apps.completion.pipeline import CompletionPipeline
from dynamicnet.apps.completion.recipe import (
    CompletionObjective,
    CompletionRecipe,
    builtin_recipes,
    load_recipe,
)
from dynamicnet.data.masks import center_mask
from dynamicnet.errors import DynamicNetError
from dynamicnet.losses import VGG16Features


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return VGG16Features(("relu1_2", "relu2_2", "relu3_3"))  # random weights: fast, enough for plumbing


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return make_tiny_completion_model(tmp_path_factory.mktemp("m") / "tiny", hole_fill="push-pull")


@pytest.fixture(scope="module")
def pipe(tiny_folder, vgg):
    return CompletionPipeline.from_pretrained(tiny_folder, vgg=vgg)


def _image(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.round(torch.rand(3, h, w, generator=g) * 255) / 255


@pytest.mark.parametrize("size", [(37, 50), (5, 7), (64, 64), (1, 9)])
def test_any_size_known_pixels_exact(pipe, size):
    h, w = size
    image = _image(h, w)
    mask = torch.zeros(1, h, w)
    mask[:, h // 2, : max(1, w // 2)] = 1
    for a in (0.0, 0.6, 1.0):
        out = pipe(image, mask, alpha=a)
        assert out.shape == image.shape
        known = (mask < 0.5).expand(3, -1, -1)
        assert torch.equal(out[known], image[known])
        assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_working_scale_fills_the_whole_hole_and_keeps_known_pixels(pipe):
    image = _image(64, 80, seed=2)
    mask = center_mask(64, 80, hole=31)
    small = CompletionPipeline(pipe.model, pipe.config, max_side=32)
    out = small(image, mask, alpha=0.5)
    known = (mask < 0.5).expand(3, -1, -1)
    assert out.shape == image.shape and torch.equal(out[known], image[known])
    assert not torch.equal(out, pipe(image, mask, alpha=0.5))
    small.vgg = pipe.vgg
    assert small.auto_alpha(image, mask) in AUTO_GRID  # judged at the working scale
    with pytest.raises(DynamicNetError, match="max_side"):
        CompletionPipeline(pipe.model, pipe.config, max_side=4)


def test_alpha_zero_is_the_main_network_and_sweep_matches_calls(pipe):
    image = _image(32, 32)
    mask = pipe.default_mask(32, 32)
    assert mask.sum() == 16 * 16  # the model's training ratio (16 of 32)
    with torch.no_grad():
        x = masked_input(image[None], mask[None], pipe.hole_fill)
        pred = to_prediction(pipe.model.main(x), x, pipe.hole_fill)[0].clamp(0, 1)
    torch.testing.assert_close(pipe(image, mask, alpha=0.0), composite(image, mask, pred), rtol=0, atol=1e-6)
    sweep = pipe.sweep(image, mask, [0.0, 0.5, 1.0])
    for a, s in zip([0.0, 0.5, 1.0], sweep):
        torch.testing.assert_close(s, pipe(image, mask, alpha=a), rtol=0, atol=1e-6)
    assert not torch.equal(sweep[0], sweep[2])


def test_inputs_are_not_modified_and_bad_masks_are_rejected(pipe):
    image = _image(16, 16)
    mask = center_mask(16, 16)
    before = (image.clone(), mask.clone())
    pipe(image, mask, alpha=0.5)
    assert torch.equal(image, before[0]) and torch.equal(mask, before[1])
    for bad, words in [
        (torch.zeros(1, 16, 16), "no hole"),
        (torch.ones(1, 16, 16), "whole image"),
        (center_mask(16, 17), "must match"),
    ]:
        with pytest.raises(DynamicNetError, match=words):
            pipe(image, bad, alpha=0.5)
    with pytest.raises(DynamicNetError, match="RGB"):
        pipe(torch.rand(1, 16, 16), mask)


@pytest.mark.slow
def test_auto_alpha_picks_from_the_grid_and_falls_back(pipe):
    image = _image(32, 32)
    mask = pipe.default_mask(32, 32)
    assert pipe.auto_calibration == AutoAlphaCalibration()  # uncalibrated: the raw proxy criterion
    scores = pipe.auto_alpha_scores(image, mask, alphas=AUTO_GRID)
    assert len(scores) == len(AUTO_GRID) and all(np.isfinite(scores))
    assert pipe.auto_alpha(image, mask) == AUTO_GRID[int(np.argmin(scores))]
    assert pipe.auto_alpha(image, center_mask(32, 32, hole=30)) == 0.5  # no room for a proxy: the prior
    out = pipe(image, mask, alpha="auto")
    assert out.shape == image.shape


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_calibrate_auto_alpha_fits_and_is_stored(pipe, tiny_folder, vgg, tmp_path):
    import shutil

    groups = [[_image(32, 32, seed=s) for s in range(k, k + 2)] for k in (0, 10)]
    cal, report = calibrate_auto_alpha(pipe, groups, vgg, hole=16, grid=(0.0, 0.5, 1.0), source="test")
    assert cal.grid == (0.0, 0.5, 1.0) and len(cal.offset) == 3 and cal.shrinkage in SHRINKAGE_GRID
    assert report["photos"] == 2 and report["images"] == 4
    folder = tmp_path / "copy"
    shutil.copytree(tiny_folder, folder)
    write_calibration(folder, cal)
    again = CompletionPipeline.from_pretrained(folder)
    assert again.auto_calibration == cal and again.config["extra"]["default_alpha"] == cal.prior_alpha


def test_metrics_only_look_inside_the_hole(vgg):
    a = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    mask = center_mask(24, 24).expand(2, 1, 24, 24).clone()
    assert torch.all(hole_psnr(a, a, mask) == 100) and torch.allclose(hole_ssim(a, a, mask), torch.ones(2))
    fa = vgg(a)
    assert torch.allclose(perceptual_hole_distance(fa, fa, mask), torch.zeros(2))
    b = a.clone()
    b[:, :, :2] = 1 - b[:, :, :2]  # change known pixels far from the hole only
    assert torch.all(hole_psnr(b, a, mask) == 100)
    c = a.clone()
    c[..., 8:16, 8:16] = 0.5
    assert torch.all(hole_psnr(c, a, mask) < 30) and torch.all(hole_ssim(c, a, mask) < 1)
    assert torch.all(perceptual_hole_distance(vgg(c), fa, mask) > 0)
    assert torch.allclose(texture_hole_distance(fa, fa, mask), torch.zeros(2), atol=1e-7)
    assert torch.all(texture_hole_distance(vgg(c), fa, mask) > 0)


def test_texture_distance_rewards_the_right_texture_wherever_its_strokes_fall(vgg):
    """Stripes shifted by half a period are far from the truth pixel by pixel but have its statistics; a flat
    grey fill is closer pixel by pixel and has none of them. The texture term ranks them the other way round."""
    x = torch.arange(48, dtype=torch.float32)
    stripes = (0.5 + 0.4 * torch.sign(torch.sin(2 * torch.pi * x / 8)))[None, None, None].expand(1, 3, 48, 48)
    truth = stripes.clone()
    mask = center_mask(48, 48)[None]
    shifted = torch.where(mask > 0, stripes.roll(4, -1), truth)
    flat = torch.where(mask > 0, torch.full_like(truth, 0.5), truth)
    ft = vgg(truth)
    assert hole_psnr(flat, truth, mask) > hole_psnr(shifted, truth, mask)
    assert texture_hole_distance(vgg(shifted), ft, mask) < texture_hole_distance(vgg(flat), ft, mask)


@pytest.mark.slow
def test_evaluation_oracle_beats_every_global_alpha(pipe, vgg, tmp_path):
    from PIL import Image

    for i in range(2):
        Image.fromarray((np.random.default_rng(i).random((40, 50, 3)) * 255).astype(np.uint8)).save(
            tmp_path / f"{i}.png"
        )
    crops = held_out_crops(sorted(tmp_path.glob("*.png")), size=32, per_photo=2, seed=0)
    assert len(crops) == 4 and crops[0].shape == (3, 32, 32)
    result = evaluate_alphas(pipe, crops, [0.0, 0.5, 1.0], vgg, hole=16)
    chosen, oracle = result.oracle()
    # Per image, the α of its smallest distance; the oracle's figure is the mean of those minima.
    per_image = result.perceptual
    assert [result.alphas.index(a) for a in chosen] == [int(np.argmin(row)) for row in per_image]
    assert oracle == pytest.approx(float(np.mean([min(row) for row in per_image])))
    text = summarize(result, "tiny")
    assert "oracle" in text and "auto α" in text
    assert result.to_dict()["images"] == 4


def test_recipe_json_round_trip_and_validation(tmp_path):
    import json

    for recipe in builtin_recipes().values():
        path = tmp_path / "r.json"
        path.write_text(json.dumps(recipe.to_dict()))
        assert load_recipe(str(path)) == recipe
    recipe = builtin_recipes()["photos"]
    assert [p.name for p in recipe.phases()] == ["main", "higher"] and recipe.hole_side == recipe.size // 2 == 64
    with pytest.raises(DynamicNetError, match="unknown recipe key"):
        CompletionRecipe.from_dict({**recipe.to_dict(), "colour": 1})
    with pytest.raises(DynamicNetError, match="unknown hole_fill"):
        CompletionRecipe.from_dict({**recipe.to_dict(), "hole_fill": "blue"})
    with pytest.raises(DynamicNetError, match="GAN loss"):
        CompletionObjective(gan_kind="wasserstein")
    with pytest.raises(DynamicNetError, match="unknown recipe"):
        load_recipe("no-such-recipe")


def test_session_renders_what_the_pipeline_returns(pipe):
    image = _image(40, 52, seed=4)
    mask = center_mask(40, 52, hole=18)
    for max_side in (None, 24):
        p = CompletionPipeline(pipe.model, pipe.config, max_side=max_side)
        session = p.session(image, mask)
        for a in (0.0, 0.4, 1.0):
            torch.testing.assert_close(session.render(a), p(image, mask, alpha=a), rtol=0, atol=1e-6)
