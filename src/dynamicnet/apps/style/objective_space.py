"""Measure the paper's claim: how close does θ + tuning blocks at some α come to a network trained from scratch for
the objective in between?

A two-objective recipe spans the objectives O_m = (1 − m)·O0 + m·O1 (paper Sec. 3 and its objective-space
figure). For each m a *dedicated* network is trained for O_m exactly as θ was (same data, crops, steps, learning
rate, batch, seed and VGG16: at m = 0 it would be θ itself), and O_m is measured on held-out photos for

* Dynamic-Net at the best α (α*) and at α = m;
* pixel blending (1 − t)·θ(x) + t·θ_1(x), θ_1 the dedicated network for m = 1, at the best t;
* DNI (Wang et al., CVPR 2019): the weights (1 − t)·θ + t·θ', θ' = θ fine-tuned for O1 for as many steps as the
  blocks were trained, at the best t;
* the dedicated network, the reference (ratio 1).

α and t run over one grid (0.05 steps plus each m). Everything goes into one folder and is reused: a rerun takes
finished networks as they are, resumes an interrupted training from its checkpoint (the trainer's exact resume)
and measures again only when a network changed. docs/objective-space.md describes the experiment.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from ...core.checkpoint import CONFIG_NAME, load_pretrained, read_config, weights_sha256
from ...core.dynamic import HIGHER, DynamicNet
from ...data.figures import make_contact_sheet
from ...data.folder import FLAT_CROP_STD, random_square_crop
from ...data.geometry import pad_to_multiple, resize_max_side, unpad
from ...data.io import load_image, save_image
from ...errors import DynamicNetError
from ...losses import PerceptualLoss, StyleTargets, VGG16Features, tv_loss
from ...training import Phase, Trainer, TrainerConfig
from ...training.setup import command_line
from ...training.trainer import TrainingInterrupted
from ...utils.fs import atomic_write_text
from .recipe import StyleObjective, StyleRecipe
from .train import StyleTask, build_model, objective_loss, objective_record

GRID_STEP = 0.05
MIX = "mix"  # the key of O_m among a task's losses
TERMS = ("content0", "style0", "content1", "style1", "tv")
Weights = tuple[float, float, float]  # (λc, λs, λtv) of one objective


# ------------------------------------------------------------------------------------------------ the objective


def weights_of(objective: StyleObjective | PerceptualLoss) -> Weights:
    """(λc, λs, λtv) of an objective or of its loss module."""
    return (objective.content_weight, objective.style_weight, objective.tv_weight)


def objective_value(terms: Mapping[str, Any], w0: Weights, w1: Weights, m: float) -> Any:
    """O_m = (1 − m)·O0 + m·O1 from the unweighted terms of :data:`TERMS` (floats or tensors), each objective
    being λc·content + λs·style + λtv·TV. Linear in the terms, so the mean of O_m over images is O_m of the means."""

    def total(w: Weights, k: int) -> Any:
        return w[0] * terms[f"content{k}"] + w[1] * terms[f"style{k}"] + w[2] * terms["tv"]

    return (1 - m) * total(w0, 0) + m * total(w1, 1)


class ObjectiveMix(nn.Module):
    """O_m for two objectives that share one VGG16: the output's features are computed once for both.

    Built from the two loss modules the trainer uses (:func:`~dynamicnet.apps.style.train.objective_loss`), so
    the terms are the trained ones. ``forward`` returns ``(O_m, terms)`` like :class:`PerceptualLoss`, which lets
    the style task train on it unchanged; :meth:`terms` alone serves every m at once when measuring.
    """

    def __init__(self, o0: PerceptualLoss, o1: PerceptualLoss, m: float = 0.0) -> None:
        super().__init__()
        if o0.extractor is not o1.extractor:
            raise ValueError("both objectives must use the same VGG16 extractor")
        self.o0, self.o1, self.m = o0, o1, float(m)

    def terms(self, output: Tensor, content: Tensor) -> dict[str, Tensor]:
        """The unweighted terms (batch means) of ``output`` ``(B, 3, H, W)`` for the photos ``content``."""
        vgg = self.o0.extractor
        feats = vgg(output)
        with torch.no_grad():  # the photo is a fixed target
            target = vgg(content, taps=tuple(dict.fromkeys((self.o0.content.tap, self.o1.content.tap))))
        return {
            "content0": self.o0.content(feats, target),
            "style0": self.o0.style(feats),
            "content1": self.o1.content(feats, target),
            "style1": self.o1.style(feats),
            "tv": tv_loss(output),
        }

    def forward(self, output: Tensor, content: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        terms = self.terms(output, content)
        return objective_value(terms, weights_of(self.o0), weights_of(self.o1), self.m), terms


# ----------------------------------------------------------------------------------------------- the experiment


@dataclass(frozen=True)
class Schedule:
    """How one network trains: steps, learning rate, batch size and seed (initial weights and data order)."""

    steps: int
    lr: float
    batch_size: int
    seed: int


@dataclass(frozen=True)
class Experiment:
    """One model's objective space and how its networks are trained.

    ``recipe``: O0 = ``recipe.main``, O1 = ``recipe.sets["higher"]``, and the data θ saw (content, crop size and
    scale, width). ``theta``: θ's schedule, which the dedicated networks copy; ``blocks``: the tuning blocks',
    which DNI's fine-tuning copies. ``model``: the Dynamic-Net model folder, or None when the run trains it.
    ``vgg16``: the VGG16 weights the model records having been trained with (None: not checked).
    """

    recipe: StyleRecipe
    theta: Schedule
    blocks: Schedule
    model: Path | None = None
    vgg16: str | None = None

    @property
    def o0(self) -> StyleObjective:
        return self.recipe.main

    @property
    def o1(self) -> StyleObjective:
        return self.recipe.sets[HIGHER]

    @classmethod
    def from_recipe(cls, recipe: StyleRecipe, seed: int) -> Experiment:
        """θ and its blocks trained by this run, from ``recipe`` with ``seed``."""
        if HIGHER not in recipe.sets:
            raise DynamicNetError(f"recipe {recipe.name!r} has no 'higher' block set: no O1 to span a space to")
        return cls(
            recipe,
            Schedule(recipe.main_steps, recipe.main_lr, recipe.batch_size, seed),
            Schedule(recipe.tuning_steps, recipe.tuning_lr, recipe.batch_size, seed),
        )

    @classmethod
    def from_model(cls, folder: Path) -> Experiment:
        """The space of a model folder trained by ``dynamicnet train style``, read from its provenance: O0, O1 and
        the blocks' schedule from the folder, θ's schedule and data from the run that trained θ (the folder's
        own, or the one it was started from with ``--init-from``)."""
        config = read_config(folder)
        prov = config.get("provenance", {})
        if config.get("application") != "style" or HIGHER not in config["dynamic"]["sets"] or "recipe" not in prov:
            raise DynamicNetError(
                f"{folder}: not a style model with a 'higher' block set and a recorded recipe "
                "(train one with `dynamicnet train style`, or let this command train it)"
            )
        recipe = StyleRecipe.from_dict(prov["recipe"])
        theta_prov, theta = _trained_in(prov, "main", folder)
        blocks_prov, blocks = _trained_in(prov, HIGHER, folder)
        theta_recipe = StyleRecipe.from_dict(theta_prov["recipe"])
        if theta_recipe.main != recipe.main:
            raise DynamicNetError(f"{folder}: θ was trained for another O0 than the model records")
        if StyleRecipe.from_dict(blocks_prov["recipe"]).sets.get(HIGHER) != recipe.sets[HIGHER]:
            raise DynamicNetError(f"{folder}: its 'higher' blocks were trained for another O1 than the model records")
        recipe = recipe.with_overrides(
            width=theta_recipe.width,
            size=theta_recipe.size,
            crop_scale=theta_recipe.crop_scale,
            content=theta_recipe.content,
            batch_size=theta_prov["batch_size"],
            main_steps=theta["steps"],
            main_lr=theta["lr"],
            tuning_steps=blocks["steps"],
            tuning_lr=blocks["lr"],
        )
        return cls(
            recipe,
            Schedule(int(theta["steps"]), float(theta["lr"]), int(theta_prov["batch_size"]), int(theta_prov["seed"])),
            Schedule(
                int(blocks["steps"]), float(blocks["lr"]), int(blocks_prov["batch_size"]), int(blocks_prov["seed"])
            ),
            model=folder,
            vgg16=prov.get("vgg16_weights"),
        )

    def describe(self) -> dict[str, Any]:
        """Everything that decides the networks' weights (a run folder holds one experiment only)."""
        return {
            "recipe": self.recipe.to_dict(),
            "theta": asdict(self.theta),
            "blocks": asdict(self.blocks),
            "model": None if self.model is None else {"folder": str(self.model), "sha256": weights_sha256(self.model)},
            "vgg16": self.vgg16,
        }


def _trained_in(prov: Mapping[str, Any], phase: str, folder: Path) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The provenance, in a model folder's lineage (``init_from``), of the run that trained ``phase``, and that
    phase's record: a model made with ``--init-from`` got θ (or a block set) from an earlier run."""
    while prov:
        found = next((p for p in prov.get("phases", []) if p.get("name") == phase), None)
        if found is not None:
            return prov, found
        prov = prov.get("init_from", {}).get("provenance", {})
    raise DynamicNetError(
        f"{folder}: its provenance does not say how its {phase!r} phase was trained, so no "
        "network can be trained like it"
    )


@dataclass(frozen=True)
class Measure:
    """Where and how finely O_m is measured.

    ``photos``: held-out photos; ``crops``: crops per photo, drawn like the training crops (the recipe's size and
    crop scale) with ``seed``, run through the networks ``batch`` at a time; the contact sheets show
    ``sheet_photos`` of the photos at ``sheet_side`` px on their longer side.
    """

    photos: tuple[Path, ...]
    crops: int = 8
    seed: int = 1234
    sheet_photos: int = 3
    sheet_side: int = 512
    batch: int = 8


def alpha_grid(ms: Sequence[float]) -> list[float]:
    """α and t values measured: 0, 0.05, …, 1 and every m (α = m is one of the reported points)."""
    n = round(1 / GRID_STEP)
    return sorted({round(i / n, 6) for i in range(n + 1)} | {round(float(m), 6) for m in ms})


class ObjectiveSpaceInterrupted(DynamicNetError):
    """A training stopped on request with its checkpoint saved; running the same command again continues it."""

    exit_code = 130


def run_objective_space(
    experiment: Experiment,
    out: Path,
    ms: Sequence[float],
    measure: Measure,
    *,
    vgg: VGG16Features,
    data: Callable[[], tuple[Any, str]],
    device: torch.device,
    progress: bool | None = True,
    log: Callable[[str], None] = print,
    train_only: Sequence[float | str] | None = None,
) -> dict[str, Any]:
    """Train what ``out`` does not hold yet, measure, and write the report; return the results (results.json).

    ``ms``: the m values, each in (0, 1); m = 1 is always added (pixel blending's θ_1). ``vgg``: the VGG16 of the
    losses, on ``device``. ``data``: the training images and their description, asked for only when something
    trains. ``progress``: the trainings' step bars (None: only on a terminal). ``log``: one line per step of the
    plan. ``train_only``: train just these networks, in this order (m values in (0, 1], ``"dni"``), and return
    ``{"trained": [folders]}`` without measuring: several processes (cores, GPUs) can then share one run folder's
    training, each given other networks, and a last run without ``train_only`` measures.
    """
    from .objective_space_report import write_report

    ms = sorted({round(float(m), 6) for m in ms})
    bad = [m for m in ms if not 0 < m < 1]
    if bad or not ms:
        raise DynamicNetError(
            f"each m must be strictly between 0 and 1 (m = 0 is θ and m = 1 is always trained), got {bad or 'none'}",
            cli=f"--m: each value must be strictly between 0 and 1 "
            f"(m = 0 is θ, m = 1 is always trained), got {bad or 'none'}",
        )
    if experiment.vgg16 is not None and vgg.source != experiment.vgg16:
        raise DynamicNetError(
            f"{experiment.model} was trained with the VGG16 weights {experiment.vgg16!r}, not "
            f"{vgg.source!r}: its objectives would not be the ones it was trained for"
        )
    pieces = None if train_only is None else _pieces(train_only)
    out.mkdir(parents=True, exist_ok=True)
    _check_plan(out, experiment.describe())
    trainer = _Networks(experiment, out, vgg, data, device, progress, log)
    model = trainer.dynamic()
    if pieces is not None:
        return {"trained": [str(trainer.dni(model) if p == "dni" else trainer.dedicated(float(p))) for p in pieces]}
    folders = {m: trainer.dedicated(m) for m in [*ms, 1.0]}
    dni = trainer.dni(model)
    nets = LoadedNetworks.load(model, folders, dni, device)
    measurement = _measure_or_reuse(out, experiment, nets, measure, ms, vgg, device, log)
    results = summarise(experiment, measurement, ms)
    results["networks"] = {
        "dynamic": _network_record(model),
        "dni": _network_record(dni),
        "dedicated": {_key(m): _network_record(f) for m, f in folders.items()},
    }
    results["sheets"] = write_sheets(out, nets, results, measure, device)
    write_report(out, results)
    return results


def _pieces(items: Sequence[float | str]) -> list[float | str]:
    """``train_only``'s networks: m values in (0, 1] and ``"dni"``; anything else is refused before training."""
    pieces: list[float | str] = []
    for item in items:
        try:
            piece: float | str = item if item == "dni" else float(item)
        except ValueError:
            piece = str(item)
        if isinstance(piece, str) and piece != "dni" or isinstance(piece, float) and not 0 < piece <= 1:
            raise DynamicNetError(
                f"cannot train {item!r} on its own: give m values in (0, 1] or 'dni'",
                cli=f"--train-only: {item!r} is neither an m value in (0, 1] nor 'dni'",
            )
        pieces.append(piece)
    return pieces


def _check_plan(out: Path, plan: dict[str, Any]) -> None:
    """One run folder, one experiment: refuse to mix networks trained for different settings."""
    path = out / "plan.json"
    if path.is_file():
        held = json.loads(path.read_text(encoding="utf-8"))
        if held != json.loads(json.dumps(plan)):
            differ = sorted(k for k in plan if held.get(k) != json.loads(json.dumps(plan[k])))
            raise DynamicNetError(
                f"{out} holds an objective-space run with other settings ({', '.join(differ)}); choose another folder",
                cli=f"--output {out} holds an objective-space run with "
                f"other settings ({', '.join(differ)}); choose another output folder",
            )
        return
    atomic_write_text(path, json.dumps(plan, indent=2) + "\n")


def _key(m: float) -> str:
    return f"{m:g}"


def _network_record(folder: Path) -> dict[str, Any]:
    prov = read_config(folder).get("provenance", {})
    return {"folder": str(folder), "train_seconds": prov.get("train_seconds"), "device": prov.get("device")}


class _Networks:
    """Trains (or finds finished, or resumes) each network of the experiment under the run folder."""

    def __init__(
        self,
        experiment: Experiment,
        out: Path,
        vgg: VGG16Features,
        data: Callable[[], tuple[Any, str]],
        device: torch.device,
        progress: bool | None,
        log: Callable[[str], None],
    ) -> None:
        self.experiment, self.out, self.vgg, self.device = experiment, out, vgg, device
        self._data = data
        self._dataset: tuple[Any, str] | None = None
        self.progress, self.log = progress, log

    def dataset(self) -> tuple[Any, str]:
        if self._dataset is None:
            self._dataset = self._data()
        return self._dataset

    def dynamic(self) -> Path:
        """The Dynamic-Net model: the given folder, or θ and its blocks trained here from the recipe."""
        if self.experiment.model is not None:
            return self.experiment.model
        recipe = self.experiment.recipe

        def task() -> StyleTask:
            torch.manual_seed(self.experiment.theta.seed)  # θ's initial weights are part of what the seed fixes
            return StyleTask(
                build_model(recipe),
                recipe,
                self.vgg,
                self.device,
                data_description=self.dataset()[1],
                command=command_line(),
            )

        return self._train(
            "θ and its tuning blocks", self.out / "dynamic", task, recipe.phases(), self.experiment.theta
        )

    def dedicated(self, m: float) -> Path:
        """A network trained from scratch for O_m like θ: same initial weights, data order, steps and lr."""
        exp = self.experiment
        return self._train_point(
            f"the dedicated network for m = {m:g}",
            self.out / "dedicated" / f"m{_key(m)}",
            Phase("main", "main", exp.theta.steps, exp.theta.lr, objective=MIX, alpha=0.0),
            exp.theta,
            mix=m,
            record={"m": m, "O0": objective_record(exp.o0), "O1": objective_record(exp.o1)},
            description=f"dedicated network for O_m = (1 − m)·O0 + m·O1, m = {m:g} (no tuning blocks: α has no effect)",
        )

    def dni(self, model: Path) -> Path:
        """θ fine-tuned for O1 with the blocks' schedule: the far end of DNI's weight interpolation."""
        exp = self.experiment
        return self._train_point(
            "θ fine-tuned for O1 (DNI)",
            self.out / "dni",
            Phase("dni", "main", exp.blocks.steps, exp.blocks.lr, objective=HIGHER, alpha=0.0),
            exp.blocks,
            start=model,
            record={**objective_record(exp.o1), "fine_tuned_from": str(model)},
            description="DNI: θ fine-tuned for O1 (no tuning blocks: α has no effect)",
            lineage={"folder": str(model)},
        )

    def _train_point(
        self, what: str, folder: Path, phase: Phase, schedule: Schedule, start: Path | None = None, **point: Any
    ) -> Path:
        """A plain network (:class:`_PointTask`, ``point`` its arguments) trained in one ``phase`` from
        ``schedule``'s seed: from fresh weights, or from the θ of the model folder ``start``."""
        # Zero-initialised blocks: the folder loads like any style model, and α changes nothing.
        recipe = self.experiment.recipe.with_overrides(zero_init=True)

        def task() -> StyleTask:
            torch.manual_seed(schedule.seed)  # the initial weights are part of what the seed fixes
            net = build_model(recipe)
            if start is not None:
                net.main.load_state_dict(load_pretrained(start)[0].main.state_dict())
            return _PointTask(net, recipe, self.vgg, self.device, data_description=self.dataset()[1], **point)

        return self._train(what, folder, task, [phase], schedule)

    def _train(
        self, what: str, folder: Path, task: Callable[[], StyleTask], phases: list[Phase], schedule: Schedule
    ) -> Path:
        if (folder / CONFIG_NAME).is_file():
            self.log(f"reusing {what}: {folder}")
            return folder
        resume = (folder / "train" / "checkpoint.pt").is_file()
        steps = sum(p.steps for p in phases)
        self.log(f"{'resuming' if resume else 'training'} {what} ({steps} steps): {folder}")
        config = TrainerConfig(
            folder,
            batch_size=schedule.batch_size,
            seed=schedule.seed,
            device=self.device,
            log_every=25,
            checkpoint_every=100,
            progress=self.progress,
            resume=resume,
        )
        built = task()
        try:
            return Trainer(built, self.dataset()[0], phases, config).fit()
        except TrainingInterrupted:
            raise ObjectiveSpaceInterrupted(
                f"interrupted while training {what}; its checkpoint is in {folder}/train: "
                "run the same command again to continue (finished networks are "
                "reused)"
            ) from None


class _PointTask(StyleTask):
    """Trains the plain network (blocks off) for one point of the objective space: O_m (``mix`` = m, the phase's
    objective :data:`MIX`) for a dedicated network, O1 itself for DNI's fine-tuned θ. The model folder records
    that point as its only objective."""

    def __init__(self, *args: Any, record: Mapping[str, Any], mix: float | None = None, **task: Any) -> None:
        """``args`` and ``task``: :class:`StyleTask`'s (its ``command`` is this process's command line)."""
        super().__init__(*args, command=command_line(), **task)
        if mix is not None:
            self.losses[MIX] = ObjectiveMix(
                cast(PerceptualLoss, self.losses["main"]), cast(PerceptualLoss, self.losses[HIGHER]), mix
            )
        self.record = dict(record)

    def objective_records(self) -> dict[str, Any]:
        return {"main": self.record}


# ------------------------------------------------------------------------------------------------ measuring


@dataclass
class LoadedNetworks:
    """The networks being compared, in eval mode on one device."""

    dynamic: DynamicNet  # θ + blocks
    dedicated: dict[float, DynamicNet]  # m → its network (m = 1 included)
    dni: DynamicNet  # θ fine-tuned for O1
    digests: dict[str, str]  # name → SHA-256 of its weights: a measurement is reused only for the same networks

    @classmethod
    def load(cls, model: Path, dedicated: Mapping[float, Path], dni: Path, device: torch.device) -> LoadedNetworks:
        def net(folder: Path) -> DynamicNet:
            return load_pretrained(folder)[0].to(device).eval()

        folders = {"dynamic": model, "dni": dni, **{f"m={_key(m)}": f for m, f in dedicated.items()}}
        return cls(
            net(model),
            {m: net(f) for m, f in dedicated.items()},
            net(dni),
            {k: weights_sha256(f) for k, f in folders.items()},
        )

    def dni_at(self, t: float) -> DynamicNet:
        """DNI at ``t``: a network with the weights (1 − t)·θ + t·θ′. Instance norm keeps no running statistics, so
        every tensor of the state interpolates."""
        net = copy.deepcopy(self.dni)
        theta, tuned = self.dynamic.main.state_dict(), self.dni.main.state_dict()
        net.main.load_state_dict(
            {k: torch.lerp(theta[k], v, t) if v.is_floating_point() else v for k, v in tuned.items()}
        )
        return net

    def dynamic_at(self, alpha: float) -> Callable[[Tensor], Tensor]:
        """Dynamic-Net at ``alpha``."""
        return lambda x: self.dynamic(x, alpha=alpha)

    def pixel_blend(self, t: float) -> Callable[[Tensor], Tensor]:
        """(1 − t)·θ(x) + t·θ_1(x) of the delivered (clamped) images."""
        return lambda x: torch.lerp(self.dynamic(x).clamp(0, 1), self.dedicated[1.0](x).clamp(0, 1), t)


def held_out_crops(photos: Sequence[Path], size: int, scale: tuple[float, float], per_photo: int, seed: int) -> Tensor:
    """``per_photo`` square crops of each photo drawn like the training crops (area a uniform fraction ``scale``
    of the largest square, anywhere, flat crops redrawn) and resized to ``size``: ``(N, 3, size, size)``."""
    rng = np.random.default_rng(seed)
    crops = []
    for path in photos:
        image = load_image(path).rgb  # (3, H, W)
        for _ in range(per_photo):
            for _ in range(8):
                crop = random_square_crop(image, rng, size, scale)
                if float(crop.std()) >= FLAT_CROP_STD:
                    break
            crops.append(crop)
    return torch.stack(crops)


@torch.no_grad()
def _measure(
    nets: LoadedNetworks,
    mix: ObjectiveMix,
    crops: Tensor,
    grid: Sequence[float],
    ms: Sequence[float],
    batch: int,
    device: torch.device,
) -> dict[str, Any]:
    """The mean terms of every output family along the grid, and of each dedicated network."""

    def terms(run: Callable[[Tensor], Tensor]) -> dict[str, float]:
        sums = dict.fromkeys(TERMS, 0.0)
        for chunk in crops.split(batch):  # type: ignore[no-untyped-call]
            x = chunk.to(device)
            for k, v in mix.terms(run(x).clamp(0, 1), x).items():
                sums[k] += v.item() * len(chunk)  # batch means → a mean over all crops
        return {k: v / len(crops) for k, v in sums.items()}

    return {
        "grid": list(grid),
        "dynamic": [terms(nets.dynamic_at(a)) for a in grid],
        "pixel_blend": [terms(nets.pixel_blend(t)) for t in grid],
        "dni": [terms(nets.dni_at(t)) for t in grid],
        "dedicated": {_key(m): terms(nets.dedicated[m]) for m in [*ms, 1.0]},
    }


def _measure_or_reuse(
    out: Path,
    experiment: Experiment,
    nets: LoadedNetworks,
    measure: Measure,
    ms: Sequence[float],
    vgg: VGG16Features,
    device: torch.device,
    log: Callable[[str], None],
) -> dict[str, Any]:
    path = out / "measurement.json"
    grid = alpha_grid(ms)
    key = {
        "networks": nets.digests,
        "photos": [str(p) for p in measure.photos],
        "crops": measure.crops,
        "seed": measure.seed,
        "grid": grid,
        "vgg16": vgg.source,
        "size": experiment.recipe.size,
        "crop_scale": list(experiment.recipe.crop_scale),
    }
    if path.is_file():
        held = json.loads(path.read_text(encoding="utf-8"))
        if held.get("key") == key:
            log(f"reusing the measurement: {path}")
            return dict(held)
    crops = held_out_crops(
        measure.photos, experiment.recipe.size, experiment.recipe.crop_scale, measure.crops, measure.seed
    )
    log(
        f"measuring O_m on {len(crops)} held-out crops ({len(measure.photos)} photos), {len(grid)} values of α "
        "and t per method"
    )
    targets = StyleTargets(vgg)
    mix = ObjectiveMix(objective_loss(experiment.o0, targets), objective_loss(experiment.o1, targets))
    started = time.time()
    result = {
        "key": key,
        **_measure(nets, mix, crops, grid, ms, measure.batch, device),
        "crops_measured": len(crops),
        "seconds": round(time.time() - started, 1),
    }
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    return result


# ------------------------------------------------------------------------------------------------ results


def same_style_target(o0: StyleObjective, o1: StyleObjective) -> bool:
    """Whether O0 and O1 measure style against the same Gram matrices (they differ only in weights)."""
    return (o0.style, o0.style_size, dict(o0.style_layers)) == (o1.style, o1.style_size, dict(o1.style_layers))


def plane_axes(o0: StyleObjective, o1: StyleObjective) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two terms that trade off along the space, with axis labels: content and style when both objectives
    share the style target (a stylisation level), else the style terms of each (two styles)."""
    if same_style_target(o0, o1):
        return (
            ("content0", f"content loss ({o0.content_layer} MSE)"),
            ("style0", f"style loss ({o0.style}, layer-weighted Gram MSE)"),
        )
    return (("style0", f"style loss w.r.t. O0 ({o0.style})"), ("style1", f"style loss w.r.t. O1 ({o1.style})"))


def summarise(experiment: Experiment, measurement: Mapping[str, Any], ms: Sequence[float]) -> dict[str, Any]:
    """O_m ratios to the dedicated network per m, α*(m), the targets of docs/objective-space.md and the curves."""
    w0, w1 = weights_of(experiment.o0), weights_of(experiment.o1)
    grid = [float(a) for a in measurement["grid"]]

    def best(curve: Sequence[Mapping[str, float]], m: float, reference: float) -> dict[str, float]:
        values = [objective_value(t, w0, w1, m) for t in curve]
        i = int(np.argmin(values))
        return {"at": grid[i], "objective": values[i], "ratio": values[i] / reference}

    rows = []
    for m in [*ms, 1.0]:
        reference = objective_value(measurement["dedicated"][_key(m)], w0, w1, m)
        at_m = objective_value(measurement["dynamic"][grid.index(round(m, 6))], w0, w1, m)
        rows.append(
            {
                "m": m,
                "dedicated": reference,
                "dynamic_best": best(measurement["dynamic"], m, reference),
                "dynamic_at_m": {"at": m, "objective": at_m, "ratio": at_m / reference},
                "pixel_blend": best(measurement["pixel_blend"], m, reference),
                "dni": best(measurement["dni"], m, reference),
            }
        )
    inner = [r for r in rows if r["m"] != 1.0]
    alpha_star = [r["dynamic_best"]["at"] for r in rows]
    targets = {
        "within_5_percent": {
            "met": all(r["dynamic_best"]["ratio"] <= 1.05 for r in inner),
            "worst_ratio": max(r["dynamic_best"]["ratio"] for r in inner),
        },
        "beats_pixel_blend": {
            "met": all(r["dynamic_best"]["objective"] < r["pixel_blend"]["objective"] for r in inner),
            "margins": {_key(r["m"]): r["pixel_blend"]["ratio"] - r["dynamic_best"]["ratio"] for r in inner},
        },
        "alpha_star_monotone": {
            "met": all(a <= b for a, b in zip(alpha_star, alpha_star[1:])),
            "alpha_star": dict(zip([_key(r["m"]) for r in rows], alpha_star)),
        },
    }
    (x, xlabel), (y, ylabel) = plane_axes(experiment.o0, experiment.o1)
    curves = {
        name: [{"at": a, x: t[x], y: t[y]} for a, t in zip(grid, measurement[name])]
        for name in ("dynamic", "pixel_blend", "dni")
    }
    dedicated = [{"m": 0.0, x: measurement["dynamic"][0][x], y: measurement["dynamic"][0][y]}]  # θ: trained for O0
    dedicated += [
        {"m": r["m"], x: measurement["dedicated"][_key(r["m"])][x], y: measurement["dedicated"][_key(r["m"])][y]}
        for r in rows
    ]
    return {
        "experiment": experiment.describe(),
        "ms": list(ms),
        "rows": rows,
        "targets": targets,
        "plane": {"x": x, "y": y, "xlabel": xlabel, "ylabel": ylabel, "curves": curves, "dedicated": dedicated},
        "measurement": {
            "crops": measurement["crops_measured"],
            "photos": measurement["key"]["photos"],
            "grid_step": GRID_STEP,
            "seconds": measurement["seconds"],
        },
    }


@torch.no_grad()
def write_sheets(
    out: Path, nets: LoadedNetworks, results: Mapping[str, Any], measure: Measure, device: torch.device
) -> list[str]:
    """One contact sheet per m: photo | dedicated | Dynamic-Net at α* | pixel blend at t* | DNI at t*, one row per
    photo at ``measure.sheet_side`` px. Returns the files, relative to ``out``."""
    photos = [resize_max_side(load_image(p).rgb, measure.sheet_side) for p in measure.photos[: measure.sheet_photos]]
    written = []
    for row in results["rows"]:
        m = row["m"]
        if m == 1.0:
            continue  # pixel blending's t* = 1 is the dedicated network itself
        a, tb, td = row["dynamic_best"]["at"], row["pixel_blend"]["at"], row["dni"]["at"]
        runs = [nets.dedicated[m], nets.dynamic_at(a), nets.pixel_blend(tb), nets.dni_at(td)]
        tiles, labels = [], []
        for image in photos:
            x, pads = pad_to_multiple(image[None].to(device), 4)
            tiles += [image, *(unpad(run(x).clamp(0, 1), pads)[0].cpu() for run in runs)]
            labels += [
                "photo",
                f"dedicated m = {m:g}",
                f"Dynamic-Net α* = {a:g}",
                f"pixel blend t* = {tb:g}",
                f"DNI t* = {td:g}",
            ]
        name = f"sheets/m{_key(m)}.jpg"
        (out / "sheets").mkdir(exist_ok=True)
        save_image(make_contact_sheet(tiles, labels, ncols=5), out / name)
        written.append(name)
    return written


__all__ = [
    "GRID_STEP",
    "Experiment",
    "alpha_grid",
    "LoadedNetworks",
    "Measure",
    "ObjectiveMix",
    "ObjectiveSpaceInterrupted",
    "Schedule",
    "held_out_crops",
    "objective_value",
    "plane_axes",
    "run_objective_space",
    "same_style_target",
    "summarise",
    "weights_of",
    "write_sheets",
]
