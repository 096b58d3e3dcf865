"""DynamicNet.save_pretrained / from_pretrained: a network of one's own saved from Python loads in a fresh process."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from toy import TinyNet, tiny_dynamic

from dynamicnet.core import DynamicNet, ModelFolderError
from dynamicnet.errors import DynamicNetError

X = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))

USER_MODULE = """
import torch
from torch import nn


class UserNet(nn.Module):
    def __init__(self, width=4, depth=2):
        super().__init__()
        self.inp = nn.Conv2d(3, width, 3, padding=1)
        self.body = nn.Sequential(*[nn.Conv2d(width, width, 3, padding=1) for _ in range(depth)])
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, x):
        return self.out(torch.relu(self.body(torch.relu(self.inp(x)))))
"""


def _blocks_matter(net: DynamicNet) -> DynamicNet:
    for p in net.tuning_parameters():
        p.data.add_(0.05)
    return net.eval()


def test_registered_network_round_trips(tmp_path):
    net = _blocks_matter(tiny_dynamic(sets=("higher", "lower")))
    folder = net.save_pretrained(tmp_path / "m", objectives={"main": "a"})
    loaded = DynamicNet.from_pretrained(folder, device="cpu")
    assert loaded.config["architecture"] == {"name": "tiny-test", "kwargs": {}}
    assert loaded.config["application"] == "custom" and loaded.config["dynamic"]["alpha_range"] == [-1.0, 1.0]
    assert not loaded.training
    with torch.no_grad():
        for alpha in (0.0, 0.7, -0.4):
            assert torch.equal(loaded(X, alpha=alpha), net(X, alpha=alpha))


def test_constructor_arguments_are_needed_and_checked(tmp_path):
    net = DynamicNet(TinyNet(width=4), ["c2", "head"])
    with pytest.raises(DynamicNetError, match=r"tiny-test\(\) builds a different network.*main_kwargs"):
        net.save_pretrained(tmp_path / "m")
    assert not (tmp_path / "m").exists()  # refused before anything is written
    with pytest.raises(DynamicNetError, match="does not build.*main_kwargs"):
        net.save_pretrained(tmp_path / "m", main_kwargs={"breadth": 4})
    with pytest.raises(DynamicNetError, match="main_kwargs must hold numbers"):
        net.save_pretrained(tmp_path / "m", main_kwargs={"width": torch.tensor(4)})
    net.save_pretrained(tmp_path / "m", main_kwargs={"width": 4})
    assert DynamicNet.from_pretrained(tmp_path / "m").main.width == 4


@pytest.mark.slow
def test_users_module_class_loads_in_a_fresh_process(tmp_path, monkeypatch):
    (tmp_path / "my_nets_for_dynamicnet.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from my_nets_for_dynamicnet import UserNet

    net = _blocks_matter(DynamicNet(UserNet(width=5, depth=3), ["body.1", "out"]))
    net.save_pretrained(tmp_path / "m", main_kwargs={"width": 5, "depth": 3})
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architecture"] == {"name": "my_nets_for_dynamicnet:UserNet", "kwargs": {"width": 5, "depth": 3}}
    with torch.no_grad():
        torch.save({"x": X, "y": net(X, alpha=0.5)}, tmp_path / "ref.pt")
    script = textwrap.dedent(f"""
        import sys, torch
        from dynamicnet import DynamicNet
        try:
            DynamicNet.from_pretrained({str(tmp_path / "m")!r})
        except Exception as exc:
            print("without the module:", exc)
        sys.path.insert(0, {str(tmp_path)!r})
        net = DynamicNet.from_pretrained({str(tmp_path / "m")!r})
        ref = torch.load({str(tmp_path / "ref.pt")!r})
        with torch.no_grad():
            print("equal:", torch.equal(net(ref["x"], alpha=0.5), ref["y"]))
    """)
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path.parent
    )
    assert run.returncode == 0, run.stderr
    assert "without the module: architecture 'my_nets_for_dynamicnet:UserNet': cannot import" in run.stdout
    assert "equal: True" in run.stdout


def test_containers_and_local_classes_are_refused_with_a_way_out(tmp_path):
    seq = DynamicNet(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.Conv2d(3, 3, 1)), ["1"])
    with pytest.raises(DynamicNetError, match="nn.Sequential.*class of your own"):
        seq.save_pretrained(tmp_path / "s")

    class Local(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(3, 3, 1)

    with pytest.raises(DynamicNetError, match="cannot be imported back.*register_architecture"):
        DynamicNet(Local(), ["c"]).save_pretrained(tmp_path / "l")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("os:system", "not a torch.nn.Module class"),  # a config.json cannot make the loader run a function
        ("builtins:eval", "not a torch.nn.Module class"),
        ("__main__:NoSuchNet", "define or import it in this script"),
        ("no_such_module_xyz:Net", "cannot import no_such_module_xyz"),
        ("os:path:join", "expected a registered name or 'module:Class'"),
    ],
)
def test_loading_a_module_class_imports_only_nn_modules(tmp_path, name, message):
    net = tiny_dynamic()
    folder = net.save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["architecture"] = {"name": name, "kwargs": {"command": f"touch {tmp_path / 'pwned'}"}}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match=message):
        DynamicNet.from_pretrained(folder)
    assert not (tmp_path / "pwned").exists()


def test_resaving_a_loaded_model_keeps_its_folder_settings(tmp_path):
    net = tiny_dynamic()
    net.save_pretrained(
        tmp_path / "a",
        application="toy",
        objectives={"main": 1},
        alpha_range=(0.0, 2.0),
        extra={"note": "x"},
        dtype=torch.float16,
        provenance={"steps": 3},
    )
    loaded = DynamicNet.from_pretrained(tmp_path / "a")
    loaded.save_pretrained(tmp_path / "b")
    a = json.loads((tmp_path / "a" / "config.json").read_text())
    b = json.loads((tmp_path / "b" / "config.json").read_text())
    for key in ("application", "architecture", "dynamic", "objectives", "extra", "dtype"):
        assert a[key] == b[key], key
    assert b["provenance"]["steps"] == 3


def test_bundled_models_load_by_name():
    net = DynamicNet.from_pretrained("starry-fast")
    assert net.config["application"] == "style" and net.alpha_limits is not None
    with pytest.raises(DynamicNetError, match="neither a bundled model"):
        DynamicNet.from_pretrained("no-such-model")
