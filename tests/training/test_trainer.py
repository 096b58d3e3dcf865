"""The loop: which parameters each phase trains, metrics, samples, stop requests, divergence, TensorBoard."""

import json
import signal

import pytest
import torch
from toy import PairDataset, ToyTask, fit_toy, run_toy, tiny_dynamic, toy_phases, wait_for_checkpoint

from dynamicnet.core import load_pretrained
from dynamicnet.errors import DynamicNetError
from dynamicnet.training import Trainer, TrainerConfig


@pytest.mark.slow
def test_two_phases_train_the_right_parameters_and_export(tmp_path):
    torch.manual_seed(0)
    model = tiny_dynamic()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    task = ToyTask(model)
    cfg = TrainerConfig(tmp_path, batch_size=4, seed=1, log_every=1, checkpoint_every=2, progress=False)
    trainer = Trainer(task, PairDataset(), toy_phases()[:1], cfg)
    trainer.fit()
    after_main = {k: v.clone() for k, v in model.state_dict().items()}
    assert any(not torch.equal(init[k], after_main[k]) for k in init if k.startswith("main."))
    assert all(torch.equal(init[k], after_main[k]) for k in init if k.startswith("blocks."))

    out2 = tmp_path / "tuning"
    Trainer(task, PairDataset(), toy_phases()[1:], TrainerConfig(out2, batch_size=4, seed=1, progress=False)).fit()
    final = model.state_dict()
    for k in init:
        if k.startswith("main."):  # weights *and* BN running stats untouched in phase 2
            assert torch.equal(after_main[k], final[k]), k
    assert any(not torch.equal(after_main[k], final[k]) for k in init if k.startswith("blocks."))
    loaded, config = load_pretrained(out2)
    assert config["provenance"]["phases"][0]["name"] == "higher"


def test_metrics_log_and_samples(tmp_path):
    fit_toy(tmp_path, sample_every=3)
    records = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 7)) * 2
    assert {r["phase"] for r in records} == {"main", "higher"} and all("loss" in r for r in records)
    assert sorted(p.name for p in (tmp_path / "train" / "samples").iterdir()) == [
        "higher_000003.png",
        "higher_000006.png",
        "main_000003.png",
        "main_000006.png",
    ]


@pytest.mark.slow  # a real training run (about 5 s)
def test_training_reduces_the_loss(tmp_path):
    fit_toy(tmp_path, steps=40)
    records = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    main = [r["loss"] for r in records if r["phase"] == "main"]
    assert main[-1] < 0.5 * main[0]


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_between_steps(tmp_path):
    proc = run_toy(tmp_path, env={"TOY_STEP_SLEEP": "0.2"})
    wait_for_checkpoint(tmp_path / "train" / "checkpoint.pt", proc, 0, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and b"continue with TrainerConfig(resume=True)" in err  # a Python caller's words
    state = torch.load(tmp_path / "train" / "checkpoint.pt", weights_only=True)
    assert state["step"] >= 2
    resumed = run_toy(tmp_path, "--resume")
    assert resumed.wait(120) == 0, resumed.communicate()
    assert (tmp_path / "model.safetensors").exists()


class _DivergingTask(ToyTask):
    """Blows up at main step 5: its weights become NaN and so does the loss."""

    def training_step(self, ctx, batch):
        if ctx.phase.name == "main" and ctx.step == 4:
            with torch.no_grad():
                for p in self.model.main.parameters():
                    p.fill_(float("nan"))
        return super().training_step(ctx, batch)


def test_divergence_stops_without_overwriting_the_last_good_checkpoint(tmp_path):
    from dynamicnet.training.trainer import TrainingDiverged

    torch.manual_seed(0)
    cfg = TrainerConfig(tmp_path, batch_size=4, seed=1, log_every=1, checkpoint_every=2, progress=False)
    with pytest.raises(TrainingDiverged, match="step 5.*last good checkpoint"):
        Trainer(_DivergingTask(tiny_dynamic()), PairDataset(), toy_phases(8), cfg).fit()
    state = torch.load(tmp_path / "train" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4  # the step-4 checkpoint, still finite, not a NaN one
    assert all(torch.isfinite(v).all() for v in state["modules"]["model"].values() if v.is_floating_point())
    # a stop request while the weights are broken must not save them either
    trainer = Trainer(
        _DivergingTask(tiny_dynamic()),
        PairDataset(),
        toy_phases(8),
        TrainerConfig(tmp_path / "b", batch_size=4, progress=False),
    )
    with torch.no_grad():
        for p in trainer.task.model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(DynamicNetError, match="NaN or infinite"):
        trainer._save_checkpoint(0, 1, {})
    assert not (tmp_path / "b" / "train" / "checkpoint.pt").exists()


# ------------------------------------------------------------------------------------------------ TensorBoard


class FakeBoard:
    """Records what the loop writes, in place of a SummaryWriter."""

    def __init__(self, log_dir, purge_step):
        self.log_dir, self.purge_step = log_dir, purge_step
        self.scalars, self.images, self.closed = [], [], False

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, step, value))

    def add_image(self, tag, image, step):
        self.images.append((tag, step, tuple(image.shape)))

    def close(self):
        self.closed = True


def test_tensorboard_gets_the_jsonl_metrics_on_one_step_axis_across_phases(tmp_path, monkeypatch):
    import dynamicnet.training.config as config_module
    import dynamicnet.training.trainer as trainer_module

    boards = []
    monkeypatch.setattr(config_module, "check_tensorboard", lambda: None)  # the stand-in needs no package
    monkeypatch.setattr(trainer_module, "tensorboard_writer", lambda d, p: boards.append(FakeBoard(d, p)) or boards[-1])
    fit_toy(tmp_path, sample_every=3, tensorboard=True)
    (board,) = boards
    assert board.log_dir == tmp_path / "train" / "tensorboard" and board.purge_step == 0 and board.closed
    lines = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    losses = [(tag, step, value) for tag, step, value in board.scalars if tag.endswith("/loss")]
    assert losses == [(f"{r['phase']}/loss", r["step"] + 6 * r["phase_index"], r["loss"]) for r in lines]
    assert [s for t, s, _ in losses] == list(range(1, 13))  # main 1…6, then the tuning phase 7…12
    assert {t for t, _, _ in board.scalars} == {
        "main/loss",
        "higher/loss",
        "main/skipped_images",
        "higher/skipped_images",
    }
    assert [(t, s) for t, s, _ in board.images] == [
        ("main/samples", 3),
        ("main/samples", 6),
        ("higher/samples", 9),
        ("higher/samples", 12),
    ]


def test_tensorboard_is_opt_in_and_a_missing_package_is_one_line(tmp_path, monkeypatch, capsys):
    import importlib.util

    from cli_utils import run_cli

    fit_toy(tmp_path / "plain")
    assert not (tmp_path / "plain" / "train" / "tensorboard").exists()
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else find_spec(name, *a)
    )
    with pytest.raises(DynamicNetError, match=r"pip install 'dynamicnet\[tensorboard\]'"):
        TrainerConfig(tmp_path / "x", tensorboard=True)
    code, _, err = run_cli(
        capsys, "train", "dcgan", "--dry-run", "--tensorboard", "-o", tmp_path / "m", "--device", "cpu"
    )
    assert code == 1 and err == (
        "dynamicnet: error: --tensorboard needs the tensorboard package: pip install 'dynamicnet[tensorboard]'\n"
    )
    assert not (tmp_path / "m").exists()  # refused before any work


def test_tensorboard_events_can_be_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    fit_toy(tmp_path, sample_every=3, tensorboard=True)
    events = EventAccumulator(str(tmp_path / "train" / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert [e.step for e in events.Scalars("main/loss")] == [1, 2, 3, 4, 5, 6]
    assert [e.step for e in events.Scalars("higher/loss")] == [7, 8, 9, 10, 11, 12]
    logged = [json.loads(line)["loss"] for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    got = [e.value for e in events.Scalars("main/loss") + events.Scalars("higher/loss")]
    assert got == pytest.approx(logged, rel=1e-6)  # float32 events of the JSONL's values
    assert "main/samples" in events.Tags()["images"]
