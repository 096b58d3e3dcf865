"""A base class for training a network of one's own with the shared loop: write the loss, the rest has defaults."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.dynamic import DynamicNet
from .config import Phase
from .trainer import StepContext


class Task(ABC):
    """Train θ and tuning blocks of your own :class:`~dynamicnet.core.DynamicNet` with the shared
    :class:`~dynamicnet.training.Trainer`: subclass it and write :meth:`loss`.

    The defaults are what most tasks want: one Adam optimizer over the phase's parameters at ``phase.lr``, one
    loss and one optimizer step per batch, no extra modules (override :meth:`extra_modules` and
    :meth:`training_step` for a discriminator), no preview images (override :meth:`sample`), and a model folder
    written by :meth:`DynamicNet.save_pretrained <dynamicnet.core.DynamicNet.save_pretrained>`.

    Args:
        model: the network to train (moved to the device by the caller).
        main_kwargs: the main network's constructor arguments, so that the model folder rebuilds it.
        application: recorded in ``config.json`` (``"style"`` or ``"completion"`` only for those pipelines' nets).
        objectives: a JSON-able description per objective name (``"main"``, each block set).
        extra: application settings recorded in ``config.json``.

    Left out, the last four keep what the folder ``model`` was loaded from said, if it was loaded from one.

    Example:
        >>> class Sharpen(Task):
        ...     def loss(self, ctx, batch):
        ...         x, target = batch
        ...         out = ctx.module("model")(x, alpha=ctx.phase.alpha)   # the blocks run at the phase's α
        ...         return F.l1_loss(out, target[ctx.phase.objective])
    """

    def __init__(
        self,
        model: DynamicNet,
        *,
        main_kwargs: Mapping[str, Any] | None = None,
        application: str | None = None,
        objectives: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.main_kwargs = main_kwargs
        self.application = application
        self.objectives = objectives
        self.extra = extra

    @abstractmethod
    def loss(self, ctx: StepContext, batch: Any) -> torch.Tensor:
        """The scalar loss of one batch for ``ctx.phase.objective``.

        Run the model as ``ctx.module("model")(x, alpha=ctx.phase.alpha)``: the module is the DDP-wrapped one
        when distributed, and at the phase's α the blocks being trained take part (at α = 0 they would not).
        ``ctx.generator`` is the loop's seeded generator for any noise the loss draws.
        """

    def extra_modules(self) -> Mapping[str, nn.Module]:
        """Modules besides the model that the loop checkpoints and wraps (a discriminator); none by default."""
        return {}

    def start_phase(self, phase: Phase, params: list[nn.Parameter]) -> Mapping[str, torch.optim.Optimizer]:
        """The optimizers of a phase, by name: Adam over ``params`` (the phase's trainable ones) at ``phase.lr``."""
        return {"model": torch.optim.Adam(params, lr=phase.lr)}

    def training_step(self, ctx: StepContext, batch: Any) -> Mapping[str, float]:
        """One optimizer step on :meth:`loss`; returns the metrics to log."""
        loss = self.loss(ctx, batch)
        ctx.optimize(loss, "model")
        return {"loss": loss.item()}

    def sample(self, phase: Phase) -> torch.Tensor | None:
        """Preview images ``(N, 3, H, W)`` in [0, 1] saved every ``sample_every`` steps; none by default."""
        return None

    def export(self, out_dir: Path, provenance: Mapping[str, Any]) -> Path:
        """Write the trained model as a model folder (see :meth:`DynamicNet.save_pretrained`) and return its path."""
        return self.model.save_pretrained(
            out_dir,
            main_kwargs=self.main_kwargs,
            application=self.application,
            objectives=self.objectives,
            provenance=provenance,
            extra=self.extra,
        )
