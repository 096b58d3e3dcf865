"""Self-describing model folders: ``config.json`` + ``model.safetensors``.

A model folder carries everything needed to rebuild and run a Dynamic-Net without training code: the format
version, the library version, the application, the main network's architecture (name + keyword arguments of
a registered builder, or a user's own ``nn.Module`` class as ``"module:Class"``), the insertion points and block
sets with the objective each set was trained for, the α range, and the training provenance. Weights are
safetensors (never pickle), fp32 or fp16.

``format_version`` exists so that a later change of layout fails loudly instead of loading stale keys.
"""
from __future__ import annotations

import importlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .._version import __version__
from ..errors import DynamicNetError
from ..utils.fs import atomic_path, atomic_write_text
from .dynamic import DynamicNet, alpha_limits

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

ArchitectureBuilder = Callable[..., nn.Module]
_ARCHITECTURES: dict[str, ArchitectureBuilder] = {}


class ModelFolderError(DynamicNetError):
    """A model folder is missing, malformed, from an unknown format version, or does not match its weights."""


def register_architecture(name: str, builder: ArchitectureBuilder) -> None:
    """Make a main-network builder loadable by name: ``builder(**config["architecture"]["kwargs"])``."""
    _ARCHITECTURES[name] = builder


# The library's own architectures, by name → "module:attribute", resolved on first use: loading a model folder
# must not depend on which application modules happen to have been imported (registration stays for users' own
# networks). Core names modules but imports none of them until a folder asks for one.
BUILTIN_ARCHITECTURES: dict[str, str] = {
    "johnson": "dynamicnet.apps.style.model:TransformerNet",
    "dcgan-generator": "dynamicnet.apps.dcgan.model:DCGANGenerator",
    "completion-net": "dynamicnet.apps.completion.model:CompletionNet",
    # A network trained elsewhere, rebuilt from the file its kwargs reference (path + SHA-256, checked).
    "imported": "dynamicnet.imports.theta:ImportedMain",
}


def build_architecture(spec: Mapping[str, Any]) -> nn.Module:
    """Build the main network described by ``{"name": ..., "kwargs": {...}}``: a registered name, a built-in
    one, or ``"module:Class"`` (see :func:`import_architecture`)."""
    name = spec.get("name")
    if name not in _ARCHITECTURES and isinstance(name, str) and name in BUILTIN_ARCHITECTURES:
        module, attr = BUILTIN_ARCHITECTURES[name].split(":")
        _ARCHITECTURES[name] = getattr(importlib.import_module(module), attr)
    if name not in _ARCHITECTURES and isinstance(name, str) and ":" in name:
        return import_architecture(name)(**spec.get("kwargs", {}))
    if name not in _ARCHITECTURES:
        known = ", ".join(sorted(set(_ARCHITECTURES) | set(BUILTIN_ARCHITECTURES)))
        raise ModelFolderError(f"unknown architecture {name!r} (known: {known}, or 'module:Class')")
    return _ARCHITECTURES[name](**spec.get("kwargs", {}))


_CLASS_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def import_architecture(ref: str) -> type[nn.Module]:
    """The ``nn.Module`` class that ``"module:Class"`` names, imported.

    This is how a user's own network loads in a fresh process without registering it. Loading such a folder
    imports the named module (as unpickling would), but the only thing it then calls is an ``nn.Module`` subclass
    with the config's JSON keyword arguments: a config.json cannot name a function (``os:system``) to run.
    """
    if not _CLASS_REF.match(ref):
        raise ModelFolderError(f"architecture {ref!r}: expected a registered name or 'module:Class'")
    module_name, attr = ref.split(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelFolderError(f"architecture {ref!r}: cannot import {module_name} ({exc}); install it or add its "
                               f"folder to sys.path / PYTHONPATH, or register_architecture({ref!r}, builder) "
                               "before loading") from None
    for part in attr.split("."):
        found = getattr(found, part, None)
    if found is None:
        hint = (" (the model was saved from a script that defined it: define or import it in this script before "
                "loading, or move it into a module and save again)" if module_name == "__main__" else "")
        raise ModelFolderError(f"architecture {ref!r}: {module_name} has no {attr}{hint}")
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ModelFolderError(f"architecture {ref!r} is not a torch.nn.Module class")
    return found


def architecture_spec(main: nn.Module, name: str | None = None,
                      kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``architecture`` entry of a config that rebuilds ``main``, checked to do so.

    ``name`` defaults to ``main``'s class: the name it is registered under (or built in as), else
    ``"module:Class"``, which :func:`import_architecture` finds again in any process that can import the module.
    ``kwargs`` are the constructor's arguments (JSON: numbers, strings, booleans, lists of them); an object does
    not reveal them, so the caller passes them. The result is built on the ``meta`` device (no memory) and must
    have ``main``'s parameter and buffer names and shapes: a folder that saves also loads.

    Raises:
        DynamicNetError: the class cannot be imported back, the kwargs are not JSON, or the build differs.
    """
    kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in (kwargs or {}).items()}
    if not _json_kwargs(kwargs):
        raise DynamicNetError(f"main_kwargs must hold numbers, strings, booleans and lists of them, got {kwargs}")
    if name is None and type(main) in (nn.Sequential, nn.ModuleList, nn.ModuleDict):
        raise DynamicNetError(f"the main network is an nn.{type(main).__name__}, which keyword arguments cannot "
                              "rebuild: make it a class of your own (an nn.Module whose __init__ builds its layers), "
                              "or register_architecture(name, builder) and pass architecture=name")
    name = name or _class_name(type(main))
    spec = {"name": name, "kwargs": kwargs}
    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        with torch.device("meta"):
            probe = build_architecture(spec)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DynamicNetError(f"{call} does not build ({' '.join(str(exc).split())}); pass the main network's "
                              "constructor arguments as main_kwargs") from None
    want = {k: tuple(v.shape) for k, v in main.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    if want != got:
        differ = sorted(set(want) ^ set(got)) or sorted(k for k in want if want[k] != got[k])
        raise DynamicNetError(f"{call} builds a different network from the main one ({len(differ)} tensors differ, "
                              f"e.g. {differ[0]!r}); pass its constructor arguments as main_kwargs, or as "
                              "architecture the name of a registered builder that rebuilds it")
    return spec


def _class_name(cls: type[nn.Module]) -> str:
    """How a config names a class: its registered or built-in name, else ``"module:Class"`` (checked importable)."""
    for name, builder in _ARCHITECTURES.items():
        if builder is cls:
            return name
    ref = f"{cls.__module__}:{cls.__qualname__}"
    for name, target in BUILTIN_ARCHITECTURES.items():
        if target == ref:
            return name
    try:
        found = import_architecture(ref)
    except ModelFolderError:
        found = None
    if found is not cls:
        raise DynamicNetError(f"the main network's class {ref} cannot be imported back (defined inside a function, "
                              "or not by an import): define it at the top level of a module, or "
                              "register_architecture(name, builder) and pass architecture=name")
    return ref


def save_pretrained(
    model: DynamicNet,
    directory: str | Path,
    *,
    application: str,
    architecture: Mapping[str, Any],
    objectives: Mapping[str, Any] | None = None,
    alpha_range: tuple[float, float] = (0.0, 1.0),
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``model`` as a model folder and return its path.

    Args:
        architecture: ``{"name": registered builder, "kwargs": {...}}`` that rebuilds ``model.main``.
        objectives: per objective name (``"main"`` and each block set), a JSON-able description.
        provenance: how it was trained (data, steps, seed, command, time); ``saved_at`` is added.
        extra: application-specific settings (e.g. a default α, a display name).
        dtype: ``torch.float16`` halves the file; weights are cast back to fp32 on load.
    """
    if dtype not in (torch.float32, torch.float16):
        raise ValueError(f"dtype must be torch.float32 or torch.float16, got {dtype}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "application": application,
        "architecture": dict(architecture),
        "dynamic": {
            "insertion_points": list(model.insertion_points),
            "channels": list(model.channels),
            "sets": list(model.set_names),
            "alpha_range": [float(alpha_range[0]), float(alpha_range[1])],
        },
        "objectives": dict(objectives or {}),
        "provenance": {**dict(provenance or {}), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "extra": dict(extra or {}),
        "dtype": str(dtype).removeprefix("torch."),
    }
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format_version": str(FORMAT_VERSION)})
    atomic_write_text(directory / CONFIG_NAME, json.dumps(config, indent=2, sort_keys=False) + "\n")
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read and validate a model folder's ``config.json`` (no weights are touched)."""
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not directory.is_dir():
        raise ModelFolderError(f"{directory}: not a model folder (no such directory)")
    if not path.is_file():
        raise ModelFolderError(f"{path}: missing; a model folder needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelFolderError(f"{path}: expected a JSON object")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(
            f"{path}: unsupported format_version {version!r} (this dynamicnet {__version__} reads {FORMAT_VERSION})"
        )
    for key in ("application", "architecture", "dynamic"):
        if key not in config:
            raise ModelFolderError(f"{path}: missing required key {key!r}")
    dyn = config["dynamic"]
    for key in ("insertion_points", "channels", "sets"):
        if not isinstance(dyn, dict) or key not in dyn:
            raise ModelFolderError(f"{path}: missing required key 'dynamic.{key}'")
    problem = _schema_problem(config)
    if problem:
        raise ModelFolderError(f"{path}: {problem}")
    return config


def _json_kwargs(kwargs: Mapping[str, Any]) -> bool:
    """Whether builder keyword arguments are the JSON a config may hold: scalars and flat lists of them."""
    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (bool, int, float, str))

    return all(scalar(v) or (isinstance(v, list) and all(scalar(x) for x in v)) for v in kwargs.values())


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) and x for x in v)


def _schema_problem(config: Mapping[str, Any]) -> str | None:
    """What is wrong with a config's types, or None: checked before anything is built from it."""
    if not isinstance(config["application"], str):
        return "'application' must be a string"
    arch = config["architecture"]
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str):
        return "'architecture' must be an object with a string 'name'"
    kwargs = arch.get("kwargs", {})

    if not isinstance(kwargs, dict) or not _json_kwargs(kwargs):
        return "'architecture.kwargs' must be an object of numbers, strings, booleans and lists of them"
    dyn = config["dynamic"]
    if not _is_str_list(dyn["insertion_points"]):
        return "'dynamic.insertion_points' must be a non-empty list of names"
    if not _is_str_list(dyn["sets"]):
        return "'dynamic.sets' must be a non-empty list of names"
    channels = dyn["channels"]
    if not (isinstance(channels, list) and len(channels) == len(dyn["insertion_points"])
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 < c <= 65536 for c in channels)):
        return "'dynamic.channels' must list one channel count (1 … 65536) per insertion point"
    rng = dyn.get("alpha_range", [0.0, 1.0])
    if not (isinstance(rng, list) and len(rng) == 2
            and all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in rng)
            and rng[0] < rng[1]):
        return "'dynamic.alpha_range' must be two finite numbers, low < high"
    for key in ("objectives", "provenance", "extra"):
        if key in config and not isinstance(config[key], dict):
            return f"{key!r} must be an object"
    return None


#: A model folder may describe at most this many parameters: far above any network here (the largest bundled one
#: has under 2 M), far below what would exhaust memory, so a damaged or hostile config.json cannot make the loader
#: allocate terabytes ("width": 1000000).
MAX_PARAMETERS = 200_000_000


def build_from_config(config: Mapping[str, Any]) -> DynamicNet:
    """An untrained :class:`DynamicNet` with the architecture a config describes.

    The main network is first built on the ``meta`` device (shapes only, no memory) to check its size against
    :data:`MAX_PARAMETERS`.
    """
    dyn = config["dynamic"]
    with torch.device("meta"):
        probe = build_architecture(config["architecture"])
    size = sum(p.numel() for p in probe.parameters())
    if size > MAX_PARAMETERS:
        raise ValueError(f"the architecture has {size:,} parameters, more than the {MAX_PARAMETERS:,} a model "
                         "folder may describe")
    return DynamicNet(
        build_architecture(config["architecture"]),
        dyn["insertion_points"],
        sets=dyn["sets"],
        channels=dyn["channels"],
    )


def load_pretrained(directory: str | Path) -> tuple[DynamicNet, dict[str, Any]]:
    """Load a model folder into a fresh :class:`DynamicNet` (fp32, CPU, eval mode) and return it with its config.

    Raises:
        ModelFolderError: one clear message naming the offending file.
    """
    directory = Path(directory)
    config = read_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelFolderError(f"{weights}: missing; a model folder needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        model = build_from_config(config)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelFolderError(f"{directory / CONFIG_NAME}: cannot build the model ({exc})") from None
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFolderError(f"{weights}: not a valid safetensors file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFolderError(
            f"{weights}: weights do not match {CONFIG_NAME} (missing {missing[:3]}{'…' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'…' if len(unexpected) > 3 else ''})"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ModelFolderError(
                f"{weights}: tensor {key!r} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFolderError(f"{weights}: tensor {key!r} holds NaN or infinite values; the file is damaged")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.eval()
    model.alpha_limits = alpha_limits(config["dynamic"].get("alpha_range", (0.0, 1.0)))
    model.config = config
    return model, config
