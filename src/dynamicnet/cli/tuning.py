"""``train tuning``: tuning blocks, and so a slider, on a network someone else trained.

θ is imported as it is (an ONNX file, a TorchScript file, or ``module:Class`` with safetensors weights) and stays
frozen; only the blocks train, for the objective of a task's recipe. The model folder references θ's file by
path and SHA-256 instead of storing it (see :mod:`dynamicnet.imports.theta` for why), and loads like any other.

A task is what the blocks learn. Each has an entry in :data:`TASKS`: a function that reads its recipe and flags,
trains the blocks on the wrapped θ and writes the model folder. Style (the recipe's "higher" objective, e.g.
λs 2e5 of Starry Night) is the first; docs/upgrade.md says what another needs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DynamicNetError
from .common import (
    add_crop_scale,
    add_run_args,
    check_train_out,
    content_dataset,
    crop_size,
    device_of,
    finish_train,
    float_list,
    positive_int,
    trainer_config,
    weight,
)

if TYPE_CHECKING:  # torch loads only when the command runs: --help stays instant
    import torch

    from ..imports import ImportedMain, InsertionPoint


def register_train(apps: argparse._SubParsersAction) -> None:
    """``train tuning``, under the shared ``train`` subcommand."""
    p = apps.add_parser(
        "tuning",
        help="add a slider to a network someone else trained (tuning blocks on a frozen θ)",
        description="Import NETWORK as θ, frozen as it is, and train tuning blocks at --blocks (named as "
        "`dynamicnet inspect NETWORK` lists them) for the objective of the task's recipe. θ takes and "
        "gives images in the ranges and channel order declared by the flags below, else by the ONNX "
        "file's metadata (dynamicnet.input_range, dynamicnet.output_range, dynamicnet.channel_order), "
        "else [0, 1] RGB; the output range is checked on the first batch. The model folder references "
        "NETWORK by path and SHA-256 and does not store it; it loads only while that file is unchanged.",
    )
    p.add_argument(
        "--main",
        required=True,
        metavar="NETWORK",
        help="FILE.onnx, a TorchScript file, or module:Class (with --weights)",
    )
    p.add_argument("--weights", default=None, metavar="FILE.safetensors", help="the state dict for module:Class")
    p.add_argument(
        "--blocks",
        required=True,
        metavar="POINT,...",
        help="insertion points, as `dynamicnet inspect NETWORK` names them (e.g. Add_2/out)",
    )
    p.add_argument(
        "--fixed-input",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="a value for an input besides the image, repeated per input: onehot:K, I:V,I:V,… (0 "
        "elsewhere), V0,V1,… (every entry) or one number (e.g. style_weights=onehot:7)",
    )
    p.add_argument(
        "--input-range",
        type=value_range,
        default=None,
        metavar="LO,HI",
        help="the range θ's image input spans (default: the file's metadata, else 0,1)",
    )
    p.add_argument(
        "--output-range",
        type=value_range,
        default=None,
        metavar="LO,HI",
        help="the range θ's output spans, e.g. -1,1 after a tanh (default: the file's metadata, else 0,1)",
    )
    p.add_argument(
        "--channel-order",
        choices=["rgb", "bgr"],
        default=None,
        help="θ's channel order, of input and output (default: the file's metadata, else rgb)",
    )
    p.add_argument("--task", choices=sorted(TASKS), default="style", help="what the blocks learn (default: style)")
    p.add_argument(
        "--recipe",
        default="level",
        help="the task's built-in recipe or JSON file; its tuning objective is what the blocks learn "
        "(style: level, two-style, scale, dual; its O0 plays no part: θ is trained already)",
    )
    p.add_argument("--style", default=None, help="style image of every block set's objective (name or path)")
    p.add_argument("--style-weight", type=weight, default=None, help="λs of O1 (the recipe's 'higher' set)")
    p.add_argument("--style-size", type=positive_int, default=None, help="shorter side of the style image")
    p.add_argument("--content-weight", type=weight, default=None, help="λc of every block set's objective")
    p.add_argument(
        "--data",
        "--content",
        default=None,
        help="content image folder (recursive), 'large' or 'default' (registry photo sets); default: the recipe's",
    )
    p.add_argument("--size", type=crop_size, default=None, help="training crop size (a multiple of 4, ≥ 16)")
    add_crop_scale(p)
    p.add_argument("--batch-size", type=positive_int, default=None, help="images per step (default: the recipe's)")
    p.add_argument("--steps", type=positive_int, default=None, help="steps of every block set (default: the recipe's)")
    add_run_args(p, checkpoint_every=100, sample_every=200)
    p.add_argument("--vgg-weights", default=None, help="torchvision-format VGG16 file, or 'random' (tests only)")
    p.set_defaults(func=run_train_tuning)


def value_range(text: str) -> tuple[float, float]:
    """argparse type: ``LO,HI`` with LO < HI."""
    values = float_list(text)
    if len(values) != 2 or values[0] >= values[1]:
        raise argparse.ArgumentTypeError(f"expected LO,HI with LO < HI, got {text!r}")
    return (values[0], values[1])


def run_train_tuning(args: argparse.Namespace) -> int:
    from ..imports import ImportedMain, source_sha256

    check_train_out(args)
    names = [n.strip() for n in args.blocks.split(",") if n.strip()]
    if not names:
        raise DynamicNetError(f"--blocks {args.blocks!r} names no insertion point")
    if "" not in sys.path and os.getcwd() not in sys.path:  # module:Class from the current folder, as python -m finds
        sys.path.insert(0, os.getcwd())
    main = ImportedMain(
        args.main,
        source_sha256(args.main, args.weights),
        args.weights,
        input_range=args.input_range,
        output_range=args.output_range,
        channel_order=args.channel_order,
        fixed_inputs=args.fixed_input,
    )
    folder = TASKS[args.task](args, main, names)
    return finish_train(args, folder)


def _points(args: argparse.Namespace, main: ImportedMain, names: list[str], size: int) -> list[InsertionPoint]:
    """The insertion points, checked; a note for each that a skip connection bypasses in part."""
    from ..imports.theta import insertion_points

    points = insertion_points(main, names, (size, size))
    for name, point in zip(names, points):
        if not point.cut:
            print(
                f"note: at {name} some of the activation reaches later layers without passing the block (a skip "
                f"connection or a second reader); `dynamicnet inspect {args.main} --all` marks the points where "
                "it cannot"
            )
    return points


def _first_batch(dataset: Any, batch_size: int, seed: int) -> torch.Tensor:
    """The dataset's first images ``(B, 3, S, S)``, cropped with the run's seed: the output-range check's batch."""
    import numpy as np
    import torch

    return torch.stack([dataset.get(i, np.random.default_rng([seed, i])) for i in range(min(len(dataset), batch_size))])


def _tune_style(args: argparse.Namespace, main: ImportedMain, names: list[str]) -> Path:
    """The blocks learn the style recipe's block-set objectives; samples and the working side as ``train style``."""
    from ..apps.style.recipe import load_recipe
    from ..apps.style.train import train_style_blocks
    from ..core.dynamic import HIGHER
    from ..training import setup_distributed
    from .style import preview

    recipe = load_recipe(args.recipe)
    if args.style_weight is not None and HIGHER not in recipe.sets:
        raise DynamicNetError(
            f"--style-weight sets λs of the {HIGHER!r} block set, which recipe {args.recipe!r} "
            f"does not have (its sets: {', '.join(recipe.sets)})"
        )
    sets = {}
    for name, obj in recipe.sets.items():
        changes = {"style": args.style, "style_size": args.style_size, "content_weight": args.content_weight}
        if name == HIGHER:
            changes["style_weight"] = args.style_weight
        sets[name] = replace(obj, **{k: v for k, v in changes.items() if v is not None})
    recipe = recipe.with_overrides(
        sets=sets, size=args.size, batch_size=args.batch_size, crop_scale=args.crop_scale, tuning_steps=args.steps
    )
    device, _ = setup_distributed(device_of(args))
    if args.dry_run:
        # One real step of every block set, on tiny synthetic images, through the real loop, losses and export.
        recipe = recipe.with_overrides(size=32, batch_size=2, tuning_steps=1)
    dataset, description = content_dataset(
        args.data or recipe.content, recipe.size, recipe.crop_scale, args.dry_run, args.seed
    )
    points = _points(args, main, names, recipe.size)
    recipe = recipe.with_overrides(insertion_points=tuple(p.name for p in points))
    main.check_output_range(_first_batch(dataset, recipe.batch_size, args.seed))
    goals = "; ".join(
        f"{name}: {Path(obj.style).stem.replace('_', ' ')} at λs {obj.style_weight:g}"
        for name, obj in recipe.sets.items()
    )
    return train_style_blocks(
        main,
        [p.channels for p in points],
        recipe,
        dataset,
        Path(args.output),
        architecture=main.spec(),
        record=main.provenance,
        description=f"{main.describe()} with tuning blocks for {goals}",
        vgg_weights=args.vgg_weights,
        config=trainer_config(args, recipe.batch_size, device),
        data_description=description,
        preview=preview(args, recipe.size),
    )


#: What the blocks can learn, by ``--task``: ``(args, θ, insertion point names) → model folder``.
TASKS: dict[str, Callable[[argparse.Namespace, ImportedMain, list[str]], Path]] = {"style": _tune_style}
