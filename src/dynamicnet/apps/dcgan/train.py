"""Training side of the dynamic DCGAN: the task the shared trainer runs, and one entry point.

Phase "main" trains the generator θ as a plain DCGAN on the images with ``a = v`` (O0). Phase "higher" freezes
θ — its BatchNorm layers stay in eval mode, so the α=0 generator is bit-for-bit the one phase 1 produced — and
trains the tuning block at α = 1 against a *fresh* discriminator on the images with ``a ≠ v`` (O1): the first
discriminator has learnt what O0 images look like, and keeping it would make the blocks fight a judge of the
wrong objective.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...core.checkpoint import save_pretrained
from ...core.dynamic import HIGHER, DynamicNet
from ...errors import DynamicNetError
from ...losses.functional import gan_d_loss, gan_g_loss
from ...training import Phase, StepContext, Trainer, TrainerConfig
from ...training.setup import command_line, init_from_folder, select_phases
from .data import AttributeSplit, PhaseDataset
from .model import ARCHITECTURE, DCGANDiscriminator, DCGANGenerator
from .recipe import DCGANRecipe

APPLICATION = "dcgan"
PREVIEW = 8  # preview samples per α


def build_model(recipe: DCGANRecipe, channels: int) -> DynamicNet:
    """θ (the DCGAN generator) with one "higher" block set at the recipe's insertion points."""
    generator = DCGANGenerator(recipe.image_size, channels, recipe.nz, recipe.ngf)
    z = torch.zeros(1, recipe.nz, 1, 1)  # the shapes of the insertion points are traced with it
    try:
        return DynamicNet(generator, recipe.points(), sets=(HIGHER,), zero_init=recipe.zero_init, example_input=z)
    except ValueError as exc:
        raise DynamicNetError(str(exc)) from None


def describe_split(split: AttributeSplit) -> str:
    """``"label = sneaker (α=0) → label = ankle_boot (α=1)"``, or ``≠ v`` when O1 has several values."""
    others = split.other_values()
    o1 = f"{split.attribute} = {others[0]}" if len(others) == 1 else f"{split.attribute} ≠ {split.value}"
    return f"{split.attribute} = {split.value} (α=0) → {o1} (α=1)"


class DCGANTask:
    """The shared trainer's view of the dynamic DCGAN (see :class:`dynamicnet.training.Task`)."""

    def __init__(
        self,
        model: DynamicNet,
        recipe: DCGANRecipe,
        data: PhaseDataset,
        device: torch.device,
        *,
        data_description: str = "",
        data_spec: str = "",
        command: str = "",
        lineage: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        self.model = model.to(device)
        self.recipe = recipe
        self.data = data
        self.device = device
        self.channels = model.main.channels
        self.data_description = data_description
        self.data_spec = data_spec
        self.command = command
        self.lineage = dict(lineage or {})
        self.description = description if description is not None else describe_split(data.split)
        # Exists from the start: on resume at a phase boundary the trainer restores it before start_phase runs.
        self.discriminator = self._new_discriminator()
        self.preview_z = torch.randn(PREVIEW, recipe.nz, 1, 1, generator=torch.Generator().manual_seed(2019))

    def _new_discriminator(self) -> DCGANDiscriminator:
        return DCGANDiscriminator(self.recipe.image_size, self.channels, self.recipe.ndf).to(self.device)

    def extra_modules(self) -> Mapping[str, nn.Module]:
        return {"discriminator": self.discriminator}

    def start_phase(self, phase: Phase, params: list[nn.Parameter]) -> dict[str, torch.optim.Optimizer]:
        self.data.use(phase.objective)
        self.discriminator = self._new_discriminator()  # a fresh judge for every objective (module docstring)
        betas = (self.recipe.beta1, self.recipe.beta2)
        return {
            "generator": torch.optim.Adam(params, lr=phase.lr, betas=betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=phase.lr, betas=betas),
        }

    def training_step(self, ctx: StepContext, batch: torch.Tensor) -> dict[str, float]:
        real = batch * 2 - 1  # (B, C, S, S) in [-1, 1], the tanh range
        # Noise for the global batch from the trainer's generator, then this rank's slice: the same z sequence
        # whatever the process count, and restored exactly on resume.
        z = torch.randn(len(real) * ctx.world_size, self.recipe.nz, 1, 1, generator=ctx.generator)
        z = ctx.shard(z).to(ctx.device)
        gen, disc = ctx.module("model"), ctx.module("discriminator")
        fake = gen(z, alpha=ctx.phase.alpha)  # (B, C, S, S)
        d_loss = gan_d_loss(disc(real), disc(fake.detach()), self.recipe.loss)  # separate real/fake batches
        ctx.optimize(d_loss, "discriminator")
        g_loss = gan_g_loss(disc(fake), self.recipe.loss)  # non-saturating −log D(G(z))
        ctx.optimize(g_loss, "generator")
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    def sample(self, phase: Phase) -> torch.Tensor | None:
        """Preview: the same z at α = 0 and, in a tuning phase, at α = 1 (eval mode, as at inference)."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                z = self.preview_z.to(self.device)
                alphas = [0.0] if phase.trainable == "main" else [0.0, 1.0]
                out = torch.cat([self.model(z, alpha=a) for a in alphas])
        finally:
            self.model.train(was_training)
        return ((out + 1) / 2).clamp(0, 1).cpu()

    def export(self, out_dir: Path, provenance: Mapping[str, Any]) -> Path:
        g = self.model.main
        split = self.data.split
        return save_pretrained(
            self.model,
            out_dir,
            application=APPLICATION,
            architecture={
                "name": ARCHITECTURE,
                "kwargs": {"image_size": g.image_size, "channels": g.channels, "nz": g.nz, "ngf": g.ngf},
            },
            objectives=split.describe(),
            alpha_range=(0.0, 1.0),
            # Wall-clock train_seconds include any time the process was paused; CPU seconds of this process
            # (data loading included, runs it resumed excluded) and the thread count make CPU timings comparable.
            provenance={
                **provenance,
                "process_cpu_seconds": round(time.process_time(), 1),
                "torch_threads": torch.get_num_threads(),
                "recipe": self.recipe.to_dict(),
                "data": self.data_description,
                "command": self.command,
                **({"init_from": self.lineage} if self.lineage else {}),
            },
            extra={
                "description": self.description,
                "data": self.data_spec,
                "attribute": split.attribute,
                "value": split.value,
                "nz": g.nz,
            },
        )


def train_dcgan(
    recipe: DCGANRecipe,
    split: AttributeSplit,
    out_dir: Path,
    *,
    phase: str = "all",
    init_from: Path | None = None,
    config: TrainerConfig | None = None,
    data_description: str = "",
    data_spec: str = "",
    description: str | None = None,
) -> Path:
    """Train a dynamic DCGAN on ``split`` and write its model folder to ``out_dir``.

    ``phase`` = ``"all"`` (θ, then the block), ``"main"`` (θ only; the folder's block is untrained), or
    ``"tuning"`` (θ copied from ``init_from``, a model folder of the same architecture; only the block trains).
    """
    config = config or TrainerConfig(out_dir)
    torch.manual_seed(config.seed)  # θ's and ψ's initial weights are part of the run's identity
    model = build_model(recipe, split.source.channels)
    main_phase, tuning_phase = recipe.phases(len(split.main), len(split.tuning))
    # A tuning-only run copies θ; the block is retrained against a fresh discriminator, so it is not copied.
    init = partial(init_from_folder, model, application=APPLICATION, copy_sets=False)
    phases, lineage = select_phases(main_phase, [tuning_phase], phase, init_from=init_from, init=init)
    data = PhaseDataset(split)
    task = DCGANTask(
        model,
        recipe,
        data,
        config.device,
        data_description=data_description,
        data_spec=data_spec,
        command=command_line(),
        lineage=lineage,
        description=description,
    )
    return Trainer(task, data, phases, config).fit()
