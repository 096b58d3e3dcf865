"""An imported network as θ of a model folder: declared conventions, fixed inputs, the reference by SHA-256."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from factories import make_styled_onnx

from dynamicnet.core import DynamicNet, load_pretrained, save_pretrained
from dynamicnet.errors import DynamicNetError
from dynamicnet.imports import ImportedMain, InputSpec, load_network, parse_fixed_inputs, source_sha256
from dynamicnet.imports.theta import insertion_points

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnx2torch") is None, reason="needs onnx2torch: pip install 'dynamicnet[import]'"
)
STYLE = [0.0, 1.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def styled(tmp_path_factory):
    return make_styled_onnx(tmp_path_factory.mktemp("onnx") / "styled.onnx")


def _main(path, **kwargs) -> ImportedMain:
    kwargs.setdefault("fixed_inputs", ["style=onehot:1"])
    return ImportedMain(str(path), source_sha256(str(path)), **kwargs)


def test_theta_runs_the_file_exactly_and_keeps_its_weights_out_of_the_state_dict(styled):
    main = _main(styled)
    original = load_network(str(styled)).module
    x = torch.rand(2, 3, 20, 12)
    with torch.no_grad():
        assert torch.equal(main(x), original(x, torch.tensor(STYLE)))
    assert list(main.parameters()) == [] and main.state_dict() == {}  # θ comes from the file, never a folder
    assert main.spec()["kwargs"]["source"] == str(styled.resolve())


def test_a_fixed_input_with_a_batch_dimension_follows_the_images_batch(tmp_path):
    path = make_styled_onnx(tmp_path / "batched.onnx", batched_style=True)
    main = _main(path, fixed_inputs=["style=0,0.5,0,0.5"])
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        expected = load_network(str(path)).module(x, torch.tensor([[0, 0.5, 0, 0.5]]).expand(3, 4))
        assert torch.equal(main(x), expected)


def test_declared_ranges_and_channel_order_wrap_the_network(styled):
    main = _main(styled, input_range=(-1, 1), output_range=(0.25, 0.75), channel_order="bgr")
    original = load_network(str(styled)).module
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        raw = original((x.flip(1) * 2 - 1), torch.tensor(STYLE))  # what the file sees: BGR in [-1, 1]
        assert torch.allclose(main(x), ((raw - 0.25) / 0.5).flip(1), atol=1e-6)


def test_the_files_metadata_declares_and_arguments_override(tmp_path):
    path = make_styled_onnx(
        tmp_path / "declared.onnx", {"dynamicnet.input_range": "-1,1", "dynamicnet.channel_order": "bgr"}
    )
    main = _main(path)
    assert (main.input_range, main.output_range, main.channel_order) == ((-1.0, 1.0), (0.0, 1.0), "bgr")
    main = _main(path, input_range=[0, 255], channel_order="rgb")
    assert (main.input_range, main.channel_order) == ((0.0, 255.0), "rgb")
    bad = make_styled_onnx(tmp_path / "bad.onnx", {"dynamicnet.output_range": "1,0"})
    with pytest.raises(DynamicNetError, match="output_range must be two finite numbers lo < hi, got '1,0'"):
        _main(bad)


def test_a_model_folder_references_theta_and_rebuilds_it(styled, tmp_path):
    main = _main(styled)
    point = insertion_points(main, ["Mul/out"], (16, 16))[0]
    assert (point.name, point.channels, point.cut) == ("network.Mul/out", 8, True)
    torch.manual_seed(0)
    net = DynamicNet(main, [point.name], channels=[point.channels])
    save_pretrained(net, tmp_path / "m", application="style", architecture=main.spec())
    loaded, config = load_pretrained(tmp_path / "m")  # built once more on the meta device first: must work
    assert config["architecture"]["kwargs"]["sha256"] == source_sha256(str(styled))
    from safetensors.torch import load_file

    assert all(key.startswith("blocks.") for key in load_file(str(tmp_path / "m" / "model.safetensors")))
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(loaded(x, alpha=0.0), main(x))
        assert torch.allclose(loaded(x, alpha=1.0), net(x, alpha=1.0), atol=1e-6)


def test_a_changed_or_missing_file_is_refused_in_one_line(tmp_path):
    path = make_styled_onnx(tmp_path / "net.onnx")
    main = _main(path)
    net = DynamicNet(main, ["network.Mul/out"], channels=[8])
    save_pretrained(net, tmp_path / "m", application="style", architecture=main.spec())
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(DynamicNetError) as info:
        load_pretrained(tmp_path / "m")
    assert "net.onnx: its SHA-256 is" in str(info.value) and "changed since" in str(info.value)
    assert "\n" not in str(info.value)
    path.unlink()
    with pytest.raises(DynamicNetError, match=r"net\.onnx: missing; .*architecture\.kwargs\.source"):
        load_pretrained(tmp_path / "m")


def test_a_name_that_is_not_a_module_gets_the_closest_ones(styled):
    main = _main(styled)
    with pytest.raises(
        DynamicNetError,
        match=r"'Mul/ou' is not a module of styled\.onnx \(style=onehot:1\); "
        r"did you mean 'Mul/out'.*dynamicnet inspect",
    ):
        insertion_points(main, ["Mul/ou"], (16, 16))
    constant = next(name for name, _ in main.network.named_modules() if "Constant" in name or name == "initializers")
    with pytest.raises(DynamicNetError, match="is a module of the network but receives no feature map"):
        insertion_points(main, [constant], (16, 16))


def test_the_output_range_is_checked_on_a_batch(styled):
    x = torch.rand(2, 3, 16, 16)
    _main(styled).check_output_range(x)  # a sigmoid, declared [0, 1]
    for declared in [(-1, 1), (0, 255), (2, 3)]:
        with pytest.raises(
            DynamicNetError,
            match=rf"declared output range \[{declared[0]}, {declared[1]}\]; "
            "it looks like 0,1",
        ):
            _main(styled, output_range=declared).check_output_range(x)


def test_module_class_theta_needs_its_weights(tmp_path):
    from safetensors.torch import save_file
    from toy import TinyNet

    with pytest.raises(DynamicNetError, match="toy:TinyNet: needs its trained weights"):
        source_sha256("toy:TinyNet")
    torch.manual_seed(1)
    weights = tmp_path / "tiny.safetensors"
    save_file(TinyNet().eval().state_dict(), str(weights))
    main = ImportedMain("toy:TinyNet", source_sha256("toy:TinyNet", str(weights)), str(weights))
    assert main.describe() == "toy:TinyNet" and main.spec()["kwargs"]["weights"] == str(weights.resolve())
    assert json.loads(json.dumps(main.spec())) == main.spec()  # the config's JSON


def test_fixed_input_values():
    style = InputSpec("style", (4,), torch.float32)
    codes = InputSpec("codes", (None, 2), torch.int64)  # a leading free dimension follows the image's batch
    image = InputSpec("image", (None, 3, None, None), torch.float32)
    inputs = (image, style, codes)
    for text, expected in [
        ("onehot:2", [0, 0, 1, 0]),
        ("1:0.5,3:0.5", [0, 0.5, 0, 0.5]),
        ("0.25", [0.25] * 4),
        ("1,2,3,4", [1, 2, 3, 4]),
    ]:
        values = parse_fixed_inputs([f"style={text}", "codes=7,8"], inputs, 0)
        assert values[1].tolist() == expected
        assert values[2].dtype == torch.int64 and values[2].tolist() == [[7, 8]]
    for specs, message in [
        (["style"], "expected NAME=VALUES"),
        (["colour=1", "codes=1"], "the network has no input 'colour' .its inputs: image, style, codes."),
        (["image=1", "codes=1"], "'image' is the image input"),
        (["style=1", "style=2", "codes=1"], "'style' is given twice"),
        (["style=1,2", "codes=1"], "2 values for 4 entries"),
        (["style=onehot:4", "codes=1"], "index 4 is outside 0 … 3"),
        (["style=1", "codes=0.5"], "must be whole numbers"),
        (["style=a:b", "codes=1"], "expected onehot:K"),
        (["style=1"], r"inputs besides the image \(codes \[\?, 2\] int64\).*fixed_inputs=\['codes=onehot:0'\]"),
    ]:
        with pytest.raises(DynamicNetError, match=message):
            parse_fixed_inputs(specs, inputs, 0)
    free = InputSpec("free", (None,), torch.float32)
    with pytest.raises(DynamicNetError, match=r"its shape \[\?\] is not fixed"):
        parse_fixed_inputs(["free=1"], (image, free), 0)
