"""What every application's inference pipeline shares: a model folder loaded on a device behind an engine.

Each application (``apps/<name>/pipeline.py``) subclasses :class:`Pipeline` with its own inputs: an image
(style), an image and a hole (completion), a seed (DC-GAN). All of them are built the same way
(``Pipeline.from_pretrained(name_or_folder, device, engine=…)``), refuse another application's folder, report
the usable α range, and offer ``session(…)``: inputs prepared once so that ``render(α)`` reruns only what depends
on α (the demo's slider and every sweep). :func:`pipeline_class` finds the class for a folder's application,
which is all the demo and the CLI need to serve a model of any application. No training code is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch

from ..core.checkpoint import load_pretrained
from ..core.dynamic import DynamicNet
from ..engines import Runtime
from ..errors import DynamicNetError
from ..models import resolve_model
from ..utils.progress import progress as progress_bar

P = TypeVar("P", bound="Pipeline")
R = TypeVar("R")

# Application → "module:class" of its pipeline, imported on first use (a style user never loads completion code).
PIPELINES = {
    "style": "dynamicnet.apps.style.pipeline:StylePipeline",
    "completion": "dynamicnet.apps.completion.pipeline:CompletionPipeline",
    "dcgan": "dynamicnet.apps.dcgan.pipeline:DCGANPipeline",
}


class Pipeline:
    """A loaded Dynamic-Net model of one application on a device (see the module docstring).

    Args:
        model: the Dynamic-Net (θ + tuning blocks), put in eval mode on ``device``.
        config: its model folder's ``config.json`` (``application`` must be the subclass's).
        device: where the network runs; inputs and outputs are CPU tensors.
        engine: what runs it, see :mod:`dynamicnet.engines` (``auto``: the fastest installed).
    """

    application: ClassVar[str]
    default_model: ClassVar[str | None] = None  # what ``from_pretrained()`` loads without a name

    def __init__(
        self, model: DynamicNet, config: dict[str, Any], device: torch.device | str = "cpu", engine: str = "torch"
    ) -> None:
        if config.get("application") != self.application:
            raise DynamicNetError(f"expected a {self.application} model, got a {config.get('application')!r} model")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self.runtime = Runtime(self.model, engine, self.device)

    @classmethod
    def from_pretrained(
        cls: type[P],
        name_or_path: str | Path | None = None,
        device: torch.device | str = "cpu",
        engine: str = "torch",
        **options: Any,
    ) -> P:
        """Load a bundled model by name (``dynamicnet models``) or a model folder; ``options`` are the
        application's own keyword arguments (e.g. completion's ``max_side``)."""
        name = name_or_path if name_or_path is not None else cls.default_model
        if name is None:
            raise DynamicNetError(f"{cls.__name__}.from_pretrained needs a model name or folder")
        model, config = load_pretrained(resolve_model(name))
        return cls(model, config, device, engine, **options)

    @property
    def alpha_range(self) -> tuple[float, float]:
        """The α range the model was trained for: (0, 1), or (−1, 1) with a second block set."""
        lo, hi = self.config["dynamic"].get("alpha_range", [0.0, 1.0])
        return float(lo), float(hi)

    @property
    def num_blocks(self) -> int:
        return self.model.num_blocks

    @staticmethod
    def _over_alphas(render: Callable[[Any], R], alphas: Sequence[Any], progress: bool | None) -> list[R]:
        """``render`` at each α of a sweep, with a bar over them (None: only when stderr is a terminal)."""
        return [render(a) for a in progress_bar(alphas, desc="α", total=len(alphas), enabled=progress)]


def pipeline_class(application: str) -> type[Pipeline]:
    """The pipeline class of an application (``config.json``'s ``application``)."""
    if application not in PIPELINES:
        raise DynamicNetError(f"no pipeline for a {application!r} model (applications: {', '.join(PIPELINES)})")
    module, name = PIPELINES[application].split(":")
    cls: type[Pipeline] = getattr(import_module(module), name)
    return cls


__all__ = ["PIPELINES", "Pipeline", "pipeline_class"]
