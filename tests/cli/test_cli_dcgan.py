"""``train dcgan``, ``train classifier``, ``generate`` and ``evaluate-dcgan`` as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_utils import run_cli
from PIL import Image

from dynamicnet.apps.dcgan.recipe import DCGANRecipe
from dynamicnet.apps.dcgan.train import build_model
from dynamicnet.core import load_pretrained, save_pretrained
from dynamicnet.data.fashion_mnist import DEBIAN_DIR

FASHION = DEBIAN_DIR / "train-images-idx3-ubyte.gz"


@pytest.fixture(scope="module")
def tiny_dcgan(tmp_path_factory):
    """A random 32×32 grayscale dynamic DCGAN (ngf 4) whose block visibly changes the output."""
    torch.manual_seed(0)
    model = build_model(DCGANRecipe("tiny", image_size=32, ngf=4), 1)
    for p in model.main.parameters():  # N(0, 0.02) weights with fresh BatchNorm statistics give flat gray
        if p.dim() > 1:
            p.data.mul_(25)
    for p in model.tuning_parameters():
        p.data.mul_(3)
    return save_pretrained(
        model,
        tmp_path_factory.mktemp("models") / "tiny-dcgan",
        application="dcgan",
        architecture={"name": "dcgan-generator", "kwargs": {"image_size": 32, "channels": 1, "nz": 100, "ngf": 4}},
        extra={
            "description": "test model",
            "data": "fashion-mnist:sneaker,ankle_boot",
            "attribute": "label",
            "value": "sneaker",
        },
    )


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_dry_run_trains_one_real_step_per_phase(capsys, tmp_path):
    code, out, err = run_cli(
        capsys, "train", "dcgan", "--dry-run", "--out", tmp_path / "m", "--no-progress", "--device", "cpu"
    )
    assert code == 0, err
    model, config = load_pretrained(tmp_path / "m")
    assert [(p["name"], p["steps"]) for p in config["provenance"]["phases"]] == [("main", 1), ("higher", 1)]
    assert config["application"] == "dcgan"
    assert config["dynamic"]["insertion_points"] == ["layer2"]  # 32×32: two layers before the output
    records = [json.loads(line) for line in (tmp_path / "m" / "train" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in records)
    code, out, err = run_cli(capsys, "train", "classifier", "--dry-run", "--out", tmp_path / "m", "--no-progress")
    assert code == 0, err
    assert (tmp_path / "m" / "classifier.json").is_file() and "balanced accuracy" in out


def test_generate_grid_is_deterministic_per_seed(capsys, tiny_dcgan, tmp_path):
    outs = []
    for name, seed in (("a.png", 3), ("b.png", 3), ("c.png", 4)):
        code, out, err = run_cli(
            capsys,
            "generate",
            "--model",
            tiny_dcgan,
            "--alpha",
            "0.5",
            "--seed",
            seed,
            "--n",
            6,
            "--output",
            tmp_path / name,
            "--device",
            "cpu",
        )
        assert code == 0, err
        outs.append(_pixels(tmp_path / name))
    assert np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])
    assert outs[0].shape == (2 * (64 + 2) + 2, 3 * (64 + 2) + 2, 3)  # 6 images zoomed ×2, 3 per row


def test_generate_sweep_and_animation(capsys, tiny_dcgan, tmp_path):
    code, out, err = run_cli(
        capsys,
        "generate",
        "--model",
        tiny_dcgan,
        "--alphas",
        "0,0.5,1",
        "--n",
        3,
        "--seed",
        1,
        "--zoom",
        1,
        "--output",
        tmp_path / "s.png",
        "--gif",
        tmp_path / "s.gif",
        "--frames",
        4,
    )
    assert code == 0, err
    sheet = Image.open(tmp_path / "s.png")
    assert sheet.width > 3 * 32 and sheet.height > 3 * 32
    gif = Image.open(tmp_path / "s.gif")
    assert gif.n_frames == 6  # 4 frames there, 2 back
    # the α=0 column is the main generator: compare with a grid drawn at α=0 from the same seed
    code, _, err = run_cli(
        capsys,
        "generate",
        "--model",
        tiny_dcgan,
        "--alphas",
        "0,0,0",
        "--n",
        3,
        "--seed",
        1,
        "--zoom",
        1,
        "--output",
        tmp_path / "z.png",
    )
    assert code == 0, err
    a, b = _pixels(tmp_path / "s.png"), _pixels(tmp_path / "z.png")
    w = a.shape[1] // 3
    assert np.array_equal(a[:, :w], b[:, :w]) and not np.array_equal(a[:, -w:], b[:, -w:])


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--alpha", "lots"], 2, "not a number"),
        (["--alpha", "nan"], 2, "must be finite"),
        (["--n", "0"], 2, "must be ≥ 1"),
        (["--alpha", "1", "--alphas", "0,1"], 2, "not allowed with"),
        (["--alpha", "-0.5"], 1, "α must be ≥ 0"),
        (["--alphas", "0,-1"], 1, "α must be ≥ 0"),
        (["--output-ext", ".txt"], 1, "unsupported extension"),
        (["--gif", "anim.png"], 1, "unsupported extension"),
        (["--model", "no-such-model"], 1, "neither a bundled model"),
    ],
)
def test_generate_bad_arguments_are_one_line_with_no_output(capsys, tiny_dcgan, tmp_path, argv, code, message):
    output = tmp_path / "out.png"
    if argv[0] == "--output-ext":
        output, argv = tmp_path / "out.txt", []
    argv = ["--model", tiny_dcgan, *argv] if "--model" not in argv else argv
    argv = [str(tmp_path / a) if a == "anim.png" else a for a in argv]
    got, out, err = run_cli(capsys, "generate", *argv, "--output", output)
    assert got == code and err.count("\n") == 1 and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_generate_rejects_a_style_model(capsys, tiny_style_model, tmp_path):
    code, _, err = run_cli(capsys, "generate", "--model", tiny_style_model, "--output", tmp_path / "o.png")
    assert code == 1 and "expected a dcgan model" in err and not (tmp_path / "o.png").exists()


def test_train_dcgan_bad_data_is_one_line(capsys, tmp_path):
    for argv, message in [
        (["--data", f"folder:{tmp_path / 'nope'}", "--attribute", "a", "--value", "1"], "does not exist"),
        (["--data", "celeba:" + str(tmp_path)], "needs --attribute and --value"),
        (["--data", "mnist"], "unknown --data 'mnist'; expected one of celeba:PATH"),
    ]:
        code, _, err = run_cli(capsys, "train", "dcgan", *argv, "--out", tmp_path / "m", "--no-progress")
        assert code == 1 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "m").exists()


@pytest.mark.skipif(not FASHION.is_file(), reason="Debian dataset-fashion-mnist is not installed")
def test_train_dcgan_unknown_value_lists_the_values(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "dcgan", "--value", "boot", "--out", tmp_path / "m")
    assert code == 1 and err.count("\n") == 1 and "values present: ankle_boot, sneaker" in err


def test_evaluate_needs_a_matching_classifier(capsys, tiny_dcgan, tmp_path):
    code, _, err = run_cli(capsys, "evaluate-dcgan", "--model", tiny_dcgan, "--n", 10)
    assert code == 1 and "no attribute classifier" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "100000000"], "--n"),
        (["--zoom", "100000"], "--zoom"),
        (["--n", "1024", "--zoom", "64"], "lower --n or --zoom"),
    ],
)
def test_generate_sizes_are_bounded(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, "generate", *args, "-o", tmp_path / "g.png")
    assert code in (1, 2) and message in err and err.count("\n") == 1 and not (tmp_path / "g.png").exists()


@pytest.mark.skipif(
    not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").is_file(), reason="Debian dataset-fashion-mnist is not installed"
)
def test_evaluate_writes_json_and_its_plot_beside_it(capsys, tmp_path):
    report = tmp_path / "scores.json"
    code, out, err = run_cli(
        capsys, "evaluate-dcgan", "--n", 10, "--max-real", 20, "--alphas", "0,1", "--device", "cpu", "-o", report
    )
    assert code == 0, err
    assert [p["alpha"] for p in json.loads(report.read_text())["points"]] == [0.0, 1.0]
    assert out.endswith(f"{report}\n{report.with_suffix('.png')}\n")
    with Image.open(report.with_suffix(".png")) as plot:  # the O1 fraction and the Fréchet distances
        assert plot.format == "PNG" and plot.width > 2 * 400
