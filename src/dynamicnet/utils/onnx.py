"""The one way this library traces a network to ONNX (the export command, the graph engines, TorchScript imports)."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

#: The ONNX opset of every graph the library writes: onnxruntime, OpenVINO and onnx2torch all read it.
OPSET = 17


def trace_to_onnx(
    module: nn.Module,
    args: tuple[Any, ...],
    f: str | os.PathLike[str] | io.BytesIO,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
) -> None:
    """Export ``module`` by tracing (TorchScript-based exporter, no onnxscript needed) at :data:`OPSET`, without
    gradients and without the tracer's notes on shape checks and norms, which are not the user's business."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            f,  # type: ignore[arg-type]  # the annotation leaves out file objects, which export writes to
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
            opset_version=OPSET,
            dynamo=False,
        )
