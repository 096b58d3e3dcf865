"""The checks every application's model passes, run once per application (issue #12; STYLE.md points 10 and 11).

α = 0 runs exactly θ (in eval and train mode, without evaluating a block); the output moves continuously with α;
a block's α acts through that block alone, from its insertion point on; an input prepared for many α gives the
forward pass's output; save → load gives the same model and outputs; the same seed gives the same model; and the
application's tuning phases, run through the shared trainer, train the blocks and leave every θ weight and norm
statistic as it was.

Each application supplies its tiny model (tests/factories.py, through the application's own ``build_model``), an
example input, the α forms it accepts, and the task, recipe and data its tuning phases train with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from factories import (
    make_tiny_completion_model,
    make_tiny_dcgan_model,
    make_tiny_style_model,
    tiny_completion_net,
    tiny_dcgan_net,
    tiny_style_net,
)

from dynamicnet.core import LOWER, DynamicNet, PreparedInput, load_pretrained
from dynamicnet.engines import Runtime
from dynamicnet.training import Trainer, TrainerConfig

# Two insertion points for the DCGAN, so that per-block α and block isolation have something to isolate (the
# recipe's default is one, layer2 at 32×32).
DCGAN_POINTS = ("layer1", "layer2")


def _style_input() -> torch.Tensor:
    return torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))  # (B, 3, H, W)


def _completion_input() -> torch.Tensor:
    from dynamicnet.apps.completion.model import masked_input
    from dynamicnet.data.masks import center_mask

    image = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    return masked_input(image, center_mask(32, 40).expand(2, 1, 32, 40), "push-pull")  # (B, 4, H, W)


def _dcgan_input() -> torch.Tensor:
    return torch.randn(4, 100, 1, 1, generator=torch.Generator().manual_seed(0))  # z: (B, nz, 1, 1)


def _config(out: Path) -> TrainerConfig:
    return TrainerConfig(out, batch_size=2, progress=False, log_every=0, checkpoint_every=0)


def _tune_style(model: DynamicNet, out: Path) -> None:
    """Both tuning phases of the dual recipe ("higher" at α = 1, "lower" at α = −1), one step each."""
    from dynamicnet.apps.style.recipe import builtin_recipes
    from dynamicnet.apps.style.train import StyleTask
    from dynamicnet.data.folder import SyntheticImageDataset
    from dynamicnet.losses import VGG16Features

    recipe = builtin_recipes()["dual"]
    small = {k: dataclasses.replace(v, style_size=32) for k, v in recipe.sets.items()}  # cheap Gram targets
    recipe = recipe.with_overrides(width=4, size=32, batch_size=2, tuning_steps=1, sets=small)
    task = StyleTask(model, recipe, VGG16Features(), torch.device("cpu"))
    Trainer(task, SyntheticImageDataset(4, 32), recipe.phases()[1:], _config(out)).fit()


def _tune_completion(model: DynamicNet, out: Path) -> None:
    """The "higher" phase of the photos recipe (L1 + VGG + SSIM at α = 1), one step."""
    from dynamicnet.apps.completion.metrics import PERCEPTUAL_TAPS
    from dynamicnet.apps.completion.recipe import builtin_recipes
    from dynamicnet.apps.completion.train import CompletionTask
    from dynamicnet.data.folder import SyntheticImageDataset
    from dynamicnet.data.masks import MaskedImageDataset
    from dynamicnet.losses import VGG16Features

    recipe = builtin_recipes()["photos"].with_overrides(
        width=4, dilations=(1, 2, 1), size=32, batch_size=2, tuning_steps=1
    )
    task = CompletionTask(model, recipe, torch.device("cpu"), vgg=VGG16Features(PERCEPTUAL_TAPS))
    data = MaskedImageDataset(SyntheticImageDataset(4, 32), "mixed")
    Trainer(task, data, recipe.phases()[1:], _config(out)).fit()


def _tune_dcgan(model: DynamicNet, out: Path) -> None:
    """The "higher" phase (the block against a fresh discriminator on the O1 images, α = 1), one step."""
    from dynamicnet.apps.dcgan.data import PhaseDataset, SyntheticLabelled, split_by_attribute
    from dynamicnet.apps.dcgan.recipe import DCGANRecipe
    from dynamicnet.apps.dcgan.train import DCGANTask

    recipe = DCGANRecipe(
        "tiny", image_size=32, ngf=4, ndf=4, batch_size=2, tuning_steps=1, insertion_points=DCGAN_POINTS
    )
    split = split_by_attribute(SyntheticLabelled(6, 32), "label", "even")
    data = PhaseDataset(split)
    task = DCGANTask(model, recipe, data, torch.device("cpu"))
    Trainer(task, data, recipe.phases(len(split.main), len(split.tuning))[1:], _config(out)).fit()


@dataclasses.dataclass(frozen=True)
class App:
    name: str
    build: Callable[[int], DynamicNet]  # seed → the tiny model, in eval mode
    save: Callable[[Path], Path]  # folder → the seed-0 model saved there
    example: Callable[[], torch.Tensor]
    alphas: tuple[Any, ...]  # α forms beyond 0, in every form the model accepts
    prepared_fast: bool  # PreparedInput splits off the α-independent prefix (an nn.Sequential θ)
    norm_stats: bool  # θ has normalisation statistics (BatchNorm running mean/var) a tuning phase could move
    tune: Callable[[DynamicNet, Path], None]  # the application's tuning phases, one step each, in the trainer


APPS = [
    App(
        "style",
        lambda seed: tiny_style_net("dual", seed),
        lambda folder: make_tiny_style_model(folder, "dual", alpha_range=(-1.0, 1.0)),
        _style_input,
        (0.3, 1.0, -0.7, -1.0, [0.0, 0.0, 0.7], [1.0, -0.5, 0.25], {"higher": 0.4, "lower": 0.4}),
        prepared_fast=True,
        norm_stats=False,
        tune=_tune_style,
    ),
    App(
        "completion",
        lambda seed: tiny_completion_net(seed),
        make_tiny_completion_model,
        _completion_input,
        (0.3, 1.0, [0.5, 0.0, 1.0], [0.0, 0.7, 0.0], {"higher": [0.2, 0.4, 0.6]}),
        prepared_fast=True,
        norm_stats=False,
        tune=_tune_completion,
    ),
    App(
        "dcgan",
        lambda seed: tiny_dcgan_net(3, seed, insertion_points=DCGAN_POINTS),
        lambda folder: make_tiny_dcgan_model(folder, 3, insertion_points=DCGAN_POINTS),
        _dcgan_input,
        (0.3, 1.0, [0.0, 0.8], [1.0, 0.25], {"higher": 0.6}),
        prepared_fast=False,
        norm_stats=True,
        tune=_tune_dcgan,
    ),
]


@pytest.fixture(params=APPS, ids=[a.name for a in APPS])
def app(request) -> App:
    return request.param


def _directions(net: DynamicNet) -> list[tuple[str, float]]:
    """(block set, sign of a plain α that drives it): "higher" by α > 0 and, on a dual model, "lower" by α < 0."""
    return [(s, -1.0 if s == LOWER else 1.0) for s in net.set_names]


class _Probe:
    """Records, per forward pass, which blocks ran and the activation entering each insertion point before the
    blocks add to it (a pre-hook that runs ahead of the wrapper's)."""

    def __init__(self, net: DynamicNet) -> None:
        self.net = net
        self.calls: list[tuple[str, int]] = []
        self.entering: dict[str, torch.Tensor] = {}
        self.order: list[str] = []
        modules = dict(net.main.named_modules())
        self._handles = [
            modules[p].register_forward_pre_hook(self._enter(p), prepend=True) for p in net.insertion_points
        ]
        self._handles += [
            net.block(s, i).register_forward_hook(self._ran(s, i)) for s in net.set_names for i in range(net.num_blocks)
        ]

    def _enter(self, point: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            self.entering[point] = args[0].detach().clone()
            self.order.append(point)

        return hook

    def _ran(self, set_name: str, index: int) -> Callable[..., None]:
        return lambda module, args, out: self.calls.append((set_name, index))

    def run(self, x: torch.Tensor, alpha: Any) -> torch.Tensor:
        self.calls, self.entering, self.order = [], {}, []
        with torch.no_grad():
            out: torch.Tensor = self.net(x, alpha=alpha)
        return out

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_alpha_zero_runs_exactly_the_main_network_and_no_block(app, mode):
    net = app.build(0)
    getattr(net, mode)()
    x = app.example()
    probe = _Probe(net)
    try:
        with torch.no_grad():
            ref = net.main(x)  # θ alone, same mode
        zeros = (None, 0, 0.0, [0.0] * net.num_blocks, {s: 0.0 for s in net.set_names})
        for alpha in zeros:
            assert torch.equal(probe.run(x, alpha), ref), alpha
            assert probe.calls == [], alpha  # the blocks are not even evaluated
    finally:
        probe.close()


def test_alpha_moves_the_output_continuously(app):
    net = app.build(0)
    x = app.example()
    with torch.no_grad():
        base = net(x, alpha=0.0)
        for _, sign in _directions(net):
            walk = [net(x, alpha=sign * a) for a in torch.linspace(0, 1, 21).tolist()]
            span = float((walk[-1] - base).abs().max())
            assert not torch.allclose(walk[-1], base, atol=1e-3)  # the blocks act
            jumps = [float((b - a).abs().max()) for a, b in zip(walk, walk[1:])]
            assert max(jumps) < 5 * span / 20 + 1e-6  # no step of the walk jumps
            nearby = net(x, alpha=sign * 0.501)
            assert float((nearby - walk[10]).abs().max()) < 0.01 * span  # α = 0.5 ± 0.001


def test_each_blocks_alpha_acts_through_that_block_from_its_point_on(app):
    net = app.build(0)
    x = app.example()
    probe = _Probe(net)
    try:
        base = probe.run(x, [0.0] * net.num_blocks)
        entering_base = dict(probe.entering)
        order = list(probe.order)  # insertion points in the order the forward pass reaches them
        assert sorted(order) == sorted(net.insertion_points)
        for set_name, sign in _directions(net):
            outs = []
            for i, point in enumerate(net.insertion_points):
                alpha = [sign * (0.8 if j == i else 0.0) for j in range(net.num_blocks)]  # one block on
                out = probe.run(x, alpha)
                assert probe.calls == [(set_name, i)], (set_name, point)  # that block, once; no other
                assert out.shape == base.shape and not torch.allclose(out, base), (set_name, point)
                reached = order.index(point)
                for k, other in enumerate(order):
                    same = torch.equal(probe.entering[other], entering_base[other])
                    # upstream of (and at) the block: untouched, bit for bit; downstream: the block's change flows on
                    assert same is (k <= reached), (set_name, point, other)
                outs.append(out)
            for a in range(len(outs)):  # each block has its own effect
                for b in range(a + 1, len(outs)):
                    assert not torch.allclose(outs[a], outs[b]), (set_name, a, b)
    finally:
        probe.close()


def test_prepared_input_equals_the_forward_pass(app):
    net = app.build(0)
    x = app.example()
    assert PreparedInput(net, x).fast is app.prepared_fast
    runtime = Runtime(net, "torch")  # what the pipelines use
    prepared = runtime.prepare(x)
    alphas = (0.0, *app.alphas)
    with torch.no_grad():
        for alpha in alphas + alphas[::-1]:  # the second pass reuses what the first cached
            expected = net(x, alpha=alpha)
            torch.testing.assert_close(
                prepared(alpha), expected, rtol=0, atol=1e-5, msg=lambda m, a=alpha: f"α = {a}: {m}"
            )
            assert torch.equal(runtime.forward(x, alpha), expected)


def test_save_then_load_gives_the_same_model_and_outputs(app, tmp_path):
    net = app.build(0)
    loaded, config = load_pretrained(app.save(tmp_path / "m"))
    assert config["application"] == app.name and not loaded.training
    assert (loaded.insertion_points, loaded.set_names, loaded.channels) == (
        net.insertion_points,
        net.set_names,
        net.channels,
    )
    theirs = loaded.state_dict()
    assert list(theirs) == list(net.state_dict())
    assert all(torch.equal(v, theirs[k]) for k, v in net.state_dict().items())
    x = app.example()
    with torch.no_grad():
        for alpha in (0.0, *app.alphas):
            assert torch.equal(loaded(x, alpha=alpha), net(x, alpha=alpha)), alpha


def test_the_same_seed_gives_the_same_model_and_outputs(app):
    first, again, other = app.build(0), app.build(0), app.build(1)
    mine, twin, theirs = first.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(v, twin[k]) for k, v in mine.items())
    assert any(not torch.equal(v, theirs[k]) for k, v in mine.items() if k.startswith("main."))  # the seed decides
    x = app.example()
    with torch.no_grad():
        for alpha in (0.0, *app.alphas):
            y = first(x, alpha=alpha)
            assert torch.equal(y, again(x, alpha=alpha)) and torch.equal(y, first(x, alpha=alpha)), alpha


def test_tuning_phases_change_only_the_blocks(app, tmp_path):
    model = app.build(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    theta = [k for k in before if k.startswith("main.")]
    assert any(k.endswith("running_mean") for k in theta) is app.norm_stats  # the statistics check is not vacuous
    norms = [m for m in model.main.modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    seen: list[tuple[bool, bool, list[bool]]] = []  # per forward: (wrapper training, blocks training, θ's norms)
    handle = model.register_forward_hook(
        lambda m, a, o: seen.append((m.training, m.blocks.training, [n.training for n in norms]))
    )
    try:
        app.tune(model, tmp_path / "run")
    finally:
        handle.remove()
    assert seen and all(wrapper and blocks for wrapper, blocks, _ in seen)  # the steps ran in train mode …
    assert not any(any(states) for _, _, states in seen)  # … with θ's norm layers kept in eval mode
    after = model.state_dict()
    for key in theta:  # weights and BatchNorm statistics untouched
        assert torch.equal(before[key], after[key]), f"{key} changed in a tuning phase"
    for set_name in model.set_names:  # every set the phases trained moved
        own = [k for k in before if k.startswith(f"blocks.{set_name}.")]
        assert own and any(not torch.equal(before[k], after[k]) for k in own), set_name
    assert all(not p.requires_grad and p.grad is None for p in model.main.parameters())
