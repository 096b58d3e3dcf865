"""Self-describing model folders: ``config.json`` + ``model.safetensors``.

A model folder carries everything needed to rebuild and run a Dynamic-Net without training code: the format
version, the library version, the application, the main network's architecture (name + keyword arguments of
a registered builder, or a user's own ``nn.Module`` class as ``"module:Class"``), the insertion points and block
sets with the objective each set was trained for, the α range, and the training provenance. Weights are
safetensors (never pickle), fp32 or fp16.

Shared weights: folders whose main network θ is the same (several block sets trained on one θ, as the bundled
Starry Night models are) can store θ once. ``save_pretrained(..., share_main=DIR)`` writes θ's tensors to
``DIR/<SHA-256 prefix>.safetensors`` and the folder's ``config.json`` lists that file under ``shared_weights``
(its path relative to the folder, and its full SHA-256); ``model.safetensors`` then holds the rest. The name is
the content's hash, so folders saved from the same θ find the file already there and a different θ never
overwrites it; the loader checks the hash, so a changed or damaged shared file is refused, never loaded.

``format_version`` exists so that a later change of layout fails loudly instead of loading stale keys.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save, save_file
from torch import nn

from .._version import __version__
from ..errors import DynamicNetError
from ..utils.fs import atomic_path, atomic_write_text, sha256_file
from .dynamic import DynamicNet, alpha_limits

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: The prefix of θ's tensors in a :class:`DynamicNet` state dict: what ``share_main`` moves to a shared file.
MAIN_PREFIX = "main."
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

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
        raise ModelFolderError(
            f"architecture {ref!r}: cannot import {module_name} ({exc}); install it or add its "
            f"folder to sys.path / PYTHONPATH, or register_architecture({ref!r}, builder) "
            "before loading"
        ) from None
    for part in attr.split("."):
        found = getattr(found, part, None)
    if found is None:
        hint = (
            " (the model was saved from a script that defined it: define or import it in this script before "
            "loading, or move it into a module and save again)"
            if module_name == "__main__"
            else ""
        )
        raise ModelFolderError(f"architecture {ref!r}: {module_name} has no {attr}{hint}")
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ModelFolderError(f"architecture {ref!r} is not a torch.nn.Module class")
    return found


def architecture_spec(
    main: nn.Module, name: str | None = None, kwargs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
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
        raise DynamicNetError(
            f"the main network is an nn.{type(main).__name__}, which keyword arguments cannot "
            "rebuild: make it a class of your own (an nn.Module whose __init__ builds its layers), "
            "or register_architecture(name, builder) and pass architecture=name"
        )
    name = name or _class_name(type(main))
    spec = {"name": name, "kwargs": kwargs}
    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        with torch.device("meta"):
            probe = build_architecture(spec)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DynamicNetError(
            f"{call} does not build ({' '.join(str(exc).split())}); pass the main network's "
            "constructor arguments as main_kwargs"
        ) from None
    want = {k: tuple(v.shape) for k, v in main.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    if want != got:
        differ = sorted(set(want) ^ set(got)) or sorted(k for k in want if want[k] != got[k])
        raise DynamicNetError(
            f"{call} builds a different network from the main one ({len(differ)} tensors differ, "
            f"e.g. {differ[0]!r}); pass its constructor arguments as main_kwargs, or as "
            "architecture the name of a registered builder that rebuilds it"
        )
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
        raise DynamicNetError(
            f"the main network's class {ref} cannot be imported back (defined inside a function, "
            "or not by an import): define it at the top level of a module, or "
            "register_architecture(name, builder) and pass architecture=name"
        )
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
    main_dtype: torch.dtype | None = None,
    share_main: str | Path | None = None,
) -> Path:
    """Write ``model`` as a model folder and return its path.

    Args:
        architecture: ``{"name": registered builder, "kwargs": {...}}`` that rebuilds ``model.main``.
        objectives: per objective name (``"main"`` and each block set), a JSON-able description.
        provenance: how it was trained (data, steps, seed, command, time); ``saved_at`` is added.
        extra: application-specific settings (e.g. a default α, a display name).
        dtype: ``torch.float16`` halves the file; weights are cast back to fp32 on load.
        main_dtype: θ's dtype where it differs from ``dtype``: a network's output can be more sensitive to
            rounding its main weights than its blocks' (the bundled Starry Night θ in fp16 moves pixels by up to
            0.96/255 at 512 px, its blocks by under 0.06/255), so the blocks may be fp16 while θ stays fp32.
        share_main: a folder to store θ's tensors in, as ``<SHA-256 prefix>.safetensors``, instead of in this
            folder's ``model.safetensors`` (see the module docstring); folders saved with the same θ and folder
            share one file. The reference is a path relative to ``directory``: move the two folders together.
            (An imported θ, which a folder references rather than stores, leaves nothing to share.)
    """
    if dtype not in (torch.float32, torch.float16):
        raise ValueError(f"dtype must be torch.float32 or torch.float16, got {dtype}")
    if main_dtype not in (None, torch.float32, torch.float16):
        raise ValueError(f"main_dtype must be torch.float32, torch.float16 or None, got {main_dtype}")
    main_dtype = main_dtype or dtype
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
    if main_dtype != dtype:
        config["main_dtype"] = str(main_dtype).removeprefix("torch.")

    def stored(key: str, v: torch.Tensor) -> torch.Tensor:
        cast = (main_dtype if key.startswith(MAIN_PREFIX) else dtype) if v.is_floating_point() else v.dtype
        return v.detach().to("cpu", cast).contiguous()

    tensors = {k: stored(k, v) for k, v in model.state_dict().items()}
    theta = {k: v for k, v in tensors.items() if k.startswith(MAIN_PREFIX)}
    if share_main is not None and theta:
        tensors = {k: v for k, v in tensors.items() if not k.startswith(MAIN_PREFIX)}
        shared, digest = _write_shared(theta, Path(share_main))
        # Relative, with "/" on every system: the folders stay valid wherever they are moved together.
        config["shared_weights"] = [
            {"file": Path(os.path.relpath(shared.resolve(), directory.resolve())).as_posix(), "sha256": digest}
        ]
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format_version": str(FORMAT_VERSION)})
    atomic_write_text(directory / CONFIG_NAME, json.dumps(config, indent=2, sort_keys=False) + "\n")
    return directory


def _write_shared(tensors: Mapping[str, torch.Tensor], folder: Path) -> tuple[Path, str]:
    """Store ``tensors`` in ``folder`` under their content's SHA-256 (first 16 hex digits) and return the file and
    its full SHA-256. A file already there with that content is kept as it is: other folders reference it."""
    data = save(dict(tensors), metadata={"format_version": str(FORMAT_VERSION)})  # deterministic bytes
    digest = hashlib.sha256(data).hexdigest()
    path = folder / f"{digest[:16]}.safetensors"
    if not (path.is_file() and sha256_file(path) == digest):
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path, digest


def weights_sha256(directory: str | Path) -> str:
    """A SHA-256 that identifies the weights a model folder loads (to tell whether two folders, or one folder at
    two times, hold the same network). For a folder without shared weights it is ``model.safetensors``'s own;
    with them, the hash of that file's digest and each shared file's recorded one (checked on load)."""
    directory = Path(directory)
    own = sha256_file(directory / WEIGHTS_NAME)
    shared = [entry["sha256"] for entry in read_config(directory).get("shared_weights", [])]
    return hashlib.sha256(" ".join([own, *shared]).encode()).hexdigest() if shared else own


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
    if not (
        isinstance(channels, list)
        and len(channels) == len(dyn["insertion_points"])
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 < c <= 65536 for c in channels)
    ):
        return "'dynamic.channels' must list one channel count (1 … 65536) per insertion point"
    rng = dyn.get("alpha_range", [0.0, 1.0])
    if not (
        isinstance(rng, list)
        and len(rng) == 2
        and all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in rng)
        and rng[0] < rng[1]
    ):
        return "'dynamic.alpha_range' must be two finite numbers, low < high"
    for key in ("objectives", "provenance", "extra"):
        if key in config and not isinstance(config[key], dict):
            return f"{key!r} must be an object"
    shared = config.get("shared_weights", [])
    if not (
        isinstance(shared, list)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("file"), str)
            and e["file"]
            and isinstance(e.get("sha256"), str)
            and _SHA256.match(e["sha256"])
            for e in shared
        )
    ):
        return "'shared_weights' must list objects with a 'file' path and its 'sha256' (64 hex digits)"
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
        raise ValueError(
            f"the architecture has {size:,} parameters, more than the {MAX_PARAMETERS:,} a model folder may describe"
        )
    return DynamicNet(
        build_architecture(config["architecture"]), dyn["insertion_points"], sets=dyn["sets"], channels=dyn["channels"]
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
    state = _read_weights(weights)
    source = dict.fromkeys(state, weights)  # key → the file it came from, for error messages
    for entry in config.get("shared_weights", []):
        path = Path(os.path.normpath(directory / entry["file"]))  # "m/../_shared/x" reads as "_shared/x"
        if not path.is_file():
            raise ModelFolderError(
                f"{path}: missing; {directory / CONFIG_NAME} takes its shared weights from it "
                "(keep the model folder and its shared weights together)"
            )
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ModelFolderError(
                f"{path}: its SHA-256 is {digest[:16]}…, not the {entry['sha256'][:16]}… "
                f"{directory / CONFIG_NAME} records: the shared weights changed or are damaged; "
                "restore the file"
            )
        shared = _read_weights(path)
        twice = sorted(set(shared) & set(state))
        if twice:
            raise ModelFolderError(f"{path}: tensor {twice[0]!r} is also in {source[twice[0]]}")
        state.update(shared)
        source.update(dict.fromkeys(shared, path))
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
                f"{source[key]}: tensor {key!r} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFolderError(f"{source[key]}: tensor {key!r} holds NaN or infinite values; the file is damaged")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.eval()
    model.alpha_limits = alpha_limits(config["dynamic"].get("alpha_range", (0.0, 1.0)))
    model.config = config
    return model, config


def resave_pretrained(
    directory: str | Path,
    out: str | Path | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    main_dtype: torch.dtype | None = None,
    share_main: str | Path | None = None,
) -> Path:
    """Write the model folder ``directory`` again (to ``out``, default in place) with other storage options, its
    config kept: ``dtype``, ``main_dtype`` and ``share_main`` as in :func:`save_pretrained`. E.g. a finished
    training run stored in fp16, or several models of one θ bundled with θ stored once."""
    model, config = load_pretrained(directory)
    return save_pretrained(
        model,
        directory if out is None else out,
        application=config["application"],
        architecture=config["architecture"],
        objectives=config["objectives"],
        alpha_range=tuple(config["dynamic"]["alpha_range"]),
        provenance=config["provenance"],
        extra=config["extra"],
        dtype=dtype,
        main_dtype=main_dtype,
        share_main=share_main,
    )


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors, or one line naming the file when it is not one."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFolderError(f"{path}: not a valid safetensors file ({exc})") from None
