import json

import pytest
import torch
from toy import tiny_dynamic

from dynamicnet.core import FORMAT_VERSION, ModelFolderError, load_pretrained, read_config, save_pretrained

X = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
ARCH = {"name": "tiny-test", "kwargs": {"width": 8, "norm": True}}


def _save(tmp_path, dtype=torch.float32, sets=("higher", "lower")):
    net = tiny_dynamic(sets=sets).eval()
    for p in net.tuning_parameters():  # make the blocks matter
        p.data.add_(0.01)
    folder = save_pretrained(net, tmp_path / "model", application="toy", architecture=ARCH,
                             objectives={"main": {"w": 1}, "higher": {"w": 2}, "lower": {"w": 0}},
                             alpha_range=(-1, 1), provenance={"steps": 3, "seed": 0, "data": "synthetic"},
                             dtype=dtype)
    return net, folder


def test_round_trip_reproduces_outputs_exactly(tmp_path):
    net, folder = _save(tmp_path)
    loaded, config = load_pretrained(folder)
    with torch.no_grad():
        for alpha in (0.0, 0.5, -1.0, [1.0, 0.0, -0.3]):
            assert torch.equal(loaded(X, alpha=alpha), net(X, alpha=alpha))
    assert config["format_version"] == FORMAT_VERSION
    assert config["dynamic"]["sets"] == ["higher", "lower"]
    assert config["dynamic"]["alpha_range"] == [-1.0, 1.0]
    assert config["provenance"]["steps"] == 3 and "saved_at" in config["provenance"]
    assert config["library_version"]


def test_fp16_folder_is_smaller_and_close(tmp_path):
    net, folder32 = _save(tmp_path)
    _, folder16 = _save(tmp_path / "h", dtype=torch.float16)
    assert (folder16 / "model.safetensors").stat().st_size < 0.6 * (folder32 / "model.safetensors").stat().st_size
    loaded, config = load_pretrained(folder16)
    assert config["dtype"] == "float16"
    assert next(loaded.parameters()).dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(loaded(X, alpha=0.5), net(X, alpha=0.5), rtol=1e-2, atol=1e-2)


def test_weights_are_not_pickled(tmp_path):
    _, folder = _save(tmp_path)
    head = (folder / "model.safetensors").read_bytes()[:8]
    assert int.from_bytes(head, "little") > 0  # safetensors header length, not a pickle/zip magic
    assert not (folder / "model.safetensors").read_bytes().startswith(b"PK")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no_dir", "no such directory"),
        ("no_config", "config.json: missing"),
        ("bad_json", "config.json: invalid JSON"),
        ("future_version", "unsupported format_version 99"),
        ("no_weights", "model.safetensors: missing"),
        ("garbage_weights", "model.safetensors: not a valid safetensors file"),
        ("wrong_shape", "has shape"),
        ("missing_key", "do not match config.json"),
        ("unknown_arch", "unknown architecture 'nope'"),
        ("nan_weights", "NaN or infinite"),
        ("null_arch", "'architecture' must be an object"),
        ("bad_dynamic_types", "'dynamic.sets' must be"),
        ("bad_channels", "'dynamic.channels' must"),
        ("bad_alpha_range", "'dynamic.alpha_range'"),
        ("huge_width", "more than the"),
        ("negative_width", "cannot build the model"),
    ],
)
def test_broken_folders_give_one_clear_error_naming_the_file(tmp_path, breakage, message):
    _, folder = _save(tmp_path)
    cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
    config = json.loads(cfg_path.read_text())
    if breakage == "no_dir":
        folder = tmp_path / "absent"
    elif breakage == "no_config":
        cfg_path.unlink()
    elif breakage == "bad_json":
        cfg_path.write_text("{not json")
    elif breakage == "future_version":
        cfg_path.write_text(json.dumps(config | {"format_version": 99}))
    elif breakage == "no_weights":
        w_path.unlink()
    elif breakage == "garbage_weights":
        w_path.write_bytes(b"\x00" * 3)
    elif breakage == "wrong_shape":
        config["architecture"]["kwargs"]["width"] = 4
        config["dynamic"]["channels"] = [4, 4, 4]
        cfg_path.write_text(json.dumps(config))
    elif breakage == "missing_key":
        config["dynamic"]["sets"] = ["higher"]
        cfg_path.write_text(json.dumps(config))
    elif breakage == "unknown_arch":
        config["architecture"]["name"] = "nope"
        cfg_path.write_text(json.dumps(config))
    elif breakage == "null_arch":
        cfg_path.write_text(json.dumps(config | {"architecture": None}))
    elif breakage == "bad_dynamic_types":
        config["dynamic"]["sets"] = "higher"
        cfg_path.write_text(json.dumps(config))
    elif breakage == "bad_channels":
        config["dynamic"]["channels"] = [8, "8", 8]
        cfg_path.write_text(json.dumps(config))
    elif breakage == "bad_alpha_range":
        config["dynamic"]["alpha_range"] = [1, 0]
        cfg_path.write_text(json.dumps(config))
    elif breakage in ("huge_width", "negative_width"):  # 1e6 used to attempt a 72 TB allocation
        config["architecture"]["kwargs"]["width"] = 1_000_000 if breakage == "huge_width" else -3
        cfg_path.write_text(json.dumps(config))
    elif breakage == "nan_weights":  # loaded silently before and rendered black
        from safetensors.torch import load_file, save_file

        state = load_file(str(w_path))
        save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()},
                  str(w_path))
    with pytest.raises(ModelFolderError, match=message) as info:
        load_pretrained(folder)
    assert "\n" not in str(info.value)


def test_read_config_needs_no_weights(tmp_path):
    _, folder = _save(tmp_path)
    (folder / "model.safetensors").unlink()
    assert read_config(folder)["application"] == "toy"


def test_loaded_models_refuse_absurd_alpha_with_a_clear_message(tmp_path):
    net, folder = _save(tmp_path)  # trained range [−1, 1]: usable [−3, 3]
    loaded, _ = load_pretrained(folder)
    assert loaded.alpha_limits == (-3.0, 3.0) and net.alpha_limits is None
    with torch.no_grad():
        loaded(X, alpha=2.5)  # extrapolation a little past the objective is allowed
        for bad in (1e308, -3.5, [0.0, 0.0, 4.0], {"higher": 1e9}):
            with pytest.raises(ValueError, match="usable range"):
                loaded(X, alpha=bad)
        net(X, alpha=10.0)  # a network built in Python has no range until someone sets one
