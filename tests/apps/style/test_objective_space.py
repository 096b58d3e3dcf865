"""``evaluate-objective-space``: O_m as the trainer computes it, dedicated networks trained exactly like θ, and the
whole pipeline (networks, baselines, measurement, report, figure, sheets, reuse and resume) as a dry run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from cli_utils import run_cli
from PIL import Image

from dynamicnet.apps.style import train as style_train
from dynamicnet.apps.style.objective_space import (
    Experiment,
    ObjectiveMix,
    _Networks,
    _PointTask,
    objective_value,
    weights_of,
)
from dynamicnet.apps.style.recipe import StyleObjective, builtin_recipes
from dynamicnet.apps.style.train import objective_loss
from dynamicnet.core.checkpoint import load_pretrained
from dynamicnet.data.assets import bundled_photo
from dynamicnet.data.assets.registry import OPENCV_DATA_DIR
from dynamicnet.data.folder import SyntheticImageDataset
from dynamicnet.losses import StyleTargets, VGG16Features
from dynamicnet.training import TrainerConfig

QUIET = ("--vgg-weights", "random", "--no-progress", "--dry-run")
pytestmark = pytest.mark.filterwarnings("ignore:VGG16 has random weights")
needs_opencv = pytest.mark.skipif(
    not (OPENCV_DATA_DIR / "starry_night.jpg").is_file(),
    reason="the recipes' style images come from Debian opencv-doc (make test installs it)",
)


def _objectives() -> tuple[StyleObjective, StyleObjective]:
    """Two objectives with different style images that need no Debian package: the bundled photos."""
    o0 = StyleObjective(style=str(bundled_photo("coffee")), style_size=32, style_weight=3.0, tv_weight=0.5)
    o1 = StyleObjective(
        style=str(bundled_photo("rocket")), style_size=32, style_weight=40.0, content_weight=2.0, tv_weight=0.1
    )
    return o0, o1


@pytest.mark.slow
def test_the_mix_is_the_weighted_sum_of_the_trainer_losses() -> None:
    torch.manual_seed(0)
    targets = StyleTargets(VGG16Features())
    losses = [objective_loss(o, targets) for o in _objectives()]
    output, photo = torch.rand(2, 3, 32, 32, requires_grad=True), torch.rand(2, 3, 32, 32)
    for m in (0.0, 0.3, 1.0):
        total, terms = ObjectiveMix(*losses, m)(output, photo)
        expected = (1 - m) * losses[0](output, photo)[0] + m * losses[1](output, photo)[0]
        torch.testing.assert_close(total, expected)
        # The same number from the detached terms and the objectives' own weights (how results are computed).
        value = objective_value({k: v.item() for k, v in terms.items()}, *map(weights_of, _objectives()), m)
        assert value == pytest.approx(total.item(), rel=1e-5)
    grad_mix = torch.autograd.grad(ObjectiveMix(*losses, 0.3)(output, photo)[0], output)[0]
    grad_sum = torch.autograd.grad(0.7 * losses[0](output, photo)[0] + 0.3 * losses[1](output, photo)[0], output)[0]
    torch.testing.assert_close(grad_mix, grad_sum)


@pytest.mark.slow
def test_a_dedicated_network_is_trained_like_theta(tmp_path, monkeypatch) -> None:
    """At m = 0, O_m is O0: the dedicated network must come out as θ itself (same initial weights, data order,
    steps), trained by train_style, which is how θ was made."""
    o0, o1 = _objectives()
    recipe = builtin_recipes()["level"].with_overrides(
        main=o0, sets={"higher": o1}, width=4, size=32, batch_size=2, main_steps=3, tuning_steps=0
    )
    vgg = VGG16Features()
    monkeypatch.setattr(style_train, "load_vgg16", lambda weights: vgg)  # both sides measure with one VGG16
    dataset = SyntheticImageDataset(6, 32, seed=1)
    config = TrainerConfig(tmp_path / "theta", batch_size=2, seed=5, progress=False)
    theta = load_pretrained(style_train.train_style(recipe, dataset, tmp_path / "theta", phase="main", config=config))[
        0
    ]
    networks = _Networks(
        Experiment.from_recipe(recipe, seed=5),
        tmp_path / "run",
        vgg,
        lambda: (dataset, "synthetic"),
        torch.device("cpu"),
        progress=False,
        log=lambda line: None,
    )
    same = load_pretrained(networks.dedicated(0.0))[0].main.state_dict()
    other = load_pretrained(networks.dedicated(1.0))[0].main.state_dict()
    assert all(torch.equal(same[k], v) for k, v in theta.main.state_dict().items())  # bit for bit
    assert not all(torch.equal(other[k], v) for k, v in theta.main.state_dict().items())


def _check_run(out: Path, ms: list[float]) -> dict:
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [r["m"] for r in results["rows"]] == [*ms, 1.0]
    for row in results["rows"]:
        assert row["dedicated"] > 0
        for method in ("dynamic_best", "dynamic_at_m", "pixel_blend", "dni"):
            assert row[method]["ratio"] == pytest.approx(row[method]["objective"] / row["dedicated"])
            assert 0 <= row[method]["at"] <= 1
        assert row["dynamic_at_m"]["at"] == row["m"]
        # The best α is the best of the curve, so it can never lose to α = m.
        assert row["dynamic_best"]["objective"] <= row["dynamic_at_m"]["objective"]
    assert set(results["targets"]) == {"within_5_percent", "beats_pixel_blend", "alpha_star_monotone"}
    curves = results["plane"]["curves"]
    assert {len(c) for c in curves.values()} == {21 + sum(round(m * 20) != m * 20 for m in ms)}
    assert [p["m"] for p in results["plane"]["dedicated"]] == [0.0, *ms, 1.0]
    for name in ("dedicated/m1", "dni", *(f"dedicated/m{m:g}" for m in ms)):
        assert (out / name / "config.json").is_file(), name
    figure = Image.open(out / "objective-space.png")
    assert figure.width > 800 and figure.height > 400
    assert results["sheets"] == [f"sheets/m{m:g}.jpg" for m in ms]
    sheet = Image.open(out / results["sheets"][0])
    assert sheet.width > 5 * 64  # photo | dedicated | Dynamic-Net | pixel blend | DNI
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "| m | dedicated O_m |" in markdown and "objective-space.png" in markdown
    return results


@pytest.mark.slow
@needs_opencv
@pytest.mark.parametrize(("recipe", "axes"), [("level", ("content0", "style0")), ("two-style", ("style0", "style1"))])
def test_dry_run_of_a_bundled_model_end_to_end_then_reused(capsys, tmp_path, recipe, axes) -> None:
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "evaluate-objective-space", "--recipe", recipe, "-o", out, *QUIET)
    assert code == 0, err
    results = _check_run(out, [0.25, 0.5, 0.75])
    assert (results["plane"]["x"], results["plane"]["y"]) == axes
    assert results["experiment"]["model"]["folder"].endswith(
        {"level": "starry-level", "two-style": "starry-graffiti"}[recipe]
    )
    assert "training the dedicated network for m = 0.5" in stdout
    assert str(out / "results.md") in stdout

    # Everything finished is reused: no training, no measuring, the same numbers.
    code, stdout, err = run_cli(capsys, "evaluate", "objective-space", "--recipe", recipe, "-o", out, *QUIET)
    assert code == 0, err
    assert "training" not in stdout and "reusing the measurement" in stdout
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]


@pytest.mark.slow
@needs_opencv
def test_processes_share_the_training_with_train_only_and_a_last_run_measures(capsys, tmp_path) -> None:
    out = tmp_path / "run"
    for pieces in ("1,dni", "0.75,0.25", "0.5"):  # as three processes would, each given other networks
        code, stdout, err = run_cli(
            capsys, "evaluate-objective-space", "--recipe", "level", "-o", out, "--train-only", pieces, *QUIET
        )
        assert code == 0, err
        trained = [f"dedicated/m{p}" if p != "dni" else "dni" for p in pieces.split(",")]
        lines = stdout.strip().splitlines()
        assert lines[-len(trained) :] == [str(out / t) for t in trained]  # the networks, in the order given
        assert sum(line.startswith("training ") for line in lines) == len(trained)
        assert not (out / "results.json").exists()  # nothing measured
    code, stdout, err = run_cli(capsys, "evaluate-objective-space", "--recipe", "level", "-o", out, *QUIET)
    assert code == 0, err
    lines = stdout.splitlines()
    assert not [line for line in lines if line.startswith("training ")]
    assert sum(line.startswith("reusing ") for line in lines) >= 5  # the 4 dedicated networks and DNI's
    _check_run(out, [0.25, 0.5, 0.75])


@pytest.mark.slow
def test_trained_model_run_resumes_an_interrupted_network(capsys, monkeypatch, tmp_path) -> None:
    """--train-model on a recipe file (no Debian package needed). Ctrl-C in a training saves its checkpoint and
    exits 130; the same command again resumes it and reuses what is finished. A network killed after its last
    checkpoint but before its export comes out bit-identical, and the measurement stays valid."""
    o0, o1 = _objectives()
    recipe = builtin_recipes()["two-style"].with_overrides(main=o0, sets={"higher": o1}, name="photos")
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps(recipe.to_dict()))
    out = tmp_path / "run"
    args = ("evaluate-objective-space", "--recipe", recipe_file, "--train-model", "--m", "0.5,0.33", "-o", out, *QUIET)
    step = _PointTask.training_step

    def interrupted(self, ctx, batch):
        metrics = step(self, ctx, batch)
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C during the first dedicated network's first step
        return metrics

    monkeypatch.setattr(_PointTask, "training_step", interrupted)
    code, stdout, err = run_cli(capsys, *args)
    assert code == 130
    assert (
        err.startswith(
            "dynamicnet: interrupted while training the dedicated network for m = 0.33; its checkpoint is in"
        )
        and "run the same command again" in err
    )
    assert "training θ and its tuning blocks" in stdout
    monkeypatch.setattr(_PointTask, "training_step", step)
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "reusing θ and its tuning blocks" in stdout and "resuming the dedicated network for m = 0.33" in stdout
    _check_run(out, [0.33, 0.5])

    weights = (out / "dedicated/m0.5/model.safetensors").read_bytes()
    for name in ("config.json", "model.safetensors"):  # as if killed after the last checkpoint, before the export
        (out / "dedicated/m0.5" / name).unlink()
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "resuming the dedicated network for m = 0.5" in stdout
    assert "training" not in stdout and "reusing the measurement" in stdout
    assert (out / "dedicated/m0.5/model.safetensors").read_bytes() == weights


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--m", "0.5,1"), "--m: each value must be strictly between 0 and 1"),
        (("--seed", "3"), "--seed applies to --train-model only"),
        (("--recipe", "two-style", "--model", "starry-level"), "was trained with recipe 'level', not 'two-style'"),
        (("--recipe", "scale"), "no bundled model for recipe 'scale'"),
        (("--model", "starry-level", "--train-model"), "not allowed with argument"),
        (("--train-only", "0.5,2"), "--train-only: '2' is neither an m value in (0, 1] nor 'dni'"),
        (("--train-only", "theta"), "--train-only: 'theta' is neither an m value in (0, 1] nor 'dni'"),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, extra, message) -> None:
    code, _, err = run_cli(capsys, "evaluate-objective-space", "-o", tmp_path / "run", *QUIET, *extra)
    assert code in (1, 2)
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run" / "dedicated").exists()


def test_a_run_folder_holds_one_experiment(capsys, tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "plan.json").write_text(json.dumps({"recipe": {}, "theta": {}, "blocks": {}, "model": None, "vgg16": None}))
    code, _, err = run_cli(capsys, "evaluate-objective-space", "-o", out, *QUIET)
    assert code == 1
    assert f"--output {out} holds an objective-space run with other settings" in err
