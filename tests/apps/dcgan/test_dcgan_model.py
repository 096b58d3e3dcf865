"""The DCGAN generator/discriminator and its Dynamic-Net wrapper, on tiny widths. The checks every application's
model passes (α = 0 ≡ θ, α continuity, save → load, …) are in tests/apps/test_model_contract.py."""

from __future__ import annotations

import pytest
import torch
from factories import make_tiny_dcgan_model, tiny_dcgan_net

from dynamicnet.apps.dcgan.model import DCGANDiscriminator, DCGANGenerator
from dynamicnet.apps.dcgan.pipeline import DCGANPipeline
from dynamicnet.apps.dcgan.recipe import DCGANRecipe, builtin_recipes
from dynamicnet.apps.dcgan.train import build_model


@pytest.mark.parametrize(("size", "layers"), [(32, 4), (64, 5)])
def test_generator_and_discriminator_shapes(size, layers):
    g = DCGANGenerator(size, channels=3, nz=100, ngf=4)
    assert g.num_layers == layers
    z = torch.randn(2, 100, 1, 1)
    x = g(z)
    assert x.shape == (2, 3, size, size) and x.abs().max() <= 1  # tanh
    assert torch.equal(g(z.flatten(1)), x)  # (B, nz) is accepted too
    assert DCGANDiscriminator(size, 3, ndf=4)(x).shape == (2,)


def test_reference_insertion_point_is_256_channels_at_16x16():
    model = build_model(builtin_recipes()["reference"], channels=3)  # ngf = 128, 64×64
    assert model.insertion_points == ("layer3",) and model.channels == (256,)
    seen = {}
    model.main.layer3.register_forward_pre_hook(lambda m, a: seen.update(shape=tuple(a[0].shape)))
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 100, 1, 1)).shape == (1, 3, 64, 64)
    assert seen["shape"] == (1, 256, 16, 16)


def test_reference_initialisation():
    g = DCGANGenerator(64, 3, ngf=32)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.001
    bn = g.layer0[1]
    assert abs(bn.weight.mean().item() - 1) < 0.01 and torch.all(bn.bias == 0)


@pytest.mark.parametrize("size", [4, 24, 48])
def test_bad_image_size_is_rejected(size):
    with pytest.raises(ValueError, match="4·2"):
        DCGANGenerator(size)


def test_unknown_insertion_point_lists_valid_ones():
    from dynamicnet.errors import DynamicNetError

    with pytest.raises(DynamicNetError, match="layer2"):
        build_model(DCGANRecipe("x", image_size=32, ngf=4, insertion_points=("layer9",)), 1)


def test_eval_mode_output_does_not_depend_on_the_batch():
    model = tiny_dcgan_net()
    z = torch.randn(6, 100, 1, 1)
    with torch.no_grad():
        full = model(z, alpha=0.5)
        parts = torch.cat([model(z[:1], alpha=0.5), model(z[1:], alpha=0.5)])
    assert torch.allclose(full, parts, atol=1e-6)


def test_pipeline_from_a_model_folder(tmp_path):
    pipe = DCGANPipeline.from_pretrained(make_tiny_dcgan_model(tmp_path / "m"))
    g = pipe.model.main
    a, b = pipe(5, alpha=0.3, seed=7), pipe(5, alpha=0.3, seed=7)
    assert a.shape == (5, 1, 32, 32) and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, pipe(5, alpha=0.3, seed=8))
    sweep = pipe.sweep(5, [0.0, 0.3], seed=7)
    assert torch.equal(sweep[1], a)
    with torch.no_grad():
        assert torch.equal(sweep[0], ((g(pipe.noise(5, 7)) + 1) / 2).clamp(0, 1))  # α=0 ≡ θ
    assert not pipe.model.training
