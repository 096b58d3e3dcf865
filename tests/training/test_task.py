"""Training a network of one's own: the Task base class, torch datasets, phases that cannot train nothing, and
errors in a Python caller's words."""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, TensorDataset
from toy import tiny_dynamic

from dynamicnet.core import DynamicNet
from dynamicnet.errors import DynamicNetError
from dynamicnet.training import Phase, Task, TorchDataset, Trainer, TrainerConfig
from dynamicnet.training.checkpointing import check_out_dir
from dynamicnet.training.trainer import TrainingInterrupted

GAINS = {"main": 0.5, "higher": 1.0, "lower": 0.0}


class GainTask(Task):
    """Only the loss is written: θ learns gain 0.5, the "higher" blocks gain 1.0."""

    def loss(self, ctx, batch):
        (x,) = batch
        out = ctx.module("model")(x, alpha=ctx.phase.alpha)
        return F.mse_loss(out, x.flip(1) * GAINS[ctx.phase.objective])


def _phases(steps=4):
    return [
        Phase("main", "main", steps, 1e-2, objective="main"),
        Phase("higher", "tuning", steps, 1e-2, objective="higher", alpha=1.0),
    ]


def _data():
    return TensorDataset(torch.rand(12, 3, 8, 8, generator=torch.Generator().manual_seed(0)))


@pytest.mark.slow  # two training phases and an export
def test_a_task_with_only_a_loss_trains_both_phases_and_exports(tmp_path):
    torch.manual_seed(0)
    model = tiny_dynamic()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    task = GainTask(model, objectives={"main": "gain 0.5", "higher": "gain 1"}, extra={"note": "test"})
    folder = Trainer(task, _data(), _phases(), TrainerConfig(str(tmp_path), batch_size=4, progress=False)).fit()
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("main."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("blocks."))
    loaded = DynamicNet.from_pretrained(folder)
    assert loaded.config["architecture"]["name"] == "tiny-test"
    assert loaded.config["objectives"]["higher"] == "gain 1" and loaded.config["extra"] == {"note": "test"}
    assert [p["name"] for p in loaded.config["provenance"]["phases"]] == ["main", "higher"]


def test_task_needs_a_loss():
    class NoLoss(Task):
        pass

    with pytest.raises(TypeError, match="loss"):
        NoLoss(tiny_dynamic())


@pytest.mark.parametrize("alpha", [0.0, 0, None, [0.0, 0.0, 0.0], {"higher": 0.0}, torch.zeros(1, 3)])
def test_a_tuning_phase_at_alpha_zero_fails_when_made(alpha):
    with pytest.raises(ValueError, match="needs a non-zero alpha"):
        Phase("higher", "tuning", 4, 1e-2, objective="higher", alpha=alpha)
    Phase("main", "main", 4, 1e-2, objective="main", alpha=alpha)  # the main phase runs at α = 0


def test_a_tuning_phase_whose_alpha_drives_other_blocks_fails_before_training(tmp_path):
    model = tiny_dynamic(sets=("higher", "lower"))
    cfg = TrainerConfig(tmp_path, progress=False)
    wrong = Phase("lower", "tuning", 4, 1e-2, objective="lower", sets=("lower",), alpha=1.0)
    with pytest.raises(DynamicNetError, match=r"trains block set\(s\) \['lower'\] but its alpha=1.0 runs \['higher'\]"):
        Trainer(GainTask(model), _data(), [wrong], cfg)
    unknown = Phase("x", "tuning", 4, 1e-2, objective="higher", sets=("nope",), alpha=1.0)
    with pytest.raises(DynamicNetError, match="unknown block set"):
        Trainer(GainTask(model), _data(), [unknown], cfg)
    assert not (tmp_path / "train").exists()


def test_a_loss_that_ignores_the_phases_alpha_gets_a_clear_error(tmp_path):
    class ForgetsAlpha(Task):
        def loss(self, ctx, batch):
            (x,) = batch
            return F.mse_loss(ctx.module("model")(x), x)  # α = 0: the blocks being trained do not run

    phases = [Phase("higher", "tuning", 2, 1e-2, objective="higher", alpha=1.0)]
    trainer = Trainer(ForgetsAlpha(tiny_dynamic()), _data(), phases, TrainerConfig(tmp_path, progress=False))
    with pytest.raises(DynamicNetError, match=r"depends on no parameter that trains.*alpha=ctx.phase.alpha"):
        trainer.fit()


class Augmented(Dataset):
    """A torch dataset with random augmentation from the global generators, as torchvision transforms do."""

    def __len__(self):
        return 5

    def __getitem__(self, index):
        image = Image.fromarray(np.full((4, 6, 3), index * 40, np.uint8))
        return image, np.float32(torch.rand(()).item() + random.random()), {"label": np.array([index])}


def test_torch_dataset_items_are_tensors_and_reproducible():
    ds = TorchDataset(Augmented())
    assert len(ds) == 5
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = ds.get(2, np.random.default_rng([0, 1, 2]))
    b = ds.get(2, np.random.default_rng([0, 1, 2]))
    c = ds.get(2, np.random.default_rng([0, 1, 3]))
    assert torch.equal(torch.get_rng_state(), state)  # the training loop's own randomness is untouched
    image, noise, meta = a
    assert image.shape == (3, 4, 6) and image.dtype == torch.float32 and float(image.max()) == pytest.approx(80 / 255)
    assert isinstance(meta["label"], torch.Tensor)
    assert noise == b[1] and noise != c[1]


def test_trainer_takes_torch_datasets_and_refuses_iterable_ones(tmp_path):
    class Stream(IterableDataset):
        def __iter__(self):
            yield torch.zeros(3, 8, 8)

    with pytest.raises(DynamicNetError, match="map-style"):
        Trainer(GainTask(tiny_dynamic()), Stream(), _phases(), TrainerConfig(tmp_path, progress=False))
    trainer = Trainer(GainTask(tiny_dynamic()), _data(), _phases(), TrainerConfig(tmp_path, progress=False))
    assert isinstance(trainer.dataset, TorchDataset)


def test_config_takes_strings_and_errors_speak_python(tmp_path):
    cfg = TrainerConfig(str(tmp_path), device="cpu")
    assert cfg.out_dir == tmp_path and cfg.device == torch.device("cpu")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DynamicNetError, match=r"TrainerConfig\(overwrite=True\)") as caught:
        check_out_dir(tmp_path)
    assert "--overwrite" not in str(caught.value) and "pass --overwrite" in caught.value.cli
    stopped = TrainingInterrupted(tmp_path / "train" / "checkpoint.pt", "main", 3)
    assert "TrainerConfig(resume=True)" in str(stopped) and "rerun with --resume" in stopped.cli
    with pytest.raises(DynamicNetError, match="resume=True but there is no checkpoint") as caught:
        Trainer(
            GainTask(tiny_dynamic()), _data(), _phases(), TrainerConfig(tmp_path / "new", resume=True, progress=False)
        ).fit()
    assert caught.value.cli.startswith("--resume: no checkpoint")
