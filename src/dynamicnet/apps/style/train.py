"""Training side of dynamic style transfer: the task the shared trainer runs, and two entry points.

Phase "main" trains the Johnson network θ for O0; each tuning phase freezes θ and trains one block set for its
objective with the blocks at α = 1 ("higher"), α = −1 ("lower") or one-hot (set k). The perceptual losses use
one frozen VGG16 shared by every objective; each objective's style Gram matrices are computed once.
:func:`train_style` runs a recipe's phases on our own network; :func:`train_style_blocks` runs only its tuning
phases on a main network trained elsewhere (``dynamicnet train tuning``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...core.checkpoint import save_pretrained
from ...core.dynamic import DynamicNet
from ...data.assets import resolve_style_image
from ...data.io import load_image
from ...errors import DynamicNetError
from ...losses import PerceptualLoss, StyleTargets, VGG16Features, load_vgg16
from ...training import Phase, StepContext, Trainer, TrainerConfig
from ...training.setup import command_line, init_from_folder, select_phases
from .model import ARCHITECTURE, TransformerNet
from .recipe import StyleObjective, StyleRecipe

APPLICATION = "style"


def build_model(recipe: StyleRecipe) -> DynamicNet:
    """θ (the Johnson network at the recipe's width) wrapped with one block set per tuning objective."""
    return DynamicNet(
        TransformerNet(width=recipe.width), recipe.insertion_points, sets=tuple(recipe.sets), zero_init=recipe.zero_init
    )


class StyleTask:
    """The shared trainer's view of style transfer (see :class:`dynamicnet.training.Task`).

    ``architecture`` and ``main`` describe a main network trained elsewhere: the model folder's architecture
    entry that rebuilds it, and where it came from (recorded as ``provenance.main``). With them, only the
    recipe's block sets are trained and recorded as objectives: θ's own objective is whatever it was trained for.
    Without them θ is the Johnson network at the recipe's width, trained for the recipe's O0.
    """

    def __init__(
        self,
        model: DynamicNet,
        recipe: StyleRecipe,
        vgg: VGG16Features,
        device: torch.device,
        preview: torch.Tensor | None = None,
        data_description: str = "",
        command: str = "",
        lineage: Mapping[str, Any] | None = None,
        *,
        architecture: Mapping[str, Any] | None = None,
        main: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        self.model = model.to(device)
        self.recipe = recipe
        self.vgg = vgg.to(device)
        self.device = device
        self.preview = preview
        self.data_description = data_description
        self.command = command
        self.lineage = dict(lineage or {})
        self.architecture = dict(architecture or {"name": ARCHITECTURE, "kwargs": {"width": recipe.width}})
        self.main = main
        self.description = recipe.description if description is None else description
        targets = StyleTargets(self.vgg)
        self.losses: dict[str, nn.Module] = {
            name: objective_loss(obj, targets) for name, obj in self.objectives().items()
        }

    def objectives(self) -> dict[str, StyleObjective]:
        """What this task trains for, by name: O0 (unless θ was trained elsewhere) and every block set's."""
        return dict(self.recipe.sets) if self.main is not None else self.recipe.objectives()

    def extra_modules(self) -> Mapping[str, nn.Module]:
        return {}

    def start_phase(self, phase: Phase, params: list[nn.Parameter]) -> dict[str, torch.optim.Optimizer]:
        self.phase = phase
        return {"model": torch.optim.Adam(params, lr=phase.lr)}

    def training_step(self, ctx: StepContext, batch: torch.Tensor) -> dict[str, float]:
        # Belt and braces with the dataset's redraw: never train on a flat image (a constant crop made θ NaN).
        keep = batch.flatten(1).std(1) > 1e-3
        if not bool(keep.all()):
            batch = batch[keep] if bool(keep.any()) else batch
        output = ctx.module("model")(batch, alpha=ctx.phase.alpha)  # (B, 3, H, W)
        total, parts = self.losses[ctx.phase.objective](output, batch)
        ctx.optimize(total, "model")
        return {"loss": total.item(), **{k: v.item() for k, v in parts.items()}}

    def sample(self, phase: Phase) -> torch.Tensor | None:
        if self.preview is None:
            return None
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            out = self.model(self.preview.to(self.device), alpha=phase.alpha).clamp(0, 1)
        self.model.train(was_training)
        return torch.cat([self.preview.cpu(), out.cpu()])

    def objective_records(self) -> dict[str, Any]:
        """What the model folder says each part was trained for (``config.json`` ``objectives``)."""
        return {k: objective_record(v) for k, v in self.objectives().items()}

    def export(self, out_dir: Path, provenance: Mapping[str, Any]) -> Path:
        recipe = self.recipe.to_dict()
        if self.main is not None:  # θ came trained: what the recipe says about training it did not happen
            for key in ("main", "width", "main_lr", "main_steps"):
                recipe.pop(key)
        return save_pretrained(
            self.model,
            out_dir,
            application=APPLICATION,
            architecture=self.architecture,
            objectives=self.objective_records(),
            alpha_range=self.recipe.alpha_range,
            provenance={
                **provenance,
                "recipe": recipe,
                "data": self.data_description,
                "vgg16_weights": self.vgg.source,
                "command": self.command,
                **({"init_from": self.lineage} if self.lineage else {}),
                **({"main": dict(self.main)} if self.main is not None else {}),
            },
            extra={
                "description": self.description,
                **({"work_side": self.recipe.work_side} if self.recipe.work_side else {}),
            },
        )


def objective_loss(obj: StyleObjective, targets: StyleTargets) -> PerceptualLoss:
    """The loss module of one objective on the VGG16 of ``targets`` (whose cache holds the style's Gram matrices),
    on that network's device."""
    device = next(targets.extractor.parameters()).device
    style = load_image(resolve_style_image(obj.style)).rgb.to(device)
    return PerceptualLoss(
        targets.extractor,
        targets(style, obj.style_size),
        content_weight=obj.content_weight,
        style_weight=obj.style_weight,
        style_layer_weights=dict(obj.style_layers),
        content_tap=obj.content_layer,
        tv_weight=obj.tv_weight,
    )


def objective_record(obj: StyleObjective) -> dict[str, Any]:
    """An objective as a model folder records it: its settings and the style image's file name."""
    record = obj.describe()
    record["style_file"] = Path(resolve_style_image(obj.style)).name
    return record


def train_style(
    recipe: StyleRecipe,
    dataset: Any,
    out_dir: Path,
    *,
    phase: str = "all",
    init_from: Path | None = None,
    tuning_sets: Sequence[str] | None = None,
    vgg_weights: str | None = None,
    config: TrainerConfig | None = None,
    data_description: str = "",
    preview: torch.Tensor | None = None,
) -> Path:
    """Train ``recipe`` on ``dataset`` and write a model folder to ``out_dir``.

    ``phase`` = ``"all"`` (main then every block set), ``"main"``, or ``"tuning"``: θ (and any block set the
    recipe shares with it) comes from ``init_from``, a model folder trained for the same O0, and only
    ``tuning_sets`` (default: every set of the recipe) are trained — e.g. add a "lower" set to a finished
    two-objective model to make it dual without re-training θ or its "higher" set.
    """
    config = config or TrainerConfig(out_dir)
    torch.manual_seed(config.seed)  # the initial weights are part of what the seed reproduces
    model = build_model(recipe)
    main_phase, *tuning_phases = recipe.phases()
    if tuning_sets is not None:
        unknown = sorted(set(tuning_sets) - set(recipe.sets))
        if unknown:
            raise DynamicNetError(
                f"tuning_sets {unknown} not in the recipe's sets {sorted(recipe.sets)}",
                cli=f"--tuning-sets {unknown} not in the recipe's sets {sorted(recipe.sets)}",
            )
        tuning_phases = [p for p in tuning_phases if p.name in tuning_sets]
    init = partial(init_from_folder, model, application=APPLICATION)
    phases, lineage = select_phases(main_phase, tuning_phases, phase, init_from=init_from, init=init)
    return _fit(
        model,
        recipe,
        dataset,
        phases,
        config,
        vgg_weights,
        preview=preview,
        data_description=data_description,
        lineage=lineage,
    )


def train_style_blocks(
    main: nn.Module,
    channels: Sequence[int],
    recipe: StyleRecipe,
    dataset: Any,
    out_dir: Path,
    *,
    architecture: Mapping[str, Any],
    record: Mapping[str, Any],
    description: str,
    vgg_weights: str | None = None,
    config: TrainerConfig | None = None,
    data_description: str = "",
    preview: torch.Tensor | None = None,
) -> Path:
    """Train the block sets of ``recipe`` at its insertion points on ``main``, a network trained elsewhere that
    stays as it is (frozen), and write a model folder to ``out_dir``.

    ``channels``: the activation's channels at each insertion point. ``architecture``: the model folder's entry
    that rebuilds ``main`` (:meth:`dynamicnet.imports.ImportedMain.spec`); ``record``: where ``main`` came from
    (``provenance.main``); ``description``: the model's one-line description. The recipe's O0 plays no part.
    """
    config = config or TrainerConfig(out_dir)
    torch.manual_seed(config.seed)  # the blocks' initial weights are part of what the seed reproduces
    model = DynamicNet(
        main, recipe.insertion_points, sets=tuple(recipe.sets), channels=channels, zero_init=recipe.zero_init
    )
    _, *tuning_phases = recipe.phases()
    return _fit(
        model,
        recipe,
        dataset,
        tuning_phases,
        config,
        vgg_weights,
        preview=preview,
        data_description=data_description,
        architecture=architecture,
        main=record,
        description=description,
    )


def _fit(
    model: DynamicNet,
    recipe: StyleRecipe,
    dataset: Any,
    phases: Sequence[Phase],
    config: TrainerConfig,
    vgg_weights: str | None,
    **task_options: Any,
) -> Path:
    """Train ``phases`` of ``model`` with the VGG16 loss network and write the model folder; ``task_options``:
    what :class:`StyleTask` records besides the recipe (preview, data, lineage or the imported θ)."""
    task = StyleTask(model, recipe, load_vgg16(vgg_weights), config.device, command=command_line(), **task_options)
    return Trainer(task, dataset, list(phases), config).fit()
