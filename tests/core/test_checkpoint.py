import json
import os
import subprocess
import sys

import pytest
import torch
from toy import tiny_dynamic

from dynamicnet.core import FORMAT_VERSION, ModelFolderError, load_pretrained, read_config, save_pretrained
from dynamicnet.core.checkpoint import resave_pretrained, weights_sha256
from dynamicnet.utils.fs import sha256_file

X = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
ARCH = {"name": "tiny-test", "kwargs": {"width": 8, "norm": True}}


def _save(tmp_path, dtype=torch.float32, sets=("higher", "lower")):
    net = tiny_dynamic(sets=sets).eval()
    for p in net.tuning_parameters():  # make the blocks matter
        p.data.add_(0.01)
    folder = save_pretrained(
        net,
        tmp_path / "model",
        application="toy",
        architecture=ARCH,
        objectives={"main": {"w": 1}, "higher": {"w": 2}, "lower": {"w": 0}},
        alpha_range=(-1, 1),
        provenance={"steps": 3, "seed": 0, "data": "synthetic"},
        dtype=dtype,
    )
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
        save_file(
            {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()}, str(w_path)
        )
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


# ------------------------------------------------------------------------------------------------ shared weights


def _save_sharing(tmp_path, seed=0, name="model", dtype=torch.float32, main_dtype=None):
    """A model folder whose θ goes to tmp_path/_shared; θ is the same for every seed, the blocks differ."""
    net = tiny_dynamic().eval()
    torch.manual_seed(seed)
    for p in net.tuning_parameters():
        p.data.normal_(0, 0.1)
    folder = save_pretrained(
        net,
        tmp_path / name,
        application="toy",
        architecture=ARCH,
        dtype=dtype,
        main_dtype=main_dtype,
        share_main=tmp_path / "_shared",
    )
    return net, folder


def test_shared_main_is_stored_once_and_loads_as_before(tmp_path):
    (net_a, a), (net_b, b) = _save_sharing(tmp_path, 0, "a"), _save_sharing(tmp_path, 1, "b")
    (shared,) = (tmp_path / "_shared").iterdir()  # one file for both folders, named by its content
    from safetensors.torch import load_file

    assert all(k.startswith("main.") for k in load_file(str(shared)))
    assert not any(k.startswith("main.") for k in load_file(str(a / "model.safetensors")))
    config = read_config(a)
    assert config["shared_weights"] == [{"file": f"../_shared/{shared.name}", "sha256": sha256_file(shared)}]
    assert shared.name == f"{config['shared_weights'][0]['sha256'][:16]}.safetensors"
    for net, folder in ((net_a, a), (net_b, b)):
        loaded, _ = load_pretrained(folder)
        with torch.no_grad():
            assert torch.equal(loaded(X, alpha=0.7), net(X, alpha=0.7))


def test_resave_bundles_a_run_folder_with_theta_shared_and_its_config_kept(tmp_path):
    net = tiny_dynamic().eval()
    run = save_pretrained(
        net, tmp_path / "run", application="toy", architecture=ARCH, provenance={"steps": 3}, extra={"k": 1}
    )
    bundled = resave_pretrained(
        run, tmp_path / "models" / "m", dtype=torch.float16, main_dtype=torch.float32, share_main=tmp_path / "models"
    )
    before, after = read_config(run), read_config(bundled)
    for key in ("application", "architecture", "objectives", "dynamic", "extra"):
        assert after[key] == before[key], key
    assert after["provenance"]["steps"] == 3 and (after["dtype"], after["main_dtype"]) == ("float16", "float32")
    assert len(after["shared_weights"]) == 1 and read_config(run)["dtype"] == "float32"  # the source is untouched
    loaded, _ = load_pretrained(bundled)
    with torch.no_grad():
        torch.testing.assert_close(loaded(X, alpha=0.7), net(X, alpha=0.7), rtol=0, atol=1e-2)
    assert torch.equal(loaded.main.state_dict()["c1.weight"], net.main.state_dict()["c1.weight"])  # θ stays fp32
    resave_pretrained(run, dtype=torch.float16)  # in place, as `train --fp16` does
    assert read_config(run)["dtype"] == "float16" and read_config(run)["provenance"]["steps"] == 3


def test_mixed_dtypes_keep_theta_exact_and_round_the_blocks(tmp_path):
    net, folder = _save_sharing(tmp_path, dtype=torch.float16, main_dtype=torch.float32)
    config = read_config(folder)
    assert (config["dtype"], config["main_dtype"]) == ("float16", "float32")
    loaded, _ = load_pretrained(folder)
    for key, value in net.state_dict().items():
        want = value if key.startswith("main.") or not value.is_floating_point() else value.half().float()
        assert torch.equal(loaded.state_dict()[key], want), key
    loaded.save_pretrained(tmp_path / "again")  # a re-save keeps the dtypes and is self-contained
    again = read_config(tmp_path / "again")
    assert (again["dtype"], again["main_dtype"]) == ("float16", "float32") and "shared_weights" not in again


@pytest.mark.slow
def test_a_folder_with_shared_weights_loads_in_a_fresh_process(tmp_path):
    from factories import make_tiny_style_model

    make_tiny_style_model(tmp_path / "store" / "tiny", share_main=tmp_path / "store" / "_shared")
    moved = tmp_path / "elsewhere"
    (tmp_path / "store").rename(moved)  # the reference is relative: the folders move together
    loaded, _ = load_pretrained(moved / "tiny")
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = loaded(x, alpha=1.0).double().sum().item()
    code = (
        "import sys, torch\nfrom dynamicnet import DynamicNet\n"
        "net = DynamicNet.from_pretrained(sys.argv[1])\n"
        "x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))\n"
        "with torch.no_grad():\n    print(repr(net(x, alpha=1.0).double().sum().item()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(moved / "tiny")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout
    assert float(out) == want


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", r"_shared/[0-9a-f]{16}\.safetensors: missing; .*config\.json takes its shared weights from it"),
        ("changed", r"its SHA-256 is [0-9a-f]{16}…, not the [0-9a-f]{16}… .*config\.json records"),
        ("garbage_ref", "'shared_weights' must list objects"),
        ("in_both", r"tensor 'main\.[\w.]+' is also in .*model\.safetensors"),
    ],
)
def test_a_missing_or_changed_shared_file_is_one_clear_line(tmp_path, breakage, message):
    net, folder = _save_sharing(tmp_path)
    (shared,) = (tmp_path / "_shared").iterdir()
    config = read_config(folder)
    if breakage == "missing":
        shared.unlink()
    elif breakage == "changed":
        from safetensors.torch import load_file, save_file

        state = load_file(str(shared))
        state["main.c1.weight"] += 1e-3  # a plausible file: right keys and shapes, other values
        save_file(state, str(shared))
    elif breakage == "garbage_ref":
        config["shared_weights"] = [{"file": shared.name, "sha256": "abc"}]
        (folder / "config.json").write_text(json.dumps(config))
    elif breakage == "in_both":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    with pytest.raises(ModelFolderError, match=message) as info:
        load_pretrained(folder)
    assert "\n" not in str(info.value)


def test_weights_digest_follows_the_shared_file(tmp_path):
    _, plain = _save(tmp_path)
    assert weights_sha256(plain) == sha256_file(plain / "model.safetensors")  # unchanged for plain folders
    _, folder = _save_sharing(tmp_path)
    before = weights_sha256(folder)
    config = read_config(folder)
    config["shared_weights"][0]["sha256"] = "0" * 64  # another θ under the same blocks
    (folder / "config.json").write_text(json.dumps(config))
    assert weights_sha256(folder) != before
