"""The Dynamic-Net wrapper: a plain main network θ plus tuning blocks ψ at chosen insertion points.

At an insertion point (a submodule of the main network) whose input activation is ``z``, the submodule
receives ``z + Σ_k α_k · ψ_k(z)`` instead of ``z`` (paper Eq. 2, generalised to K block sets). With every α
equal to 0 the blocks are not even evaluated, so the wrapper runs exactly the main network.

α can be given as

* a number — one α shared by all blocks. ``α ≥ 0`` drives the set ``"higher"`` (or the only set), ``α < 0``
  drives the set ``"lower"`` scaled by ``|α|`` (the paper's "dual" model, three objectives over ``[-1, 1]``);
* a sequence with one number per insertion point — per-block α, each signed as above;
* a mapping ``{set_name: number | per-block sequence}`` — the general case ``z + Σ_k α_k ψ_k(z)``, with any
  real coefficients (this is also how to extrapolate explicitly).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .blocks import TuningBlock

AlphaLike = float | int | torch.Tensor | Sequence[float] | Mapping[str, float | Sequence[float]]

HIGHER = "higher"
LOWER = "lower"

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


#: How far beyond its trained range a model's α may go, in units of that range's width: [0, 1] → [−1, 2]. The
#: blocks extrapolate smoothly a little past their objective (α = 1.3 is a stronger O1), but far outside it the
#: output is garbage (α = 1e308 is a flat image), so a loaded model refuses such values with a clear message.
ALPHA_MARGIN = 1.0


def alpha_limits(alpha_range: Sequence[float], margin: float = ALPHA_MARGIN) -> tuple[float, float]:
    """The α values a model with trained range ``alpha_range`` accepts: the range widened by ``margin``."""
    lo, hi = float(alpha_range[0]), float(alpha_range[1])
    width = max(hi - lo, 1.0)
    return lo - margin * width, hi + margin * width


class _BlockHook:
    """Forward pre-hook at one insertion point. An object, not a closure, so that it pickles and so that a
    deep copy of the wrapper gets hooks that point at the copy (``copy.deepcopy`` maps ``owner`` through its memo)."""

    def __init__(self, owner: DynamicNet, index: int) -> None:
        self.owner, self.index = owner, index

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return self.owner._apply_blocks(self.index, args)


def _as_float(value: Any, what: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} must be a single number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


class DynamicNet(nn.Module):
    """Wrap a main network and add tuning blocks at named insertion points.

    Args:
        main: the plain network θ. It is used as is (not copied); its state-dict keys appear under ``main.``.
        insertion_points: names of submodules of ``main`` (as in ``main.named_modules()``); the activation
            entering each becomes ``z + α·ψ(z)``.
        sets: names of the block sets. One set (default ``("higher",)``) is the paper's two-objective model;
            ``("higher", "lower")`` is the dual model; any other names give the general K-set model.
        channels: channel count at each insertion point. Inferred when omitted: from ``example_input`` by a
            probing forward pass, else from the first convolution or normalisation layer inside the submodule.
        example_input: a tensor to probe channel counts with (only needed when the submodule does not reveal
            its input width, e.g. a ReLU).
        zero_init: zero-initialise each block's last convolution (see :class:`TuningBlock`).

    Example:
        >>> net = DynamicNet(main, ["res3", "up1", "out"])
        >>> y0 = net(x)                 # exactly main(x)
        >>> y = net(x, alpha=0.5)       # halfway to the tuning objective
    """

    def __init__(
        self,
        main: nn.Module,
        insertion_points: Sequence[str],
        sets: Sequence[str] = (HIGHER,),
        channels: Sequence[int] | None = None,
        example_input: torch.Tensor | None = None,
        zero_init: bool = False,
    ) -> None:
        super().__init__()
        points = list(insertion_points)
        if not points:
            raise ValueError("DynamicNet needs at least one insertion point")
        if len(set(points)) != len(points):
            raise ValueError(f"insertion points must be distinct, got {points}")
        modules = dict(main.named_modules())
        unknown = [p for p in points if p == "" or p not in modules]
        if unknown:
            top = [n for n in modules if n and "." not in n]
            raise ValueError(
                f"unknown insertion point(s) {unknown}; use a submodule name of the main network, "
                f"e.g. {', '.join(top[:24])}{', …' if len(top) > 24 else ''} (or a dotted sub-name)"
            )
        set_names = list(sets)
        if not set_names or len(set(set_names)) != len(set_names):
            raise ValueError(f"block sets must be a non-empty list of distinct names, got {set_names}")

        if channels is None:
            channels = infer_channels(main, points, example_input)
        channels = [int(c) for c in channels]
        if len(channels) != len(points):
            raise ValueError(f"expected {len(points)} channel counts (one per insertion point), got {len(channels)}")

        self.main = main
        self.insertion_points: tuple[str, ...] = tuple(points)
        self.channels: tuple[int, ...] = tuple(channels)
        self.set_names: tuple[str, ...] = tuple(set_names)
        self.blocks = nn.ModuleDict(
            {s: nn.ModuleList(TuningBlock(c, zero_init=zero_init) for c in channels) for s in set_names}
        )
        self._main_frozen = False
        self._state = threading.local()  # per-thread α of the forward in flight (servers call concurrently)
        # α values this model accepts (None: any finite α). load_pretrained sets it from the folder's α range.
        self.alpha_limits: tuple[float, float] | None = None
        # The config.json of the model folder this model was loaded from (None: built in Python).
        self.config: dict[str, Any] | None = None
        self._hooks = [modules[p].register_forward_pre_hook(_BlockHook(self, i)) for i, p in enumerate(points)]

    def block(self, set_name: str, index: int) -> TuningBlock:
        """The tuning block ψ of set ``set_name`` at insertion point ``index``."""
        return cast(TuningBlock, cast(nn.ModuleList, self.blocks[set_name])[index])

    # ------------------------------------------------------------------ α handling
    @property
    def num_blocks(self) -> int:
        return len(self.insertion_points)

    def resolve_alpha(self, alpha: AlphaLike | None) -> dict[str, tuple[float, ...]]:
        """Turn any accepted α form into ``{set: per-block coefficients}``, keeping only non-zero sets.

        Raises:
            ValueError: non-finite values, a per-block sequence of the wrong length, an unknown set, or a
                negative α on a model without a ``"lower"`` set.
        """
        if alpha is None:
            return {}
        n = self.num_blocks
        coeffs = {s: [0.0] * n for s in self.set_names}
        limits = self.alpha_limits
        if isinstance(alpha, Mapping):
            for name, value in alpha.items():
                if name not in coeffs:
                    raise ValueError(f"unknown block set {name!r}; this model has sets {list(self.set_names)}")
                coeffs[name] = self._per_block(value, f"α for set {name!r}")
                if limits is not None:
                    bound = max(abs(limits[0]), abs(limits[1]))
                    self._check_limits(coeffs[name], (-bound, bound), f"α for set {name!r}")
        else:
            values = self._per_block(alpha, "α")
            if limits is not None:
                self._check_limits(values, limits, "α")
            for i, a in enumerate(values):
                if a != 0.0:
                    coeffs[self._signed_set(a)][i] = abs(a)
        return {s: tuple(c) for s, c in coeffs.items() if any(v != 0.0 for v in c)}

    @staticmethod
    def _check_limits(values: Sequence[float], limits: tuple[float, float], what: str) -> None:
        lo, hi = limits
        bad = [v for v in values if not lo <= v <= hi]
        if bad:
            raise ValueError(
                f"{what} = {bad[0]:g} is outside this model's usable range [{lo:g}, {hi:g}] "
                "(its trained range widened by its width on each side)"
            )

    def _per_block(self, value: Any, what: str) -> list[float]:
        n = self.num_blocks
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(
                    f"{what} has {len(value)} values but the model has {n} tuning blocks "
                    f"({', '.join(self.insertion_points)}); give one number or {n}"
                )
            return [_as_float(v, what) for v in value]
        return [_as_float(value, what)] * n

    def _signed_set(self, a: float) -> str:
        if a > 0:
            if HIGHER in self.set_names:
                return HIGHER
            if len(self.set_names) == 1:
                return self.set_names[0]
            raise ValueError(f"a plain α is ambiguous for block sets {list(self.set_names)}; pass a mapping {{set: α}}")
        if LOWER in self.set_names:
            return LOWER
        raise ValueError(f"α must be ≥ 0 for this model (it has no {LOWER!r} block set; sets: {list(self.set_names)})")

    # ------------------------------------------------------------------ forward
    def forward(self, *args: Any, alpha: AlphaLike | None = None, **kwargs: Any) -> Any:
        """Run the main network with the tuning blocks at ``alpha`` (``None`` or 0 → exactly the main network)."""
        coeffs = self.resolve_alpha(alpha)
        previous = getattr(self._state, "coeffs", None)
        self._state.coeffs = coeffs
        self._state.seen_first = False
        try:
            return self.main(*args, **kwargs)
        finally:
            self._state.coeffs = previous

    def _apply_blocks(self, index: int, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The forward pre-hook at insertion point ``index``: ``z → z + Σ_k α_k ψ_k(z)``."""
        coeffs = getattr(self._state, "coeffs", None)
        if isinstance(coeffs, torch.Tensor):  # α as data (export): (sets, blocks), every block of a run set
            z = args[0]
            out = z
            for k in self._state.tensor_sets:
                out = out + coeffs[k, index] * self.block(self.set_names[k], index)(z)
            return (out, *args[1:])
        if not coeffs:
            return None  # α = 0 everywhere (or main called directly): the main network, untouched
        z = args[0]
        first = not self._state.seen_first
        self._state.seen_first = True
        if self._main_frozen and first:
            # Phase 2: nothing in front of the first insertion point trains, so cut the graph there; the
            # frozen prefix then costs one forward pass and no backward work.
            z = z.detach()
        out = z
        for set_name, per_block in coeffs.items():
            a = per_block[index]
            if a != 0.0:
                out = out + a * self.block(set_name, index)(z)  # z + Σ_k α_k ψ_k(z)
        return (out, *args[1:])

    def forward_alpha_tensor(
        self, *args: Any, alpha: torch.Tensor, sets: Sequence[int] | None = None, **kwargs: Any
    ) -> Any:
        """The main network with ``z + Σ_k alpha[k, i]·ψ_k,i(z)`` at insertion point ``i``, where ``alpha`` is a
        ``(num_sets, num_blocks)`` tensor (rows in :attr:`set_names` order, non-negative for signed sets).

        α flows as data, not as Python numbers, so a traced or exported graph keeps it as an input (ONNX export);
        every block of the ``sets`` (row indices; default all) is computed, the other rows of ``alpha`` must be
        zero: a graph of a dual model traced for one side skips the other side's blocks. With ``alpha`` all zero
        the output equals the main network's exactly.
        """
        with self.alpha_tensor(alpha, sets):
            return self.main(*args, **kwargs)

    @contextlib.contextmanager
    def alpha_tensor(self, alpha: torch.Tensor, sets: Sequence[int] | None = None) -> Iterator[None]:
        """Within the block, every insertion point's hook adds ``Σ_k alpha[k, i]·ψ_k,i(z)`` with α as data, over
        the rows ``sets`` (default all; see :meth:`forward_alpha_tensor`).

        :meth:`forward_alpha_tensor` runs the whole main network this way; a caller that runs only part of it
        (an exported tail that starts at the first insertion point) calls the children itself inside this block.
        """
        if tuple(alpha.shape) != (len(self.set_names), self.num_blocks):
            raise ValueError(
                f"alpha tensor must have shape ({len(self.set_names)}, {self.num_blocks}) "
                f"(sets {list(self.set_names)} × blocks), got {tuple(alpha.shape)}"
            )
        previous = getattr(self._state, "coeffs", None), getattr(self._state, "tensor_sets", ())
        self._state.coeffs = alpha
        self._state.tensor_sets = tuple(range(len(self.set_names)) if sets is None else sets)
        try:
            yield
        finally:
            self._state.coeffs, self._state.tensor_sets = previous

    def alpha_matrix(self, alpha: AlphaLike) -> torch.Tensor:
        """Any accepted α form as the ``(num_sets, num_blocks)`` matrix :meth:`forward_alpha_tensor` takes."""
        coeffs = self.resolve_alpha(alpha)
        return torch.tensor(
            [list(coeffs.get(s, (0.0,) * self.num_blocks)) for s in self.set_names], dtype=torch.float32
        )

    # Copies (deepcopy, pickling, whole-module torch.save, EMA) get their own α state: a threading.local
    # cannot be copied, and each copy must read its own α, not the original's.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_state", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[no-untyped-call]
        self._state = threading.local()

    # ------------------------------------------------------------------ model folders
    def save_pretrained(
        self,
        directory: str | Path,
        *,
        main_kwargs: Mapping[str, Any] | None = None,
        architecture: str | None = None,
        application: str | None = None,
        objectives: Mapping[str, Any] | None = None,
        alpha_range: tuple[float, float] | None = None,
        provenance: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        dtype: torch.dtype | None = None,
        main_dtype: torch.dtype | None = None,
        share_main: str | Path | None = None,
    ) -> Path:
        """Write this model as a model folder that :meth:`from_pretrained` loads in any process, without the code
        that built or trained it; return its path.

        The main network is recorded by its class: the name it is registered under
        (:func:`~dynamicnet.core.register_architecture`), else ``"module:Class"``, which the loader imports. A class
        of the running script is saved as ``"__main__:Class"`` and loads in scripts that define it; put it in a
        module to load it anywhere. An object does not reveal its constructor's arguments, so pass them as
        ``main_kwargs`` (``{"width": 16}``). Before anything is written the recorded architecture is built (on the
        ``meta`` device, no memory) and checked to match this network, so a folder that saves also loads.

        Args:
            main_kwargs: the main network's constructor arguments (JSON: numbers, strings, booleans, lists).
            architecture: a registered builder's name or ``"module:Class"`` (default: the main network's class).
            application: what the model is for; the pipelines load only their own (``"style"``, ``"completion"``).
            objectives: per objective (``"main"`` and each block set), a JSON-able description.
            alpha_range: the trained α range (default ``(-1, 1)`` with a ``"lower"`` set, else ``(0, 1)``).
            provenance, extra: how it was trained; application settings (see :func:`~dynamicnet.core.save_pretrained`).
            dtype: ``torch.float16`` halves the file (loaded back as fp32).
            main_dtype: θ's dtype where it differs from ``dtype`` (fp16 blocks on an fp32 θ).
            share_main: a folder to store θ in once for every model folder saved with it (see
                :func:`~dynamicnet.core.save_pretrained`); by default θ goes into this folder.

        Arguments left out keep what the folder this model was loaded from said (:attr:`config`), except
        ``share_main``: a folder is self-contained unless asked otherwise. A model built in Python gets application
        ``"custom"``, no objectives and fp32.

        Raises:
            DynamicNetError: the architecture would not rebuild the main network (see ``main_kwargs``).
        """
        from .checkpoint import architecture_spec, save_pretrained  # checkpoint imports this module

        loaded = self.config or {}
        if architecture is None and main_kwargs is None and "architecture" in loaded:
            architecture, main_kwargs = loaded["architecture"]["name"], loaded["architecture"].get("kwargs")
        if alpha_range is None:
            lo, hi = loaded.get("dynamic", {}).get("alpha_range", (-1.0 if LOWER in self.set_names else 0.0, 1.0))
            alpha_range = (float(lo), float(hi))
        dtypes = {"float16": torch.float16, "float32": torch.float32}
        return save_pretrained(
            self,
            directory,
            application=application or loaded.get("application", "custom"),
            architecture=architecture_spec(self.main, architecture, main_kwargs),
            objectives=objectives if objectives is not None else loaded.get("objectives"),
            alpha_range=alpha_range,
            provenance=provenance if provenance is not None else loaded.get("provenance"),
            extra=extra if extra is not None else loaded.get("extra"),
            dtype=dtype or (torch.float16 if loaded.get("dtype") == "float16" else torch.float32),
            main_dtype=main_dtype or dtypes.get(str(loaded.get("main_dtype"))),
            share_main=share_main,
        )

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, device: torch.device | str = "cpu") -> DynamicNet:
        """Load a model folder (or a bundled model by name, ``dynamicnet models``) onto ``device``, in eval mode.

        Its ``config.json`` is kept as :attr:`config`. A main network saved as ``"module:Class"`` needs that module
        importable here; one registered under a name needs :func:`~dynamicnet.core.register_architecture` first.

        Raises:
            ModelFolderError: one line naming the offending file.
        """
        from ..models import resolve_model  # bundled folders by name; imported here, core stays import-light
        from .checkpoint import load_pretrained  # checkpoint imports this module

        model, _ = load_pretrained(resolve_model(name_or_path))
        return model.to(device)

    # ------------------------------------------------------------------ phases
    def freeze_main(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) θ: no gradients, and its normalisation layers stay in eval mode.

        Keeping BatchNorm in eval mode while the blocks train means its running statistics cannot drift away
        from the ones the main network was trained with (the reference implementation lets them drift, which
        silently changes the α=0 network).
        """
        self._main_frozen = frozen
        for p in self.main.parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    @property
    def main_frozen(self) -> bool:
        return self._main_frozen

    def train(self, mode: bool = True) -> DynamicNet:
        super().train(mode)
        if self._main_frozen:
            for m in self.main.modules():
                if isinstance(m, _NORM_TYPES):
                    m.eval()
        return self

    def configure_trainable(self, what: str, sets: Iterable[str] | None = None) -> list[nn.Parameter]:
        """Set ``requires_grad`` for a training phase and return the parameters that train.

        ``what="main"``: θ trains, every block is frozen. ``what="tuning"``: θ is frozen (see
        :meth:`freeze_main`) and only the blocks of ``sets`` (default: all) train.
        """
        if what == "main":
            self.freeze_main(False)
            for p in self.tuning_parameters():
                p.requires_grad_(False)
            return list(self.main.parameters())
        if what == "tuning":
            chosen = list(self.set_names if sets is None else sets)
            for s in chosen:
                self._check_set(s)
            self.freeze_main(True)
            for s in self.set_names:
                for p in self.blocks[s].parameters():
                    p.requires_grad_(s in chosen)
            return [p for s in chosen for p in self.blocks[s].parameters()]
        raise ValueError(f"what must be 'main' or 'tuning', got {what!r}")

    def main_parameters(self) -> list[nn.Parameter]:
        """θ's parameters."""
        return list(self.main.parameters())

    def tuning_parameters(self, set_name: str | None = None) -> list[nn.Parameter]:
        """ψ's parameters: of one set, or of all sets when ``set_name`` is None."""
        if set_name is None:
            return [p for s in self.set_names for p in self.blocks[s].parameters()]
        self._check_set(set_name)
        return list(self.blocks[set_name].parameters())

    def _check_set(self, set_name: str) -> None:
        if set_name not in self.blocks:
            raise ValueError(f"unknown block set {set_name!r}; this model has sets {list(self.set_names)}")

    def extra_repr(self) -> str:
        return f"insertion_points={list(self.insertion_points)}, sets={list(self.set_names)}"


def infer_channels(main: nn.Module, points: Sequence[str], example_input: torch.Tensor | None = None) -> list[int]:
    """Channel count of the activation entering each insertion point.

    With ``example_input`` the main network is run once (no grad, eval mode restored afterwards) and the
    input shapes are recorded; otherwise the first conv/norm layer inside each submodule tells its input width.
    """
    modules = dict(main.named_modules())
    if example_input is not None:
        seen: dict[str, int] = {}
        handles = [
            modules[p].register_forward_pre_hook(
                lambda m, a, p=p: seen.__setitem__(p, int(a[0].shape[1])) if p not in seen else None
            )
            for p in points
        ]
        was_training = main.training
        try:
            main.eval()
            with torch.no_grad():
                main(example_input)
        finally:
            main.train(was_training)
            for h in handles:
                h.remove()
        missing = [p for p in points if p not in seen]
        if missing:
            raise ValueError(f"insertion point(s) {missing} were never called in a forward pass")
        return [seen[p] for p in points]
    out = []
    for p in points:
        width = None
        for m in modules[p].modules():
            width = getattr(m, "in_channels", None) or getattr(m, "num_features", None)
            if width:
                break
        if not width:
            raise ValueError(
                f"cannot infer the channel count at insertion point {p!r}; pass channels= or example_input="
            )
        out.append(int(width))
    return out
