"""The DCGAN task in the shared trainer: phases, data per phase, gradient flow, fresh discriminator, resume."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from dynamicnet.apps.dcgan.data import PhaseDataset, SyntheticLabelled, split_by_attribute
from dynamicnet.apps.dcgan.recipe import DCGANRecipe
from dynamicnet.apps.dcgan.train import DCGANTask, build_model, train_dcgan
from dynamicnet.core import load_pretrained
from dynamicnet.training import Trainer, TrainerConfig
from dynamicnet.training.trainer import StepContext, TrainingInterrupted

pytestmark = pytest.mark.slow

RECIPE = DCGANRecipe("tiny", image_size=32, ngf=4, ndf=4, batch_size=4, main_steps=3, tuning_steps=3)


def _split(n=10):
    return split_by_attribute(SyntheticLabelled(n, 32), "label", "even")


def test_epochs_become_steps_per_subset():
    recipe = DCGANRecipe("r", batch_size=128, main_epochs=20, tuning_epochs=2)
    main, tuning = recipe.phases(84434, 118165)  # CelebA: Male = 1 / Male = -1
    assert (main.steps, tuning.steps) == (13193, 1847)
    assert (main.alpha, tuning.alpha, tuning.sets, tuning.trainable) == (0.0, 1.0, ("higher",), "tuning")
    assert recipe.with_overrides(main_steps=5).phases(10, 10)[0].steps == 5


def test_each_phase_sees_only_its_subset():
    split = _split()
    data = PhaseDataset(split)
    assert len(data) == 5
    rng = np.random.default_rng(0)
    evens = [split.source.get(i, rng) for i in range(0, 10, 2)]
    odds = [split.source.get(i, rng) for i in range(1, 10, 2)]
    data.use("main")
    assert all(any(torch.equal(data.get(i, rng), e) for e in evens) for i in range(7))
    data.use("higher")
    assert all(any(torch.equal(data.get(i, rng), o) for o in odds) for i in range(7))


def _task(seed=0):
    torch.manual_seed(seed)
    split = _split()
    data = PhaseDataset(split)
    return DCGANTask(build_model(RECIPE, 3), RECIPE, data, torch.device("cpu")), data


def _step(task, phase, step=0):
    params = task.model.configure_trainable(phase.trainable, phase.sets or None)
    opts = task.start_phase(phase, params)
    task.model.train()
    task.discriminator.train()
    ctx = StepContext(
        phase,
        step,
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
        0,
        1,
        opts,
        {"model": task.model, "discriminator": task.discriminator},
    )
    batch = torch.stack([task.data.get(i, np.random.default_rng(i)) for i in range(4)])
    return task.training_step(ctx, batch)


def test_tuning_phase_trains_only_the_block_against_a_fresh_discriminator():
    task, _ = _task()
    main_phase, tuning_phase = RECIPE.phases(5, 5)
    _step(task, main_phase)
    d_main = task.discriminator
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    task.model.zero_grad(set_to_none=True)
    metrics = _step(task, tuning_phase)
    assert np.isfinite(metrics["d_loss"]) and np.isfinite(metrics["g_loss"])
    assert task.discriminator is not d_main  # a new judge for O1 …
    assert task.data.active == "higher"  # … shown the O1 images
    after = task.model.state_dict()
    for k in before:
        if k.startswith("main."):  # weights and BatchNorm statistics untouched
            assert torch.equal(before[k], after[k]), k
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("blocks."))
    assert all(p.grad is None for p in task.model.main.parameters())
    assert all(m.training is False for m in task.model.main.modules() if isinstance(m, torch.nn.BatchNorm2d))


class _Interrupting(DCGANTask):
    """Sends itself SIGINT at one (phase, step): the trainer finishes the step, checkpoints and stops."""

    at: tuple[str, int] = ("", -1)

    def training_step(self, ctx, batch):
        out = super().training_step(ctx, batch)
        if (ctx.phase.name, ctx.step) == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return out


def _fit(out, task_cls=DCGANTask, resume=False):
    torch.manual_seed(0)
    split = _split()
    data = PhaseDataset(split)
    task = task_cls(build_model(RECIPE, 3), RECIPE, data, torch.device("cpu"))
    cfg = TrainerConfig(out, batch_size=4, seed=3, progress=False, checkpoint_every=100, resume=resume)
    return Trainer(task, data, RECIPE.phases(5, 5), cfg).fit()


@pytest.mark.parametrize("at", [("main", 1), ("main", 2), ("higher", 0)])
def test_interrupted_run_resumes_bit_identically(tmp_path, at):
    _fit(tmp_path / "ref")
    _Interrupting.at = at
    with pytest.raises(TrainingInterrupted):
        _fit(tmp_path / "cut", _Interrupting)
    _fit(tmp_path / "cut", resume=True)
    a, _ = load_pretrained(tmp_path / "ref")
    b, _ = load_pretrained(tmp_path / "cut")
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), k


def test_phase_tuning_from_a_main_model(tmp_path):
    split = _split()
    cfg = TrainerConfig(tmp_path / "main", batch_size=4, progress=False)
    main_dir = train_dcgan(RECIPE, split, tmp_path / "main", phase="main", config=cfg)
    cfg = TrainerConfig(tmp_path / "tuned", batch_size=4, progress=False, seed=1)
    tuned_dir = train_dcgan(RECIPE, split, tmp_path / "tuned", phase="tuning", init_from=main_dir, config=cfg)
    base, _ = load_pretrained(main_dir)
    tuned, config = load_pretrained(tuned_dir)
    for (k, x), y in zip(base.main.state_dict().items(), tuned.main.state_dict().values()):
        assert torch.equal(x, y), k
    assert [p["name"] for p in config["provenance"]["phases"]] == ["higher"]
    assert config["provenance"]["init_from"]["folder"] == str(main_dir)
