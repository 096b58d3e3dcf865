"""Training side of dynamic image completion: the task the shared trainer runs, and one entry point.

Phase "main" trains θ for O0; the tuning phase freezes θ and trains the "higher" block set for O1 at α = 1.
A phase whose objective has an adversarial term trains a discriminator alongside: the main phase its own
(``disc``), a tuning phase a fresh one (``disc_tuning``), because a discriminator that has learnt to reject
θ's artefacts is the wrong critic for a different objective. The main phase's discriminator is exported next
to the model (``discriminator.safetensors``) as a record of θ's critic; inference never needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ...core.checkpoint import save_pretrained
from ...core.dynamic import HIGHER, DynamicNet
from ...losses import VGG16Features, gan_d_loss, gan_g_loss, load_vgg16
from ...training import Phase, StepContext, Trainer, TrainerConfig
from ...training.setup import command_line, init_from_folder, select_phases
from ...utils.fs import atomic_path
from .metrics import PERCEPTUAL_TAPS, hole_ssim, perceptual_hole_distance, texture_hole_distance
from .model import (
    ARCHITECTURE,
    HOLE_FILL,
    CompletionNet,
    PatchDiscriminator,
    composite,
    hole_logits,
    masked_input,
    to_prediction,
)
from .recipe import CompletionRecipe

APPLICATION = "completion"
DISC_FILE = "discriminator.safetensors"


def build_model(recipe: CompletionRecipe) -> DynamicNet:
    """θ (the completion network at the recipe's width) wrapped with the "higher" block set for O1.

    After a push-pull prefill θ predicts the change to the prefill (:func:`~.model.to_prediction`); its last
    layer starts at zero, so an untrained θ returns the prefill itself.
    """
    main = CompletionNet(recipe.width, recipe.dilations)
    if recipe.hole_fill != "grey":
        nn.init.zeros_(main.out.weight)
        nn.init.zeros_(main.out.bias)
    return DynamicNet(main, recipe.insertion_points, sets=(HIGHER,), zero_init=recipe.zero_init)


def hole_l1(filled: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the hole's pixels (batch mean): the reconstruction term."""
    err = (filled - target).abs().mean(1, keepdim=True) * mask  # (B, 1, H, W)
    return err.sum() / mask.sum().clamp_min(1)


class CompletionTask:
    """The shared trainer's view of image completion (see :class:`dynamicnet.training.Task`)."""

    def __init__(
        self,
        model: DynamicNet,
        recipe: CompletionRecipe,
        device: torch.device,
        vgg: VGG16Features | None = None,
        preview: tuple[torch.Tensor, torch.Tensor] | None = None,
        data_description: str = "",
        command: str = "",
        lineage: Mapping[str, Any] | None = None,
        disc_state: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        self.model = model.to(device)
        self.recipe = recipe
        self.device = device
        self.vgg = vgg.to(device) if vgg is not None else None
        self.preview = preview
        self.data_description = data_description
        self.command = command
        self.lineage = dict(lineage or {})
        self.objectives = recipe.objectives()
        self.disc = PatchDiscriminator(recipe.disc_width).to(device)
        self.disc_trained = False
        if disc_state is not None:
            self.disc.load_state_dict(disc_state)
            self.disc_trained = True
        self.tuning_disc: PatchDiscriminator | None = None

    def extra_modules(self) -> Mapping[str, nn.Module]:
        mods: dict[str, nn.Module] = {"disc": self.disc}
        if self.tuning_disc is not None:
            mods["disc_tuning"] = self.tuning_disc
        return mods

    def _disc_name(self, phase: Phase) -> str:
        return "disc_tuning" if phase.trainable == "tuning" else "disc"

    def start_phase(self, phase: Phase, params: list[nn.Parameter]) -> dict[str, torch.optim.Optimizer]:
        self.phase = phase
        obj = self.objectives[phase.objective]
        # β1 = 0.5 as usual for adversarial training; harmless for pure L1.
        optimizers = {"model": torch.optim.Adam(params, lr=phase.lr, betas=(0.5, 0.999))}
        if obj.adversarial_weight > 0:
            if phase.trainable == "tuning":
                self.tuning_disc = PatchDiscriminator(self.recipe.disc_width).to(self.device)  # a fresh critic
            else:
                self.disc_trained = True
            disc = self.extra_modules()[self._disc_name(phase)]
            optimizers["disc"] = torch.optim.Adam(disc.parameters(), lr=self.recipe.disc_lr, betas=(0.5, 0.999))
        return optimizers

    def training_step(self, ctx: StepContext, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        image, mask = batch  # (B, 3, H, W), (B, 1, H, W) with 1 = hole
        obj = self.objectives[ctx.phase.objective]
        x = masked_input(image, mask, self.recipe.hole_fill)
        pred = to_prediction(ctx.module("model")(x, alpha=ctx.phase.alpha), x, self.recipe.hole_fill)  # (B, 3, H, W)
        filled = composite(image, mask, pred)
        metrics: dict[str, float] = {}
        if obj.adversarial_weight > 0:
            disc = ctx.module(self._disc_name(ctx.phase))
            # Discriminator step: real images vs the detached fills, both with the same mask as condition.
            logits = disc(torch.cat([image, filled.detach()]), torch.cat([mask, mask]))
            real, fake = logits.chunk(2)
            d_loss = gan_d_loss(hole_logits(real, mask), hole_logits(fake, mask), obj.gan_kind)
            ctx.optimize(d_loss, "disc")
            metrics["d_loss"] = d_loss.item()
        l1 = hole_l1(filled, image, mask)
        total = obj.l1_weight * l1
        metrics["l1"] = l1.item()
        if obj.adversarial_weight > 0:
            g_adv = gan_g_loss(hole_logits(disc(filled, mask), mask), obj.gan_kind)
            total = total + obj.adversarial_weight * g_adv
            metrics["g_adv"] = g_adv.item()
        if obj.ssim_weight > 0:
            ssim = hole_ssim(filled, image, mask).mean()
            total = total + obj.ssim_weight * (1 - ssim)
            metrics["ssim"] = ssim.item()
        if obj.needs_vgg:
            assert self.vgg is not None, "a VGG objective needs the VGG (train_completion loads it)"
            with torch.no_grad():
                target = self.vgg(image, taps=PERCEPTUAL_TAPS)
            feats = self.vgg(filled, taps=PERCEPTUAL_TAPS)
            if obj.perceptual_weight > 0:
                perc = perceptual_hole_distance(feats, target, mask).mean()
                total = total + obj.perceptual_weight * perc
                metrics["perceptual"] = perc.item()
            if obj.texture_weight > 0:
                tex = texture_hole_distance(feats, target, mask).mean()
                total = total + obj.texture_weight * tex
                metrics["texture"] = tex.item()
        ctx.optimize(total, "model")
        metrics["loss"] = total.item()
        return metrics

    def sample(self, phase: Phase) -> torch.Tensor | None:
        """Rows: the input with its hole, the fill at this phase's α, the original."""
        if self.preview is None:
            return None
        image, mask = (t.to(self.device) for t in self.preview)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            x = masked_input(image, mask, self.recipe.hole_fill)
            pred = to_prediction(self.model(x, alpha=phase.alpha), x, self.recipe.hole_fill)
            filled = composite(image, mask, pred).clamp(0, 1)
        self.model.train(was_training)
        shown = image * (1 - mask) + HOLE_FILL * mask
        return torch.cat([shown, filled, image]).cpu()

    def export(self, out_dir: Path, provenance: Mapping[str, Any]) -> Path:
        recipe = self.recipe
        extra: dict[str, Any] = {
            "description": recipe.description,
            "size": recipe.size,
            "hole": recipe.hole_side,
            "mask": recipe.mask,
            "hole_fill": recipe.hole_fill,
        }
        if self.disc_trained:
            extra["discriminator"] = {"file": DISC_FILE, "width": recipe.disc_width, "trained_against": "main (α = 0)"}
        folder = save_pretrained(
            self.model,
            out_dir,
            application=APPLICATION,
            architecture={"name": ARCHITECTURE, "kwargs": {"width": recipe.width, "dilations": list(recipe.dilations)}},
            objectives={k: v.describe() for k, v in self.objectives.items()},
            alpha_range=(0.0, 1.0),
            provenance={
                **provenance,
                "recipe": recipe.to_dict(),
                "data": self.data_description,
                "command": self.command,
                **({"init_from": self.lineage} if self.lineage else {}),
                **({"vgg16_weights": self.vgg.source} if self.vgg is not None else {}),
            },
            extra=extra,
        )
        if self.disc_trained:
            save_discriminator(self.disc, folder)
        return folder


def save_discriminator(disc: PatchDiscriminator, folder: Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write the discriminator's weights beside a model folder's ``model.safetensors``."""
    tensors = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in disc.state_dict().items()
    }
    target = Path(folder) / DISC_FILE
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp))
    return target


def load_discriminator_state(folder: Path) -> dict[str, torch.Tensor] | None:
    """The discriminator weights stored in a model folder (fp32), or None when it has none."""
    path = Path(folder) / DISC_FILE
    if not path.is_file():
        return None
    return {k: v.float() for k, v in load_file(str(path)).items()}


def train_completion(
    recipe: CompletionRecipe,
    dataset: Any,
    out_dir: Path,
    *,
    phase: str = "all",
    init_from: Path | None = None,
    vgg_weights: str | None = None,
    config: TrainerConfig | None = None,
    data_description: str = "",
    preview: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Path:
    """Train ``recipe`` on ``dataset`` (``(image, mask)`` pairs) and write a model folder to ``out_dir``.

    ``phase`` = ``"all"`` (main, then tuning), ``"main"``, or ``"tuning"``: θ, its blocks (as the starting
    point) and its discriminator (if stored) come from ``init_from``, a model folder trained for the same O0,
    and only the blocks train.
    """
    config = config or TrainerConfig(out_dir)
    torch.manual_seed(config.seed)  # initial weights (θ, blocks, discriminator) follow --seed too
    model = build_model(recipe)
    main_phase, tuning_phase = recipe.phases()
    init = partial(init_from_folder, model, application=APPLICATION)
    phases, lineage = select_phases(main_phase, [tuning_phase], phase, init_from=init_from, init=init)
    disc_state = load_discriminator_state(init_from) if phase == "tuning" and init_from is not None else None
    needs_vgg = any(recipe.objectives()[p.objective].needs_vgg for p in phases)
    vgg = load_vgg16(vgg_weights, taps=PERCEPTUAL_TAPS) if needs_vgg else None
    task = CompletionTask(
        model,
        recipe,
        config.device,
        vgg=vgg,
        preview=preview,
        data_description=data_description,
        command=command_line(),
        lineage=lineage,
        disc_state=disc_state,
    )
    return Trainer(task, dataset, phases, config).fit()


__all__ = [
    "APPLICATION",
    "DISC_FILE",
    "CompletionTask",
    "build_model",
    "hole_l1",
    "load_discriminator_state",
    "save_discriminator",
    "train_completion",
]
