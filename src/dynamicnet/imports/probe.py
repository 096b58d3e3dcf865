"""Where tuning blocks can go in a network nobody here wrote: one forward pass on a dummy input, watched.

Every submodule that receives a feature map (a floating-point ``(B, C, H, W)`` tensor with ``H·W > 1``) as its
first input is a possible insertion point: the Dynamic-Net wrapper replaces that input ``z`` by ``z + α·ψ(z)``.
For each one the probe reports the channels and size of ``z``, its resolution relative to the image, the share
of the network's compute at or after the point, and what a :class:`~dynamicnet.core.TuningBlock` there costs.

It also says whether the point is a *cut*: the module is called once, nothing but it reads ``z``, and no feature
map computed before it is read after it. Only at a cut does the block change everything downstream; elsewhere a
skip connection or a second reader of ``z`` carries the unmodified activation past the block (in a converted
ONNX graph the residual block's input feeds both its first convolution and its addition). Network inputs that
are read again later (an image blended back in at the end) do not count as bypasses: they are inputs, not
features the block is meant to change.

Compute is counted in multiply-accumulates (MACs) of convolutions, transposed convolutions, linear layers and
matrix products, seen at the level of ``torch`` functions, so functional calls count as well as modules.
Normalisation, activations, padding and resampling are not counted: in convolutional image networks they are a
few per cent of the work, and counting them by element would weigh a cheap op like a costly one.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import DynamicNetError, first_line

#: MACs of a TuningBlock of C channels at H×W: three 3×3 convolutions C → C (its default width).
BLOCK_MACS_PER_PIXEL_PER_C2 = 3 * 9


@dataclass(frozen=True)
class InsertionPoint:
    """A submodule whose input could hold a tuning block.

    ``channels``, ``height``, ``width``: the activation entering it; ``scale``: its height over the image's;
    ``macs_after``: the network's MACs at or after this point; ``block_macs``: a TuningBlock's here; ``cut``: see
    the module docstring; ``calls``: how often the forward pass called it (a block runs at every call).
    """

    name: str
    module_type: str
    channels: int
    height: int
    width: int
    scale: float
    macs_after: int
    block_macs: int
    cut: bool
    calls: int


@dataclass(frozen=True)
class Inspection:
    """What one forward pass showed: the image size it ran at, the network's MACs, and every insertion point in
    the order the forward pass reached them."""

    input_size: tuple[int, int]
    total_macs: int
    points: tuple[InsertionPoint, ...]

    def cuts(self) -> tuple[InsertionPoint, ...]:
        """The points where a block changes everything downstream (see the module docstring)."""
        return tuple(p for p in self.points if p.cut)

    def boundaries(self) -> tuple[InsertionPoint, ...]:
        """One cut per stretch of the network with no counted compute in it: the short list to choose from.

        A converted graph has a cut before and after every step of a layer (after the convolution, inside the
        normalisation, after the activation, after the padding of the next one); a block at any of them runs
        at the same place in the compute. Of each such stretch this keeps the last cut that still has the
        stretch's first shape: the layer's output after its normalisation and activation, before the next
        layer pads or resamples it.
        """
        runs: list[list[InsertionPoint]] = []
        for p in self.cuts():
            if runs and runs[-1][0].macs_after == p.macs_after:
                runs[-1].append(p)
            else:
                runs.append([p])
        return tuple([p for p in run if _shape(p) == _shape(run[0])][-1] for run in runs)


def _shape(p: InsertionPoint) -> tuple[int, int, int]:
    return (p.channels, p.height, p.width)


def find_insertion_points(module: nn.Module, inputs: Sequence[torch.Tensor], image_index: int = 0) -> Inspection:
    """Run ``module(*inputs)`` once (no gradients, eval mode) and report its insertion points.

    ``inputs[image_index]`` is the image ``(B, C, H, W)`` the resolution factors are relative to.

    Raises:
        DynamicNetError: the forward pass fails on these inputs (a size the network cannot take, say).
    """
    image = inputs[image_index]
    trace = _Trace()
    calls: list[_Call] = []
    open_calls: list[int] = []
    handles = []
    for name, sub in module.named_modules():
        if name:
            handles.append(sub.register_forward_pre_hook(_on_enter(name, trace, calls, open_calls)))
            handles.append(sub.register_forward_hook(_on_exit(trace, calls, open_calls)))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad(), trace:
            module(*inputs)
    except Exception as exc:
        shapes = ", ".join("×".join(str(d) for d in t.shape) for t in inputs)
        raise DynamicNetError(
            f"the network's forward pass failed on a dummy input of {shapes} "
            f"({type(exc).__name__}: {first_line(exc)}); try another input size"
        ) from None
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return _analyse(trace, calls, (int(image.shape[-2]), int(image.shape[-1])))


@dataclass
class _Call:
    name: str
    module_type: str
    start: int  # index of the first op inside the call
    end: int  # index one past its last op
    tensor: int | None  # the trace's key of its first input when that is a feature map
    shape: tuple[int, ...]
    passes_through: bool = False  # returned its input object (nn.Identity, in-place ReLU): later reads are its output


class _Trace(TorchFunctionMode):
    """Every torch function call that returns a tensor: which tensors it read and made, and its MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.macs: list[int] = []
        self.made: dict[int, int] = {}  # tensor key → index of the op that made it
        self.first_read: dict[int, int] = {}
        self.last_read: dict[int, int] = {}
        self.features: set[int] = set()  # keys of op outputs that are feature maps
        # Tensors are keyed by a serial number, not id(): a freed tensor's id() comes back for a new one, and
        # keeping every tensor alive to prevent that costs a gigabyte at 512². A weak reference tells them apart.
        self._serials: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}
        self._count = 0

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        outputs = _tensors(out)
        if not outputs:  # a metadata query (.shape, .dim()) or a host copy: no data flows to another op
            return out
        index = len(self.macs)
        for t in _tensors((args, kwargs)):
            key = self.key(t)
            self.first_read.setdefault(key, index)
            self.last_read[key] = index
        for t in outputs:
            key = self.key(t)
            if key not in self.made:  # an in-place op returns its input: it was made earlier
                self.made[key] = index
                if _is_feature_map(t):
                    self.features.add(key)
        self.macs.append(_macs(getattr(func, "__name__", ""), args, kwargs, outputs[0]))
        return out

    def key(self, t: torch.Tensor) -> int:
        """The serial number of ``t``: the same for the same tensor object, new for every other one."""
        known = self._serials.get(id(t))
        if known is None or known[0]() is not t:
            self._count += 1
            known = (weakref.ref(t), self._count)
            self._serials[id(t)] = known
        return known[1]


def _on_enter(name: str, trace: _Trace, calls: list[_Call], open_calls: list[int]) -> Callable[..., None]:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        z = args[0] if args and isinstance(args[0], torch.Tensor) and _is_feature_map(args[0]) else None
        key, shape = (None, ()) if z is None else (trace.key(z), tuple(z.shape))
        start = len(trace.macs)
        calls.append(_Call(name, type(module).__name__, start, start, key, shape))
        open_calls.append(len(calls) - 1)

    return hook


def _on_exit(trace: _Trace, calls: list[_Call], open_calls: list[int]) -> Callable[..., None]:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        call = calls[open_calls.pop()]
        call.end = len(trace.macs)
        call.passes_through = call.tensor is not None and output is args[0]

    return hook


def _analyse(trace: _Trace, calls: list[_Call], size: tuple[int, int]) -> Inspection:
    total = sum(trace.macs)
    after = [0] * (len(trace.macs) + 1)  # after[i]: MACs of ops i, i+1, …
    for i in range(len(trace.macs) - 1, -1, -1):
        after[i] = after[i + 1] + trace.macs[i]
    # Op-made feature maps as (made, last read): one is live across a point at op s if made < s ≤ last read.
    spans = {t: (trace.made[t], trace.last_read.get(t, -1)) for t in trace.features}
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.name] = counts.get(call.name, 0) + 1
    points, seen = [], set()
    for call in calls:
        if call.tensor is None or call.name in seen:
            continue
        seen.add(call.name)
        z = call.tensor
        only_reader = trace.first_read.get(z, call.start) >= call.start and (
            call.passes_through or trace.last_read.get(z, -1) < call.end
        )
        bypassed = any(made < call.start <= last for t, (made, last) in spans.items() if t != z)
        _, channels, height, width = call.shape
        points.append(
            InsertionPoint(
                name=call.name,
                module_type=call.module_type,
                channels=channels,
                height=height,
                width=width,
                scale=height / size[0],
                macs_after=after[call.start],
                block_macs=BLOCK_MACS_PER_PIXEL_PER_C2 * channels**2 * height * width,
                cut=counts[call.name] == 1 and only_reader and not bypassed,
                calls=counts[call.name],
            )
        )
    return Inspection(input_size=size, total_macs=total, points=tuple(points))


def _macs(name: str, args: Sequence[Any], kwargs: dict[str, Any], out: torch.Tensor) -> int:
    """Multiply-accumulates of one call, for the ops that dominate a network's cost; 0 for the rest."""

    def arg(i: int, key: str) -> Any:
        return args[i] if len(args) > i else kwargs.get(key)

    if name in ("conv1d", "conv2d", "conv3d"):  # weight (C_out, C_in/groups, k…): per output, C_in/g·k… MACs
        return out.numel() * int(math.prod(arg(1, "weight").shape[1:]))
    if name.startswith("conv_transpose"):  # weight (C_in, C_out/groups, k…): per input, C_out/g·k… MACs
        return int(arg(0, "input").numel()) * int(math.prod(arg(1, "weight").shape[1:]))
    if name == "linear":
        return out.numel() * int(arg(1, "weight").shape[-1])
    if name in ("matmul", "mm", "bmm", "__matmul__"):
        return out.numel() * int(arg(0, "input").shape[-1])
    if name in ("addmm", "baddbmm"):
        return out.numel() * int(arg(1, "mat1").shape[-1])
    return 0


def _is_feature_map(t: torch.Tensor) -> bool:
    return t.dim() == 4 and t.is_floating_point() and t.shape[-2] * t.shape[-1] > 1


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []
