"""The layering of ../shared/STYLE.md holds in imports, not only in calls: checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "dynamicnet" or m.startswith("dynamicnet.")}


def test_package_root_is_lazy() -> None:
    loaded = loaded_after("import dynamicnet")
    assert "torch" not in loaded
    assert ours(loaded) <= {
        "dynamicnet",
        "dynamicnet._version",
        "dynamicnet.errors",
        "dynamicnet.utils",
        "dynamicnet.utils.lazy",
    }


@pytest.mark.slow  # fresh interpreters
def test_core_imports_torch_and_core_only() -> None:
    loaded = ours(loaded_after("import dynamicnet.core"))
    outside = {m for m in loaded if not m.startswith("dynamicnet.core")}
    # The package root and the two leaf helpers every layer may use (errors, atomic file writes).
    assert outside <= {
        "dynamicnet",
        "dynamicnet._version",
        "dynamicnet.errors",
        "dynamicnet.utils",
        "dynamicnet.utils.fs",
        "dynamicnet.utils.lazy",
    }
    assert not {"PIL", "numpy.random", "cv2", "h5py"} & loaded_after("import dynamicnet.core")


@pytest.mark.slow  # a fresh interpreter per application
@pytest.mark.parametrize("app", ["style", "completion", "dcgan"])
def test_pipelines_import_no_training_losses_or_cli(app: str) -> None:
    loaded = ours(loaded_after(f"import dynamicnet.apps.{app}.pipeline"))
    forbidden = [
        m
        for m in loaded
        if m.startswith(("dynamicnet.training", "dynamicnet.losses", "dynamicnet.cli", "dynamicnet.demo"))
        or m.endswith((".train", ".recipe"))
    ]
    assert forbidden == []
    others = {a for a in ("style", "completion", "dcgan") if a != app}
    assert not [m for m in loaded if m.startswith(tuple(f"dynamicnet.apps.{a}" for a in others))]


def test_lazy_names_resolve() -> None:
    import dynamicnet
    import dynamicnet.apps.completion as completion
    import dynamicnet.apps.dcgan as dcgan
    import dynamicnet.apps.style as style

    for package in (dynamicnet, style, completion, dcgan):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = style.nope  # type: ignore[attr-defined]
