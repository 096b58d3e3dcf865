"""Load a network someone else trained as a frozen ``nn.Module`` whose submodules can hold tuning blocks.

Three sources:

- an ONNX file, converted to PyTorch by ``onnx2torch`` (a maintained converter; we write no op translations);
- a TorchScript archive (``torch.jit.save``). A loaded ScriptModule runs compiled code that calls no Python
  hooks, so it cannot take tuning blocks as is: it is exported to ONNX with PyTorch's TorchScript exporter at
  an example input and then converted like an ONNX file. Shapes stay dynamic, but data-dependent control flow
  is fixed by that example input;
- ``module:Class``: an importable ``nn.Module`` class built with no arguments, plus a safetensors state dict.

A converted graph is a flat ``torch.fx.GraphModule`` with one submodule per ONNX op (``res/0/0/Conv``). The
Dynamic-Net wrapper changes the activation *entering* a named submodule, which in a graph only reaches that one
consumer; where an op's output feeds several ops (a residual block's input feeds its first convolution and its
skip addition), the loader adds an ``nn.Identity`` tap named ``<op>/out`` that all of them read, so that the tap
is an insertion point for the whole activation. Taps hold no weights: the state dict and the outputs are
exactly the converter's.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import re
import sys
import tempfile
import types
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from ..errors import DynamicNetError, first_line, require
from ..utils.fs import sha256_file
from ..utils.onnx import OPSET, trace_to_onnx

#: ``package.module:ClassName``; a path that exists is never read as one (``C:\\net.onnx``).
_CLASS_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
#: The size a TorchScript network is exported at when the caller gives none (height and width stay dynamic).
EXPORT_SIZE = (256, 256)


@dataclass(frozen=True)
class InputSpec:
    """One input of the network: its name, shape (``None`` for a dimension the file leaves free) and dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: torch.dtype


@dataclass(frozen=True)
class ImportedNetwork:
    """A third-party network ready to be θ: frozen, in eval mode, with where it came from.

    Attributes:
        module: the network; every parameter has ``requires_grad=False``.
        kind: ``"onnx"``, ``"torchscript"`` or ``"module"``.
        source: the file, or ``module:Class``.
        sha256: hex SHA-256 of the file the weights came from (the ONNX or TorchScript file, or the safetensors
            file of ``module:Class``); ``None`` for ``module:Class`` with its initial weights.
        weights: the safetensors file of ``module:Class``, else ``None``.
        inputs: the positional inputs ``module`` takes, in order.
        converter: what turned the file into PyTorch (``"onnx2torch 1.5.15"``), ``None`` for ``module:Class``.
        metadata: the ONNX file's ``metadata_props`` (key → value), where a network can declare its conventions
            (:mod:`dynamicnet.imports.theta` reads ``dynamicnet.input_range`` and friends); empty for the others.
    """

    module: nn.Module
    kind: str
    source: str
    sha256: str | None
    weights: str | None
    inputs: tuple[InputSpec, ...]
    converter: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """What a model folder records about θ (JSON-ready), so that a later load can check it is the same θ."""
        return {
            "kind": self.kind,
            "source": self.source,
            "sha256": self.sha256,
            "weights": self.weights,
            "converter": self.converter,
            "inputs": [
                {"name": i.name, "shape": list(i.shape), "dtype": str(i.dtype).removeprefix("torch.")}
                for i in self.inputs
            ],
        }


def load_network(
    network: str,
    weights: str | None = None,
    example_size: tuple[int, int] = EXPORT_SIZE,
) -> ImportedNetwork:
    """Load ``network``: an ``.onnx`` file, a TorchScript archive, or ``module:Class`` (with ``weights``).

    ``example_size`` is the (height, width) a TorchScript network is traced at on its way through ONNX.

    Raises:
        DynamicNetError: a missing file, a file of another kind, ops the converter does not support, a class
            that cannot be imported or is not an ``nn.Module``, weights that do not fit.
    """
    path = Path(network).expanduser()
    if not path.exists() and _CLASS_SPEC.match(network):
        return load_module_class(network, weights)
    if weights is not None:
        raise DynamicNetError(f"{network}: weights are given with module:Class only (a file holds its own)")
    if not path.exists():
        raise DynamicNetError(f"{network}: no such file (expected an .onnx file, a TorchScript file or module:Class)")
    if path.is_dir():
        raise DynamicNetError(f"{network}: is a directory, not a network file")
    if path.suffix.lower() == ".onnx":
        return load_onnx(path)
    if _is_torchscript(path):
        return load_torchscript(path, example_size)
    raise DynamicNetError(
        f"{network}: not an ONNX file (.onnx) or a TorchScript archive (torch.jit.save); a "
        "plain state dict needs its class: module:Class with a safetensors file"
    )


# ---------------------------------------------------------------------------------------------------- ONNX
def load_onnx(path: str | Path) -> ImportedNetwork:
    """Convert an ONNX file with onnx2torch; every op must have a converter (all missing ones are named)."""
    onnx = require("onnx", "import", "loading an ONNX network")
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise DynamicNetError(f"{path}: no such file") from None
    except Exception as exc:  # protobuf's DecodeError and friends: the bytes are not an ONNX model
        raise DynamicNetError(f"{path}: not a readable ONNX file ({type(exc).__name__}: {exc})") from None
    metadata = {p.key: p.value for p in model.metadata_props}
    return _from_onnx(model, path, "onnx", metadata=metadata)


def _from_onnx(
    model: Any, path: Path, kind: str, route: str = "", metadata: dict[str, str] | None = None
) -> ImportedNetwork:
    """The network an ONNX model (read from ``path``, or exported from it by ``route``) converts to, with its
    provenance. The converter is named after the conversion, which is what says when onnx2torch is missing."""
    module = _convert(model, str(path))
    converter = f"{route}{_converter_name()}"
    inputs = _onnx_inputs(model)
    return ImportedNetwork(module, kind, str(path), sha256_file(path), None, inputs, converter, metadata or {})


def _convert(model: Any, what: str) -> nn.Module:
    onnx2torch = _onnx2torch()
    unsupported = _unsupported_ops(model)
    if unsupported:
        raise DynamicNetError(
            f"{what}: {_converter_name()} cannot convert op(s) {', '.join(unsupported)}; "
            "re-export the network without them or with another opset"
        )
    try:
        module = onnx2torch.convert(model)
    except NotImplementedError as exc:  # a supported op with an attribute value the converter lacks
        raise DynamicNetError(f"{what}: {_converter_name()} cannot convert it: {exc}") from None
    return _freeze(_add_taps(module))


def _unsupported_ops(model: Any) -> list[str]:
    """``Op (opset N)`` for every op type in the main graph that onnx2torch has no converter for."""
    from onnx2torch.node_converters import get_converter  # type: ignore[import-untyped]

    opsets = {o.domain: o.version for o in model.opset_import}
    missing: dict[str, None] = {}
    for node in model.graph.node:
        version = opsets.get(node.domain)
        try:
            if version is None:  # an op from a domain the file declares no opset for
                raise NotImplementedError(node.domain)
            get_converter(operation_type=node.op_type, version=version, domain=node.domain)
        except NotImplementedError:
            where = f"domain {node.domain}, " if node.domain not in ("", "ai.onnx") else ""
            missing[f"{node.op_type} ({where}opset {version})"] = None
    return list(missing)


def _onnx_inputs(model: Any) -> tuple[InputSpec, ...]:
    import numpy
    from onnx import helper

    initializers = {i.name for i in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initializers:  # old exporters list weights as inputs too
            continue
        tensor = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
        dtype = torch.from_numpy(numpy.zeros(1, helper.tensor_dtype_to_np_dtype(tensor.elem_type))).dtype
        specs.append(InputSpec(value.name, shape, dtype))
    return tuple(specs)


def _converter_name() -> str:
    return f"onnx2torch {importlib.metadata.version('onnx2torch')}"


def _onnx2torch() -> Any:
    """``onnx2torch``, imported even where torchvision cannot be.

    onnx2torch imports torchvision when it is imported, for two detection ops only (NonMaxSuppression,
    RoiAlign). A torchvision build must match torch's exactly: PyPI's Linux wheels are built against CUDA torch
    and fail to load beside the CPU torch this project installs, and a newer one makes pip replace torch itself.
    So while onnx2torch is imported, a torchvision that does not load is stood in for by one whose two functions
    refuse with a clear message; the stand-in is removed again, so nothing else ever sees it.
    """
    if sys.modules.get("onnx2torch") is not None:
        return sys.modules["onnx2torch"]
    stand_in: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    try:
        importlib.import_module("torchvision")
    except Exception:  # ImportError when absent; RuntimeError/OSError when its compiled ops do not load
        stand_in = _torchvision_stand_in()
    with stand_in:
        module = require("onnx2torch", "import", "converting an ONNX network")
    # Its Slice indexes with a list, which this PyTorch warns about on a converted graph's first forward pass (also
    # when the frame is a tracer's, hence no module= filter); the parity tests against onnxruntime guard the result.
    warnings.filterwarnings(
        "ignore", message="Using a non-tuple sequence for multidimensional indexing", category=UserWarning
    )
    return module


@contextlib.contextmanager
def _torchvision_stand_in() -> Iterator[None]:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise DynamicNetError(
            f"the ONNX ops NonMaxSuppression and RoiAlign need torchvision built for torch "
            f"{torch.__version__}: install it from the same index as torch"
        )

    stand_in, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = ops.box_convert = unavailable  # type: ignore[attr-defined]
    stand_in.ops = ops  # type: ignore[attr-defined]
    names = ("torchvision", "torchvision.ops")
    before = {name: sys.modules.get(name) for name in names}
    sys.modules.update({"torchvision": stand_in, "torchvision.ops": ops})
    try:
        yield
    finally:
        for name, previous in before.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def _add_taps(module: fx.GraphModule) -> fx.GraphModule:
    """An ``nn.Identity`` named ``<op>/out`` after every op whose output several ops read (see module docstring)."""
    graph = module.graph
    names = {name for name, _ in module.named_modules()}
    for node in list(graph.nodes):
        if node.op not in ("call_module", "call_function") or len(node.users) < 2:
            continue
        name = f"{node.target if node.op == 'call_module' else node.name}/out"
        while name in names:  # never shadow a module the converter made
            name += "_"
        names.add(name)
        module.add_module(name, nn.Identity())
        with graph.inserting_after(node):
            tap = graph.call_module(name, (node,))
        node.replace_all_uses_with(tap, delete_user_cb=lambda user, tap=tap: user is not tap)
    graph.lint()
    module.recompile()
    return module


# ---------------------------------------------------------------------------------------------------- TorchScript
def _is_torchscript(path: Path) -> bool:
    """A ``torch.jit.save`` archive: a zip file with a ``code/`` folder (a pickled state dict has none)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def load_torchscript(path: str | Path, example_size: tuple[int, int] = EXPORT_SIZE) -> ImportedNetwork:
    """Load a TorchScript archive whose forward takes one image ``(B, 3, H, W)``, by way of ONNX (see module doc)."""
    onnx = require("onnx", "import", "loading a TorchScript network")
    path = Path(path)
    try:
        script = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:  # a damaged archive or one saved by a newer PyTorch
        raise DynamicNetError(
            f"{path}: cannot load the TorchScript file ({type(exc).__name__}: {first_line(exc)})"
        ) from None
    arguments = list(script.forward.schema.arguments[1:])  # [0] is self
    if len(arguments) != 1:
        raise DynamicNetError(
            f"{path}: its forward takes {len(arguments)} inputs "
            f"({', '.join(a.name for a in arguments)}); only one-image networks load from "
            "TorchScript (export it to ONNX yourself to keep the others)"
        )
    height, width = example_size
    example = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as folder:
        exported = Path(folder) / "exported.onnx"
        try:
            dynamic = {"image": {0: "batch", 2: "height", 3: "width"}}
            trace_to_onnx(script.eval(), (example,), str(exported), ["image"], ["output"], dynamic)
        except Exception as exc:
            raise DynamicNetError(
                f"{path}: PyTorch cannot export it to ONNX at 1×3×{height}×{width} "
                f"({type(exc).__name__}: {first_line(exc)})"
            ) from None
        model = onnx.load(str(exported))
    return _from_onnx(model, path, "torchscript", f"torch.onnx {torch.__version__} (opset {OPSET}) + ")


# ---------------------------------------------------------------------------------------------------- module:Class
def load_module_class(spec: str, weights: str | Path | None = None) -> ImportedNetwork:
    """Build ``module:Class()`` and load a safetensors state dict into it (strictly: every key must match)."""
    if not _CLASS_SPEC.match(spec):
        raise DynamicNetError(f"{spec!r}: expected module:Class, e.g. mypackage.nets:Generator")
    module_name, class_name = spec.split(":")
    try:
        found = importlib.import_module(module_name)
    except ImportError as exc:
        raise DynamicNetError(f"{spec}: cannot import module {module_name!r} ({exc})") from None
    cls = getattr(found, class_name, None)
    if cls is None:
        raise DynamicNetError(f"{spec}: module {module_name!r} has no attribute {class_name!r}")
    if not isinstance(cls, type):
        raise DynamicNetError(f"{spec}: is a {type(cls).__name__}, not a torch.nn.Module class")
    if not issubclass(cls, nn.Module):
        raise DynamicNetError(f"{spec}: is a class but not a torch.nn.Module subclass")
    try:
        module = cls()
    except Exception as exc:
        raise DynamicNetError(
            f"{spec}: cannot build {class_name}() with no arguments ({type(exc).__name__}: {first_line(exc)})"
        ) from None
    digest = None
    if weights is not None:
        digest = sha256_file(_load_weights(module, Path(weights), spec))
    return ImportedNetwork(
        module=_freeze(module),
        kind="module",
        source=spec,
        sha256=digest,
        weights=None if weights is None else str(weights),
        inputs=(InputSpec("image", (None, 3, None, None), torch.float32),),
        converter=None,
    )


def _load_weights(module: nn.Module, path: Path, spec: str) -> Path:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise DynamicNetError(f"{path}: no such file")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise DynamicNetError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes that differ: one line per tensor after a heading
        lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()] or [first_line(exc)]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise DynamicNetError(f"{path}: does not fit {spec}: {lines[0]}{more}") from None
    problems = [
        f"{len(keys)} {what} (e.g. {', '.join(sorted(keys)[:3])})"
        for keys, what in ((result.missing_keys, "missing"), (result.unexpected_keys, "unexpected"))
        if keys
    ]
    if problems:
        raise DynamicNetError(f"{path}: does not fit {spec}: {'; '.join(problems)}")
    return path


# ---------------------------------------------------------------------------------------------------- shared
def _freeze(module: nn.Module) -> nn.Module:
    """θ as imported: eval mode (norm statistics fixed) and no gradients."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def example_inputs(
    inputs: Sequence[InputSpec], size: tuple[int, int] | None = None, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Dummy inputs for one forward pass: batch 1; the image (the first 4-D input) at ``size``, 3 channels where
    the file leaves them free; other free dimensions 1. Floats are uniform in [0, 1) (an image's range), integers 0.

    Raises:
        DynamicNetError: ``size`` differs from an image size the file fixes, or no input is 4-D.
    """
    image = image_input_index(inputs)
    fixed = inputs[image].shape[2:]
    if size is None:
        size = (fixed[0] or EXPORT_SIZE[0], fixed[1] or EXPORT_SIZE[1])
    elif any(f is not None and f != s for f, s in zip(fixed, size)):
        raise DynamicNetError(
            f"this network's input {inputs[image].name!r} is fixed at "
            f"{'×'.join(str(f) for f in fixed)}; the input size {size[0]}×{size[1]} does not fit"
        )
    g = torch.Generator().manual_seed(seed)
    out = []
    for i, spec in enumerate(inputs):
        if i == image:
            shape = [spec.shape[0] or 1, spec.shape[1] or 3, *size]
        else:
            shape = [d if d is not None else 1 for d in spec.shape]
        if spec.dtype.is_floating_point:
            out.append(torch.rand(shape, generator=g).to(spec.dtype))
        else:
            out.append(torch.zeros(shape, dtype=spec.dtype))
    return tuple(out)


def image_input_index(inputs: Sequence[InputSpec]) -> int:
    """Position of the image: the first 4-D input ``(B, C, H, W)``."""
    for i, spec in enumerate(inputs):
        if len(spec.shape) == 4:
            return i
    raise DynamicNetError(
        f"no input is an image (B, C, H, W): inputs {', '.join(f'{s.name} {list(s.shape)}' for s in inputs)}"
    )
