"""Inference engines: the same network, with α as a tensor input, through eager PyTorch, ``torch.compile``,
onnxruntime or OpenVINO.

On a CPU the engine matters more than the network: Johnson-type networks spend much of an eager forward in
per-operator overhead (padding, instance norm), which graph runtimes fuse away (docs/performance.md measures
every engine on every bundled model). A :class:`Runtime` wraps one :class:`~dynamicnet.core.DynamicNet` for one
engine and offers what the pipelines need:

* ``forward(x, alpha)`` — the whole network at any α form the model accepts;
* ``prepare(x)`` — one input prepared for many α (a slider): the α-independent prefix in front of the first
  insertion point runs once, and each α reruns only the tail. With ``torch`` this is
  :class:`~dynamicnet.core.PreparedInput` (including its affine shortcut for a block in front of the output
  layer); with a graph engine the tail is its own graph whose inputs are the prefix's activation and α.

Graph engines see α as a ``(num_sets, num_blocks)`` tensor input (:meth:`DynamicNet.alpha_matrix`), so one
compiled graph serves every α; batch, height and width are dynamic. onnxruntime and OpenVINO run the graph that
:mod:`dynamicnet.export` writes, built in memory; they run on the CPU (a CUDA device uses ``torch``/``compile``).
Optional dependencies: ``pip install 'dynamicnet[onnxruntime]'`` / ``'dynamicnet[openvino]'``.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .core.dynamic import AlphaLike, DynamicNet
from .core.fast import PreparedInput, is_affine, split_at_first_block
from .errors import DynamicNetError
from .utils.onnx import trace_to_onnx

#: Engine names accepted everywhere (``--engine``); ``auto`` picks among the installed ones.
ENGINES: tuple[str, ...] = ("torch", "compile", "onnxruntime", "openvino")
#: ``auto``'s preference, fastest first as measured on the bundled style models (docs/performance.md).
#: ``compile`` is left out: its first call compiles for tens of seconds, which one-shot commands never recoup.
AUTO_ORDER: tuple[str, ...] = ("openvino", "onnxruntime", "torch")
_MODULE = {"onnxruntime": "onnxruntime", "openvino": "openvino"}


def engine_installed(name: str) -> bool:
    """Whether ``name``'s optional dependency is importable (``torch`` and ``compile`` always are)."""
    module = _MODULE.get(name)
    return module is None or importlib.util.find_spec(module) is not None


def resolve_engine(name: str, device: torch.device | str = "cpu") -> str:
    """``name`` checked (installed, runs on ``device``), or the fastest installed engine for ``auto``.

    Raises:
        DynamicNetError: unknown engine, a graph engine that is not installed (the line names the extra), or a
            CPU-only engine asked to run on CUDA.
    """
    cuda = torch.device(device).type == "cuda"
    if name == "auto":
        return "torch" if cuda else next(e for e in AUTO_ORDER if engine_installed(e))
    if name not in ENGINES:
        raise DynamicNetError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)} or auto")
    if not engine_installed(name):
        raise DynamicNetError(f"engine {name!r} is not installed: pip install 'dynamicnet[{name}]'")
    if cuda and name in _MODULE:
        raise DynamicNetError(
            f"engine {name!r} runs on the CPU here; use --device cpu, or --engine torch/compile on CUDA"
        )
    return name


class _AlphaGraph(nn.Module):
    """The whole network with α as data: ``(x, alpha) → y``, computing the blocks of ``sets`` only."""

    def __init__(self, net: DynamicNet, sets: Sequence[int]) -> None:
        super().__init__()
        self.net, self.sets = net, tuple(sets)

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.net.forward_alpha_tensor(x, alpha=alpha, sets=self.sets)
        return y


class _TailGraph(nn.Module):
    """The network from its first insertion point on: ``(z₁, alpha) → y``, z₁ the input of that point, computing
    the blocks of ``sets`` only."""

    def __init__(self, net: DynamicNet, tail: Sequence[nn.Module], sets: Sequence[int]) -> None:
        super().__init__()
        self.net, self.sets = net, tuple(sets)
        self.tail = list(tail)  # the net's own modules (registered through ``net``), not copies

    def forward(self, z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        with self.net.alpha_tensor(alpha, self.sets):
            for module in self.tail:
                z = module(z)
        return z


def _active_sets(alpha: torch.Tensor) -> tuple[int, ...]:
    """The rows of an α matrix with a non-zero entry: the block sets a graph must compute for it. A dual model's
    slider uses one side at a time, so its graphs skip the other side's blocks (a third less work per α change).
    α = 0 everywhere computes the first set (times zero): a graph without blocks would have no α input."""
    return tuple(int(k) for k in torch.nonzero(alpha.abs().sum(1)).flatten()) or (0,)


def _onnx_bytes(graph: nn.Module, example: tuple[torch.Tensor, torch.Tensor]) -> bytes:
    """``graph`` exported to ONNX in memory, with batch, height and width dynamic (see :mod:`dynamicnet.export`)."""
    buffer = io.BytesIO()
    # Input and output sizes get their own names: a generator maps (B, nz, 1, 1) to (B, C, S, S).
    dynamic = {name: {0: "batch", 2: f"{name}_height", 3: f"{name}_width"} for name in ("x", "y")}
    trace_to_onnx(graph, example, buffer, ["x", "alpha"], ["y"], dynamic)
    return buffer.getvalue()


def _compile_graph(
    graph: nn.Module, example: tuple[torch.Tensor, torch.Tensor], engine: str
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A callable ``(x, alpha) → y`` running ``graph`` on ``engine`` (``example`` fixes dtypes and ranks)."""
    graph.eval()
    if engine == "compile":
        compiled = torch.compile(graph, dynamic=True)
        return lambda x, a: compiled(x, a)
    onnx_model = _onnx_bytes(graph, example)
    if engine == "onnxruntime":
        import onnxruntime as ort

        session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
        return lambda x, a: torch.from_numpy(session.run(None, {"x": x.cpu().numpy(), "alpha": a.numpy()})[0])
    import openvino as ov

    core = ov.Core()
    # f32 explicitly: the CPU plugin may pick a lower inference precision, which moves outputs by ~5e-2.
    compiled_ov = core.compile_model(core.read_model(onnx_model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return lambda x, a: torch.from_numpy(compiled_ov([x.cpu().numpy(), a.numpy()])[0].copy())


class Runtime:
    """One network on one engine: :meth:`forward` and :meth:`prepare` (see the module docstring).

    Graphs are built on first use (an ONNX export and a runtime session: about a second for the bundled models)
    and kept, so a pipeline pays once; one per combination of block sets in use (a dual model: one per side of
    its slider). Results equal eager PyTorch's within float rounding (tests: 1e-4).
    """

    def __init__(self, net: DynamicNet, engine: str = "torch", device: torch.device | str = "cpu") -> None:
        self.net = net
        self.engine = resolve_engine(engine, device)
        self.device = torch.device(device)
        self._full: dict[tuple[int, ...], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
        self._tail: dict[tuple[int, ...], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
        self._split = split_at_first_block(net)
        self._affine_tail_only = self._split is not None and len(self._split[1]) == 1 and is_affine(self._split[1][0])

    @torch.no_grad()
    def forward(self, x: torch.Tensor, alpha: AlphaLike) -> torch.Tensor:
        """The network's output for ``x`` at ``alpha`` (on the runtime's device for torch engines, CPU else)."""
        if self.engine == "torch":
            y: torch.Tensor = self.net(x, alpha=alpha)
            return y
        return self._run_graph(self._full, lambda sets: _AlphaGraph(self.net, sets), x, alpha)

    @torch.no_grad()
    def prepare(self, x: torch.Tensor) -> Callable[[AlphaLike], torch.Tensor]:
        """``x`` prepared for many α: a callable ``alpha → forward(x, alpha)`` that reruns only the tail."""
        if self.engine == "torch" or self._affine_tail_only:
            # A single block in front of an affine output layer: PreparedInput moves α with one multiply-add
            # over the output, which no graph run can beat.
            return PreparedInput(self.net, x)
        if self._split is None:  # not a Sequential with top-level insertion points: whole graph per α
            return _Prepared(self, x)
        z = x
        for module in self._split[0]:
            z = module(z)
        return _Prepared(self, z, split=True)

    def _run_tail(self, z: torch.Tensor, alpha: AlphaLike) -> torch.Tensor:
        """The tail graph from the first insertion point at ``alpha``."""
        assert self._split is not None
        tail = self._split[1]
        return self._run_graph(self._tail, lambda sets: _TailGraph(self.net, tail, sets), z, alpha)

    def _run_graph(
        self,
        graphs: dict[tuple[int, ...], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
        build: Callable[[tuple[int, ...]], nn.Module],
        x: torch.Tensor,
        alpha: AlphaLike,
    ) -> torch.Tensor:
        """``graphs``' graph for ``alpha``'s block sets run on ``x``; ``build(sets)`` makes it on first use."""
        a = self.net.alpha_matrix(alpha)
        sets = _active_sets(a)
        if sets not in graphs:
            graphs[sets] = _compile_graph(build(sets), (x[:1], a), self.engine)
        return graphs[sets](x, a.to(x.device) if self.engine == "compile" else a)


class _Prepared:
    """An input prepared on a graph engine: ``z`` is the first insertion point's input (or the whole input when
    the network cannot be split), kept as an attribute so memory accounting (the demo's budget) sees it."""

    def __init__(self, runtime: Runtime, z: torch.Tensor, split: bool = False) -> None:
        self.runtime, self.z, self.split = runtime, z, split

    def __call__(self, alpha: AlphaLike) -> torch.Tensor:
        if self.split:
            return self.runtime._run_tail(self.z, alpha)
        return self.runtime.forward(self.z, alpha)


__all__ = ["AUTO_ORDER", "ENGINES", "Runtime", "engine_installed", "resolve_engine"]
