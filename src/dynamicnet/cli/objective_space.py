"""``evaluate-objective-space`` (also spelt ``evaluate objective-space``): how close Dynamic-Net at its best α comes
to networks trained from scratch for the objectives in between, against pixel blending and DNI
(docs/objective-space.md).

The hyphenated name matches ``evaluate-style``, ``evaluate-completion`` and ``evaluate-dcgan``; the two-word
spelling is the one the experiment was specified with, and runs the same command.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DynamicNetError
from .common import add_output, content_dataset, finish_parser, float_list, positive_int, print_path, progress_of, seed

if TYPE_CHECKING:
    from ..apps.style.objective_space import Experiment

#: The bundled model that measures each built-in recipe's space when --model is not given.
BUNDLED = {"level": "starry-level", "two-style": "starry-graffiti"}
HELP = "O_m reached by Dynamic-Net's α vs networks trained for O_m, pixel blending and DNI (trains what it needs)"
DESCRIPTION = (
    "For each m, train a network from scratch for O_m = (1 − m)·O0 + m·O1 exactly as θ was trained (and one for "
    "m = 1, and θ fine-tuned for O1 for DNI), then measure O_m on held-out photos for Dynamic-Net at its best α "
    "and at α = m, pixel blending and DNI at their best t, and the dedicated network. Writes results.md, "
    "results.json, objective-space.png and a contact sheet per m into --output. Resumable: rerun the same command "
    "after an interruption; finished networks and measurements are reused."
)


def register(sub: argparse._SubParsersAction) -> None:
    _add_arguments(sub.add_parser("evaluate-objective-space", help=HELP, description=DESCRIPTION))
    group = sub.add_parser(
        "evaluate",
        help="evaluate objective-space (the other evaluations are evaluate-NAME)",
        description="Evaluations spelt as two words. evaluate-style, evaluate-completion and "
        "evaluate-dcgan are commands of their own.",
    )
    kinds = group.add_subparsers(dest="evaluation", metavar="EVALUATION", parser_class=type(group))
    kinds.required = True
    _add_arguments(kinds.add_parser("objective-space", help=HELP, description=DESCRIPTION))


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipe", default=None, help="built-in recipe (level, two-style) or JSON file; default: the model's, or level"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        default=None,
        help="Dynamic-Net model folder (or bundled name) whose θ and blocks to measure; its recipe, "
        f"seed and schedule set how the other networks train (default: {BUNDLED['level']} for "
        f"level, {BUNDLED['two-style']} for two-style)",
    )
    source.add_argument(
        "--train-model",
        action="store_true",
        help="train θ and its blocks too, from --recipe with --seed (into FOLDER/dynamic)",
    )
    p.add_argument(
        "--m",
        type=float_list,
        default=[0.25, 0.5, 0.75],
        metavar="M1,M2,...",
        help="the objectives (1 − m)·O0 + m·O1 to measure, each m in (0, 1); m = 1 is always added",
    )
    what = "the run folder: networks, measurement and report (what it holds is reused when rerun)"
    add_output(p, "FOLDER", what, out_alias=True)
    p.add_argument("--photos", nargs="*", default=None, help="held-out photos (default: the held-out set)")
    p.add_argument("--crops", type=positive_int, default=8, help="crops per photo, drawn like the training crops")
    p.add_argument(
        "--sheet-side",
        type=positive_int,
        default=512,
        metavar="PX",
        help="longer side of the contact sheets' photos (the training crops' scale)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=None,
        help="seed of θ and every network (--train-model only; with a model folder the seed is θ's)",
    )
    p.add_argument(
        "--vgg-weights",
        default=None,
        help="VGG16 of the losses (default: the offline weights; must be the ones the model was trained with)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="the whole pipeline at tiny sizes: 2 training steps per network on synthetic images, "
        "2 photos × 2 crops at 32², sheets at 64 px",
    )
    p.add_argument(
        "--train-only",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=None,
        metavar="ITEM,...",
        help="train only these networks (m values in (0, 1], 'dni') and stop without measuring, so that several "
        "processes share one run folder's training, each given other networks; then rerun without it to measure",
    )
    finish_parser(p, run_objective_space)


def _experiment(args: argparse.Namespace) -> Experiment:
    from ..apps.style.objective_space import Experiment
    from ..apps.style.recipe import load_recipe
    from ..models import resolve_model

    if args.train_model:
        return Experiment.from_recipe(load_recipe(args.recipe or "level"), 0 if args.seed is None else args.seed)
    if args.seed is not None:
        raise DynamicNetError(
            "--seed applies to --train-model only: with a model folder, every network is trained with θ's seed"
        )
    wanted = load_recipe(args.recipe).name if args.recipe else None
    model = args.model or BUNDLED.get(wanted or "level")
    if model is None:
        raise DynamicNetError(f"no bundled model for recipe {wanted!r}: pass --model FOLDER or --train-model")
    experiment = Experiment.from_model(resolve_model(model).resolve())
    if wanted is not None and experiment.recipe.name != wanted:
        raise DynamicNetError(f"--model {model} was trained with recipe {experiment.recipe.name!r}, not {wanted!r}")
    return experiment


def _tiny(experiment: Experiment) -> Experiment:
    """--dry-run: every network two steps on 32² crops, the style images at 64 px."""
    recipe = experiment.recipe
    sets = {k: replace(v, style_size=64) for k, v in recipe.sets.items()}
    recipe = recipe.with_overrides(
        main=replace(recipe.main, style_size=64), sets=sets, size=32, batch_size=2, main_steps=2, tuning_steps=2
    )
    # The VGG16 a model was trained with matters for real numbers only.
    return replace(
        experiment,
        recipe=recipe,
        theta=replace(experiment.theta, steps=2, batch_size=2),
        blocks=replace(experiment.blocks, steps=2, batch_size=2),
        vgg16=None,
    )


def run_objective_space(args: argparse.Namespace) -> int:
    from ..apps.style.objective_space import Measure
    from ..apps.style.objective_space import run_objective_space as run
    from ..data.assets import held_out_photos
    from ..losses import load_vgg16
    from .common import device_of

    experiment = _experiment(args)
    if args.dry_run:
        experiment = _tiny(experiment)
    photos = [Path(p) for p in args.photos] if args.photos else list(held_out_photos().values())
    if args.dry_run:
        measure = Measure(tuple(photos[:2]), crops=2, sheet_photos=1, sheet_side=64)
    else:
        measure = Measure(tuple(photos), crops=args.crops, sheet_side=args.sheet_side)
    device = device_of(args)
    vgg = load_vgg16(args.vgg_weights).to(device)

    def data() -> tuple[Any, str]:
        recipe = experiment.recipe
        return content_dataset(recipe.content, recipe.size, recipe.crop_scale, args.dry_run, experiment.theta.seed)

    out = Path(args.output)
    results = run(
        experiment,
        out,
        args.m,
        measure,
        vgg=vgg,
        data=data,
        device=device,
        progress=progress_of(args),
        train_only=args.train_only,
    )
    if args.train_only is not None:
        for folder in results["trained"]:
            print_path(Path(folder))
        return 0
    print(f"{'m':>5} {'α*':>5} {'at α*':>7} {'at α=m':>7} {'blend':>7} {'DNI':>7}   (O_m / dedicated network's)")
    for r in results["rows"]:
        print(
            f"{r['m']:>5g} {r['dynamic_best']['at']:>5g} {r['dynamic_best']['ratio']:>7.3f} "
            f"{r['dynamic_at_m']['ratio']:>7.3f} {r['pixel_blend']['ratio']:>7.3f} {r['dni']['ratio']:>7.3f}"
        )
    print_path(out / "results.md")
    return 0
