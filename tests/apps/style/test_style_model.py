"""The style network and what its pipeline does with it; the checks every application's model passes (α = 0 ≡ θ,
one block at a time, save → load, determinism, …) are in tests/apps/test_model_contract.py."""

import json

import pytest
import torch
from factories import tiny_style_net

from dynamicnet.apps.style.model import REFERENCE_POINTS, TransformerNet
from dynamicnet.apps.style.recipe import StyleRecipe, builtin_recipes
from dynamicnet.apps.style.train import build_model

X = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def net():
    return tiny_style_net("dual")  # blocks scaled up 3×: their effect is clearly visible


def test_reference_architecture_shapes():
    main = TransformerNet(width=32)
    assert main(torch.rand(1, 3, 64, 48)).shape == (1, 3, 64, 48)
    convs = [m for m in main.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size[0] for c in (convs[0], convs[-1])] == [9, 9]
    assert (convs[0].out_channels, convs[1].out_channels, convs[2].out_channels) == (32, 64, 128)
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) and m.affine for m in main.modules()) == len(convs) - 1
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in main.modules()) == len(convs)


def test_reference_insertion_points_and_channels():
    model = build_model(builtin_recipes()["level"].with_overrides(width=32))
    assert model.insertion_points == REFERENCE_POINTS == ("res3", "up1", "out")
    assert model.channels == (128, 128, 32)


def test_tapered_width_sets_each_stage_and_round_trips_through_a_model_folder(tmp_path):
    from dynamicnet.core.checkpoint import load_pretrained

    recipe = builtin_recipes()["level"].with_overrides(width=(8, 16, 48))
    assert StyleRecipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe  # as provenance holds it
    model = build_model(recipe)
    convs = [m for m in model.main.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs[:3]] == [8, 16, 48]
    assert [c.in_channels for c in convs[-3:]] == [48, 16, 8]  # up1, up2, out
    assert model.channels == (48, 48, 8)
    assert TransformerNet(width=16).state_dict().keys() == TransformerNet(width=(16, 32, 64)).state_dict().keys()
    for a, b in zip(TransformerNet(width=16).parameters(), TransformerNet(width=(16, 32, 64)).parameters()):
        assert a.shape == b.shape
    model.save_pretrained(
        tmp_path / "m", application="style", architecture="johnson", main_kwargs={"width": (8, 16, 48)}
    )
    loaded, config = load_pretrained(tmp_path / "m")
    assert config["architecture"]["kwargs"] == {"width": [8, 16, 48]}
    with torch.no_grad():
        torch.testing.assert_close(loaded(X, alpha=0.7), model.eval()(X, alpha=0.7), rtol=0, atol=0)


@pytest.mark.parametrize("width", [0, (8, 16), (8, 0, 48), (8, 16.0, 48), True])
def test_bad_widths_are_refused(width):
    with pytest.raises(ValueError, match="width must be"):
        TransformerNet(width=width)


def test_last_block_contribution_is_affine_in_alpha(net):
    # The output conv is linear, so a block in front of it adds exactly α·(W ψ(z)) (the demo's fast path).
    with torch.no_grad():
        y0, y1, yh = (net(X, alpha=[0, 0, a]) for a in (0.0, 1.0, 0.5))
    torch.testing.assert_close(yh, y0 + 0.5 * (y1 - y0), rtol=0, atol=1e-5)


def test_session_render_equals_pipeline_call(net):
    from dynamicnet.apps.style.pipeline import StylePipeline

    pipe = StylePipeline(net, {"application": "style", "dynamic": {"alpha_range": [-1, 1]}})
    image = torch.rand(3, 45, 61, generator=torch.Generator().manual_seed(5))
    session = pipe.session(image, preview_side=16)
    for a in (0.0, 0.5, -1.0, [0, 0, 1.0]):
        full = session.render(a)
        assert full.shape == image.shape
        torch.testing.assert_close(full, pipe(image, alpha=a), rtol=0, atol=1e-4)
        assert max(session.render(a, preview=True).shape[1:]) == 16


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 7), (3, 40)])
def test_tiny_images_keep_their_size(net, size):
    from dynamicnet.apps.style.pipeline import StylePipeline

    pipe = StylePipeline(net, {"application": "style", "dynamic": {"alpha_range": [-1, 1]}})
    image = torch.rand(3, *size, generator=torch.Generator().manual_seed(0))
    out = pipe(image, alpha=0.5)
    assert out.shape == image.shape
    torch.testing.assert_close(pipe.session(image).render(0.5), out, rtol=0, atol=1e-4)


def _pipe(net, work_side=None):
    from dynamicnet.apps.style.pipeline import StylePipeline

    extra = {"work_side": work_side} if work_side else {}
    return StylePipeline(net, {"application": "style", "dynamic": {"alpha_range": [-1, 1]}, "extra": extra})


def test_work_side_runs_the_network_small_and_upscales(net):
    image = torch.rand(3, 60, 90, generator=torch.Generator().manual_seed(1))
    pipe = _pipe(net, work_side=32)
    assert pipe.default_work_side == 32 and pipe.working_side(image.shape[1:]) == 32
    out = pipe(image, alpha=0.5)
    assert out.shape == image.shape
    # the same as stylising a 32 px copy and upscaling it, not as the full-resolution run
    small = pipe(image, alpha=0.5, max_side=32)
    assert small.shape == (3, 21, 32)
    up = torch.nn.functional.interpolate(small[None], size=(60, 90), mode="bicubic", align_corners=False)[0]
    torch.testing.assert_close(out, up.clamp(0, 1), rtol=0, atol=1e-5)
    full = pipe(image, alpha=0.5, work_side=None)
    assert full.shape == image.shape and not torch.allclose(full, out, atol=1e-2)
    torch.testing.assert_close(full, _pipe(net)(image, alpha=0.5), rtol=0, atol=0)  # no work side recorded
    # smaller images and an explicit max_side below the work side are untouched by it
    assert pipe.working_side((20, 30)) is None and pipe.working_side((60, 90), max_side=24) == 24
    for a in (0.0, 1.0, -0.5):
        torch.testing.assert_close(pipe.session(image).render(a), pipe(image, alpha=a), rtol=0, atol=1e-4)
    assert pipe.sweep(image, [0.0, 1.0])[1].shape == image.shape


def test_style_score_is_four_for_the_photo_and_zero_for_the_style():
    from dynamicnet.apps.style.evaluate import StyleScorer, fit_side
    from dynamicnet.losses import load_vgg16

    vgg = load_vgg16("random")
    style = torch.rand(3, 40, 60, generator=torch.Generator().manual_seed(2))
    photo = torch.rand(3, 40, 60, generator=torch.Generator().manual_seed(3)) * 0.5
    scorer = StyleScorer(vgg, style, side=60)
    same = scorer(photo, photo)
    assert same.score == pytest.approx(4.0) and same.content == 0.0
    styled = scorer(style, photo)  # the style image itself, at the scorer's side
    assert styled.score == pytest.approx(0.0, abs=1e-6) and styled.content > 0
    assert fit_side(style, 30).shape == (3, 20, 30) and fit_side(style, 60) is style
    assert set(styled.layers) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    with pytest.raises(ValueError, match="differ in shape"):
        scorer(photo[:, :30], photo)
