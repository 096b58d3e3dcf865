"""Export a model folder to one self-contained ONNX file whose inputs include α, so that any ONNX runtime moves
the slider with no Python.

α is a graph input of shape ``(num_sets, num_blocks)``: one row per block set (``higher``, then ``lower`` for a
dual model, in the order the file's metadata lists), one column per tuning block, every entry ≥ 0. A plain
α = 0.5 on a one-set model is ``[[0.5, 0.5, 0.5]]``; α = −0.5 on a dual model is ``[[0, 0, 0], [0.5, 0.5,
0.5]]``; per-block α is a row with different entries. All zeros is exactly the main network θ.

Per application, the graph does what the pipeline does around the network, so the file is usable as is:

- style: ``image`` ``(B, 3, H, W)`` RGB in [0, 1] (H, W multiples of 4, at least 16) → ``output`` in [0, 1];
- completion: ``image`` ``(B, 3, H, W)`` and ``mask`` ``(B, 1, H, W)`` (1 = hole) → the completed image, known
  pixels copied exactly;
- dcgan: ``z`` ``(B, nz, 1, 1)`` standard normal → images in [0, 1].

Batch, height and width are dynamic. The file's metadata records the application, α range, sets, insertion
points, input conventions and library version. Needs the ``onnx`` package (``pip install 'dynamicnet[export]'``);
onnxruntime, when installed, checks the export against PyTorch before the file is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._version import __version__
from .core.checkpoint import load_pretrained
from .core.dynamic import DynamicNet
from .errors import DynamicNetError
from .models import resolve_model
from .utils.fs import atomic_path
from .utils.onnx import OPSET, trace_to_onnx


class _Graph(nn.Module):
    """Style (image → image in [0, 1]) or, with ``tanh``, DC-GAN (z → image in [-1, 1], mapped to [0, 1])."""

    def __init__(self, net: DynamicNet, tanh: bool = False) -> None:
        super().__init__()
        self.net = net
        self.tanh = tanh

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        y = self.net.forward_alpha_tensor(x, alpha=alpha)
        return ((y + 1) / 2 if self.tanh else y).clamp(0, 1)


class _CompletionGraph(nn.Module):
    def __init__(self, net: DynamicNet, hole_fill: str) -> None:
        super().__init__()
        self.net = net
        self.hole_fill = hole_fill

    def forward(self, image: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        from .apps.completion.model import composite, masked_input, to_prediction

        x = masked_input(image, mask, self.hole_fill, static=True)
        pred = to_prediction(self.net.forward_alpha_tensor(x, alpha=alpha), x, self.hole_fill).clamp(0, 1)
        return composite(image, mask, pred)


def _graph(model: DynamicNet, config: Mapping[str, Any]) -> tuple[nn.Module, dict[str, torch.Tensor], dict[str, str]]:
    """The exported module, example inputs by name (α last) and the input conventions for the metadata."""
    app = config["application"]
    g = torch.Generator().manual_seed(0)
    alpha = torch.zeros(len(model.set_names), model.num_blocks)
    if app == "style":
        return (
            _Graph(model),
            {"image": torch.rand(1, 3, 64, 48, generator=g), "alpha": alpha},
            {
                "image": "RGB (B, 3, H, W) float32 in [0, 1]; H, W multiples of 4, at least 16",
                "output": "RGB (B, 3, H, W) in [0, 1]",
            },
        )
    if app == "completion":
        from .apps.completion.model import hole_fill_of

        mask = torch.zeros(1, 1, 64, 48)
        mask[..., 16:48, 12:36] = 1
        return (
            _CompletionGraph(model, hole_fill_of(config.get("extra", {}))),
            {"image": torch.rand(1, 3, 64, 48, generator=g), "mask": mask, "alpha": alpha},
            {
                "image": "RGB (B, 3, H, W) float32 in [0, 1]; H, W multiples of 4",
                "mask": "(B, 1, H, W) float32, 1 = hole, 0 = known",
                "output": "RGB (B, 3, H, W) in [0, 1]; known pixels copied from the input",
            },
        )
    if app == "dcgan":
        nz = int(config["architecture"]["kwargs"].get("nz", 100))
        return (
            _Graph(model, tanh=True),
            {"z": torch.randn(2, nz, 1, 1, generator=g), "alpha": alpha},
            {"z": f"(B, {nz}, 1, 1) float32, standard normal", "output": "(B, C, S, S) in [0, 1]"},
        )
    raise DynamicNetError(
        f"cannot export a {app!r} model: only style, completion and dcgan models have an export graph"
    )


def export_onnx(
    model_name_or_path: str | os.PathLike[str], output: str | os.PathLike[str], *, check: bool = True
) -> Path:
    """Write ``model``'s network with α as an input to the single ONNX file ``output`` (see the module doc).

    The file appears only when complete and checked (``onnx.checker``; with onnxruntime installed and ``check``,
    also outputs equal to PyTorch's at three α within 1e-4).

    Raises:
        DynamicNetError: the ``onnx`` package is missing, the model cannot be exported, or a check fails.
    """
    try:
        import onnx
    except ImportError:
        raise DynamicNetError("ONNX export needs the onnx package: pip install 'dynamicnet[export]'") from None
    out = Path(output)
    if out.suffix.lower() != ".onnx":
        raise DynamicNetError(f"{out}: the output of an ONNX export must end in .onnx")
    folder = resolve_model(model_name_or_path)
    model, config = load_pretrained(folder)
    model.eval()
    graph, inputs, conventions = _graph(model, config)
    graph.eval()  # a fresh wrapper starts in training mode; normalisation layers must use their statistics
    names = list(inputs)
    spatial = {0: "batch", 2: "height", 3: "width"}
    dynamic = {n: ({0: "batch"} if n == "z" else spatial) for n in names if n != "alpha"}
    dynamic["output"] = spatial
    with atomic_path(out) as tmp:
        trace_to_onnx(graph, tuple(inputs.values()), str(tmp), names, ["output"], dynamic)
        proto = onnx.load(str(tmp))
        try:
            onnx.checker.check_model(proto, full_check=True)
        except Exception as exc:  # noqa: BLE001 - any checker failure means the file must not appear
            raise DynamicNetError(
                f"{out}: the exported graph fails onnx.checker ({' '.join(str(exc).split())[:200]})"
            ) from None
        dyn = config["dynamic"]
        meta = {
            "dynamicnet.application": config["application"],
            "dynamicnet.alpha_range": json.dumps(dyn.get("alpha_range", [0.0, 1.0])),
            "dynamicnet.sets": json.dumps(list(model.set_names)),
            "dynamicnet.insertion_points": json.dumps(list(model.insertion_points)),
            "dynamicnet.alpha_input": f"(num_sets={len(model.set_names)}, num_blocks={model.num_blocks}) float32 "
            "≥ 0, one row per set in dynamicnet.sets order; all zeros = the main network",
            "dynamicnet.inputs": json.dumps(conventions),
            "dynamicnet.description": str(config.get("extra", {}).get("description", "")),
            "dynamicnet.version": __version__,
        }
        if "work_side" in config.get("extra", {}):
            meta["dynamicnet.work_side"] = str(config["extra"]["work_side"])
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
        if check:
            _check_parity(tmp, out, graph, inputs)
    return out


def _check_parity(path: Path, shown: Path, graph: nn.Module, inputs: dict[str, torch.Tensor]) -> None:
    try:
        import onnxruntime as ort
    except ImportError:
        return
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = torch.Generator().manual_seed(1)
    for scale in (0.0, 0.5, 1.0):
        feed = dict(inputs)
        feed["alpha"] = torch.rand(feed["alpha"].shape, generator=rng) * scale
        with torch.no_grad():
            ref = graph(*feed.values()).numpy()
        got = session.run(None, {k: v.numpy() for k, v in feed.items()})[0]
        err = float(abs(got - ref).max())
        if err > 1e-4:
            raise DynamicNetError(
                f"{shown}: the exported graph differs from PyTorch by {err:.2g} (> 1e-4); nothing was written"
            )


__all__ = ["OPSET", "export_onnx"]
