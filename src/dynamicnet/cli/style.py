"""Style-transfer subcommands: ``train style``, ``stylize``, ``sweep``, ``stylize-video``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DynamicNetError
from .common import (
    add_alphas,
    add_animation_args,
    add_crop_scale,
    add_model,
    add_output,
    add_phase_args,
    add_report_arg,
    add_run_args,
    add_step_args,
    alpha_walk,
    check_output,
    check_sheet_outputs,
    check_train_out,
    collect_inputs,
    content_dataset,
    crop_size,
    device_of,
    finish_parser,
    finish_train,
    finite_float,
    float_list,
    override,
    plan_batch_outputs,
    positive_int,
    print_path,
    progress_of,
    save_sheet_and_animation,
    start_evaluation,
    trainer_config,
    weight,
    write_report,
)

if TYPE_CHECKING:  # torch loads only when a command runs: --help and --version answer at once
    import torch


def register(sub: argparse._SubParsersAction) -> None:
    """``stylize``, ``sweep``, ``evaluate-style`` and ``stylize-video`` (``train style``: :func:`register_train`)."""
    p = sub.add_parser("stylize", help="stylise images (or folders of them) at a given α")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    add_model(p, "starry-level")
    p.add_argument("--alpha", type=finite_float, default=1.0, help="one α for every block")
    p.add_argument(
        "--block-alphas",
        type=float_list,
        default=None,
        metavar="A0,A1,...",
        help="one α per tuning block (overrides --alpha)",
    )
    add_output(
        p,
        "PATH",
        "output image file (one input image) or folder (<stem>.png each; a repeated stem gets -2, -3, …). A batch "
        "is all or nothing: if any input fails, no output is written",
    )
    p.add_argument(
        "--recursive",
        "-r",
        action="store_true",
        help="also the images in the subfolders of a folder INPUT, into the same subfolders of --output",
    )
    p.add_argument(
        "--max-side",
        type=positive_int,
        default=None,
        metavar="PX",
        help="downscale so the longer side ≤ PX (default: keep the input's size)",
    )
    _finish_stylize_parser(p, run_stylize)

    p = sub.add_parser("sweep", help="contact sheet (and animation) of one image across α")
    p.add_argument("input", metavar="INPUT", help="image file")
    add_model(p, "starry-level")
    add_alphas(p, "one column per α", [0, 0.25, 0.5, 0.75, 1.0])
    add_output(p, "FILE", "contact sheet image (.png/.jpg)")
    add_animation_args(p)
    p.add_argument("--max-side", type=positive_int, default=512, metavar="PX", help="downscale so the longer side ≤ PX")
    _finish_stylize_parser(p, run_sweep)

    p = sub.add_parser("evaluate-style", help="losses of a style model's outputs along α (held-out photos)")
    add_model(p, "starry-level")
    add_alphas(p, "the α values to measure", [0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--objective", default="higher", help="objective to measure against (main, higher, lower, …)")
    p.add_argument(
        "--photos", nargs="*", default=None, metavar="IMAGE", help="images to use (default: the held-out photos)"
    )
    p.add_argument("--size", type=positive_int, default=256, help="centre crops of SIZE² px")
    p.add_argument("--vgg-weights", default=None, help="torchvision-format VGG16 file (default: the offline weights)")
    add_report_arg(p, "the losses")
    finish_parser(p, run_evaluate_style)

    p = sub.add_parser("stylize-video", help="stylise a video with a fixed or animated α")
    p.add_argument("input", metavar="INPUT", help="video file")
    add_model(p, "starry-level")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--alpha", type=finite_float, default=None, help="one α for the whole video (default 1)")
    group.add_argument(
        "--alpha-keyframes",
        default=None,
        metavar="T:A,...",
        help="α at times in seconds, linearly interpolated, e.g. 0:0,5:1",
    )
    add_output(p, "FILE", "output video (.mp4)")
    p.add_argument(
        "--max-side",
        type=positive_int,
        default=None,
        metavar="PX",
        help="downscale so the longer side ≤ PX (default: keep the video's size)",
    )
    p.add_argument(
        "--max-frames", type=positive_int, default=None, metavar="N", help="stop after N frames (default: all)"
    )
    _finish_stylize_parser(p, run_stylize_video)


def _finish_stylize_parser(p: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]) -> None:
    """``--work-side`` and the options of every inference command, last in each command that stylises."""
    p.add_argument(
        "--work-side",
        type=work_side_arg,
        default=-1,
        metavar="PX",
        help="longer side the network runs at; larger images are stylised there and upscaled, so strokes "
        "keep their size relative to the picture (default: the model's, 512 for the bundled models; "
        "0 = full resolution)",
    )
    finish_parser(p, run, engine=True)


def network_width(text: str) -> int | tuple[int, int, int]:
    """``--width``: one positive integer, or three (full, half and quarter resolution)."""
    parts = text.split(",")
    if len(parts) not in (1, 3):
        raise argparse.ArgumentTypeError(f"expected W or FULL,HALF,QUARTER, got {text!r}")
    values = [positive_int(part.strip()) for part in parts]
    return values[0] if len(values) == 1 else (values[0], values[1], values[2])


def register_train(apps: argparse._SubParsersAction) -> None:
    """``train style``, under the shared ``train`` subcommand."""
    p = apps.add_parser(
        "style",
        help="dynamic style transfer",
        description="Train θ for O0, then the tuning blocks for O1 (and O−1 for dual recipes).",
    )
    p.add_argument("--recipe", default="level", help="built-in recipe (level, two-style, scale, dual) or JSON file")
    p.add_argument("--style", default=None, help="style image of O0 (name or path)")
    p.add_argument("--tuning-style", default=None, help="style image of O1 (defaults to --style)")
    p.add_argument("--style-weight", type=weight, default=None, help="λs of O0")
    p.add_argument("--tuning-style-weight", type=weight, default=None, help="λs of O1")
    p.add_argument("--lower-style-weight", type=weight, default=None, help="λs of O−1 (dual recipes)")
    p.add_argument("--content-weight", type=weight, default=None, help="λc of every objective")
    p.add_argument("--style-size", type=positive_int, default=None, help="shorter side of the O0 style image")
    p.add_argument("--tuning-style-size", type=positive_int, default=None, help="shorter side of the O1 style image")
    p.add_argument(
        "--data",
        "--content",
        default=None,
        help="content image folder (recursive; COCO works as is), 'large' (the registry photo set the "
        "bundled models used) or 'default' (20 registry photos); default: the recipe's",
    )
    add_phase_args(p, init_from="model folder whose θ (and shared block sets) to start from")
    p.add_argument("--tuning-sets", default=None, help="comma-separated block sets to train (default: all)")
    p.add_argument("--size", type=crop_size, default=None, help="training crop size (a multiple of 4, ≥ 16)")
    add_crop_scale(p, " (with --size it sets the scale strokes are learnt at)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="images per step (default: the recipe's)")
    add_step_args(p)
    p.add_argument(
        "--width",
        type=network_width,
        default=None,
        metavar="W|FULL,HALF,QUARTER",
        help="θ's channels: W for W, 2W and 4W at full, half and quarter resolution (32 = reference), or the "
        "three counts (e.g. 8,16,48)",
    )
    p.add_argument(
        "--blocks",
        default=None,
        metavar="POINT,...",
        help="insertion points of the tuning blocks (default res3,up1,out; e.g. 'out' for one block "
        "in front of the linear output, which makes α changes nearly free)",
    )
    add_run_args(p, checkpoint_every=100, sample_every=200)
    p.add_argument("--vgg-weights", default=None, help="torchvision-format VGG16 file, or 'random' (tests only)")
    p.set_defaults(func=run_train_style)


def _recipe_from_args(args: argparse.Namespace):
    from ..apps.style.recipe import HIGHER, LOWER, load_recipe

    recipe = load_recipe(args.recipe)
    style, weight = args.style or None, args.content_weight
    main = override(
        recipe.main, style=style, style_weight=args.style_weight, style_size=args.style_size, content_weight=weight
    )
    if args.lower_style_weight is not None and LOWER not in recipe.sets:
        raise DynamicNetError("--lower-style-weight needs a dual recipe (--recipe dual)")
    flags = {
        HIGHER: {
            "style": args.tuning_style or style,
            "style_weight": args.tuning_style_weight,
            "style_size": args.tuning_style_size,
        },
        LOWER: {"style": style, "style_weight": args.lower_style_weight},
    }
    sets = {k: override(v, content_weight=weight, **flags.get(k, {})) for k, v in recipe.sets.items()}
    steps = {"main_steps": args.main_steps or args.steps, "tuning_steps": args.tuning_steps or args.steps}
    points = tuple(p.strip() for p in args.blocks.split(",") if p.strip()) if args.blocks else None
    changed = []
    for name, old, new in [("main", recipe.main, main), *((k, recipe.sets[k], v) for k, v in sets.items())]:
        before, after = old.describe(), new.describe()
        changed += [
            f"{name} {key} {value:g}" if isinstance(value, float) else f"{name} {key} {value}"
            for key, value in after.items()
            if before[key] != value
        ]
    return recipe.with_overrides(
        main=main,
        sets=sets,
        # the recipe's one-line description names its objectives: say what the flags made of them
        description=f"{recipe.description} (changed by flags: {', '.join(changed)})" if changed else None,
        size=args.size,
        batch_size=args.batch_size,
        crop_scale=args.crop_scale,
        width=args.width,
        insertion_points=points,
        **steps,
    )


def run_train_style(args: argparse.Namespace) -> int:
    from ..apps.style.recipe import HIGHER
    from ..apps.style.train import train_style
    from ..training import setup_distributed

    recipe = _recipe_from_args(args)
    check_train_out(args)
    device, _ = setup_distributed(device_of(args))
    if args.dry_run:
        # One real step of every phase, on tiny synthetic images, through the real loop, losses and export.
        recipe = recipe.with_overrides(size=32, batch_size=2, main_steps=1, tuning_steps=1)
    dataset, description = content_dataset(
        args.data or recipe.content, recipe.size, recipe.crop_scale, args.dry_run, args.seed
    )
    config = trainer_config(args, recipe.batch_size, device)
    folder = train_style(
        recipe,
        dataset,
        Path(args.output),
        phase=args.phase,
        init_from=Path(args.init_from) if args.init_from else None,
        tuning_sets=args.tuning_sets.split(",") if args.tuning_sets else None,
        vgg_weights=args.vgg_weights,
        config=config,
        data_description=description,
        preview=preview(args, recipe.size),
    )
    return finish_train(args, folder, only_theta=HIGHER not in recipe.sets and args.phase == "main")


def preview(args: argparse.Namespace, size: int) -> torch.Tensor | None:
    """The photos a style ``train`` command stylises every ``--sample-every`` steps: two held-out photos as
    ``size``² centre crops ``(2, 3, S, S)``; none in a dry run."""
    import torch

    from ..data.assets import held_out_photos
    from ..data.geometry import resize_max_side, square_crop
    from ..data.io import load_image

    if not args.sample_every or args.dry_run:
        return None
    photos = list(held_out_photos().values())[:2]
    return torch.stack([square_crop(resize_max_side(load_image(p).rgb, 2 * size), size) for p in photos])


def work_side_arg(text: str) -> int | None:
    """``--work-side``: a positive number of pixels, or 0 for full resolution (None)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of pixels (0 = full resolution), got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0 (0 = full resolution), got {value}")
    if 0 < value < 16:
        raise argparse.ArgumentTypeError(f"must be at least 16 px (or 0 = full resolution), got {value}")
    return value or None


def _alpha_from_args(args: argparse.Namespace, pipe) -> object:
    if args.block_alphas is not None:
        if len(args.block_alphas) != pipe.num_blocks:
            raise DynamicNetError(
                f"--block-alphas has {len(args.block_alphas)} values but the model has {pipe.num_blocks} blocks"
            )
        return args.block_alphas
    return args.alpha


def run_stylize(args: argparse.Namespace) -> int:
    import contextlib

    from ..apps.style.pipeline import StylePipeline
    from ..data.geometry import resize_max_side
    from ..data.io import SAVE_FORMATS, load_image, save_image
    from ..utils.fs import atomic_path
    from ..utils.progress import progress as progress_bar

    output = Path(args.output)
    # "out.v2/" names a folder whatever its suffix; "out.png" names a file unless such a folder exists.
    to_file = bool(output.suffix) and not output.is_dir() and not args.output.endswith(("/", os.sep))
    found = collect_inputs(args.inputs, args.recursive, skip=None if to_file else output)
    inputs = [src for src, _ in found]
    if to_file:
        if len(inputs) > 1 or any(Path(p).is_dir() for p in args.inputs):
            what = f"{len(inputs)} inputs need" if len(inputs) > 1 else "a folder input needs"
            raise DynamicNetError(f"{what} --output to be a folder, not {output}")
        targets = [check_output(output, SAVE_FORMATS, inputs=inputs)]
    else:
        targets = plan_batch_outputs(inputs, output, subfolders=[sub for _, sub in found])
    pipe = StylePipeline.from_pretrained(args.model, device_of(args), engine=args.engine)
    alpha = _alpha_from_args(args, pipe)
    pipe.model.resolve_alpha(alpha)  # an α outside the model's usable range fails before any work
    # Every folder the batch would create (the subfolders of --recursive and their parents), deepest first.
    created = sorted(
        {d for t in targets for d in (t.parent, *t.parent.parents) if not d.exists()},
        key=lambda d: len(d.parts),
        reverse=True,
    )
    try:
        # All or nothing: every result goes to a temporary file beside its target and all are renamed into
        # place only once the last input has been stylised.
        with contextlib.ExitStack() as stack:
            pairs = list(zip(inputs, targets))
            for path, target in progress_bar(
                pairs,
                desc="stylize",
                total=len(pairs),
                unit="image",
                enabled=False if len(pairs) == 1 else progress_of(args),
            ):
                image = load_image(path)
                out = pipe(image.rgb, alpha=alpha, max_side=args.max_side, work_side=args.work_side)
                alpha_mask = image.alpha
                if alpha_mask is not None and args.max_side is not None:
                    alpha_mask = resize_max_side(alpha_mask, args.max_side)
                save_image(out, stack.enter_context(atomic_path(target)), alpha=alpha_mask)
    except BaseException:
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()  # only if empty: a folder this command made and filled with nothing
        raise
    for target in targets:
        print_path(target)
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from ..apps.style.pipeline import StylePipeline
    from ..data.figures import make_contact_sheet
    from ..data.io import load_image

    check_sheet_outputs(args, inputs=[args.input])
    image = load_image(args.input).rgb
    pipe = StylePipeline.from_pretrained(args.model, device_of(args), engine=args.engine)
    for a in args.alphas:
        pipe.model.resolve_alpha(a)

    def sweep(alphas: list[float]) -> list[torch.Tensor]:
        return pipe.sweep(image, alphas, max_side=args.max_side, work_side=args.work_side, progress=progress_of(args))

    sheet = make_contact_sheet(sweep(args.alphas), [f"α = {a:g}" for a in args.alphas])
    frames = alpha_walk(min(args.alphas), max(args.alphas), args.frames, sweep) if args.gif else None
    save_sheet_and_animation(sheet, args.output, frames, args.gif)
    return 0


def run_evaluate_style(args: argparse.Namespace) -> int:
    from ..apps.style.evaluate import alpha_curve
    from ..apps.style.pipeline import StylePipeline
    from ..data.assets import held_out_photos
    from ..data.plot import PALETTE, Series, alpha_panels
    from ..losses import load_vgg16

    report, device, pipe = start_evaluation(args, StylePipeline)
    if args.objective not in pipe.config.get("objectives", {}):
        raise DynamicNetError(f"objective {args.objective!r} not in the model's {sorted(pipe.config['objectives'])}")
    photos = [Path(p) for p in args.photos] if args.photos else list(held_out_photos().values())
    vgg = load_vgg16(args.vgg_weights).to(device)
    curve = alpha_curve(
        pipe, photos, args.alphas, vgg, objective=args.objective, size=args.size, progress=progress_of(args)
    )
    print(f"{args.model}: losses w.r.t. objective {args.objective!r} over {len(photos)} photos at {args.size}²")
    print(f"{'alpha':>7} {'style':>12} {'content':>12}")
    for p in curve:
        print(f"{p.alpha:>7g} {p.style:>12.4g} {p.content:>12.4g}")
    if report is not None:
        data = {
            "model": args.model,
            "objective": args.objective,
            "size": args.size,
            "photos": [str(p) for p in photos],
            "curve": [asdict(p) for p in curve],
        }
        figure = alpha_panels(
            [
                (f"style loss w.r.t. {args.objective}", [Series("style", [(p.alpha, p.style) for p in curve])]),
                ("content loss", [Series("content", [(p.alpha, p.content) for p in curve], PALETTE[1])]),
            ],
            title=f"{args.model}: losses along α ({len(photos)} photos at {args.size}²)",
        )
        write_report(report, data, figure)
    return 0


def run_stylize_video(args: argparse.Namespace) -> int:
    from ..apps.style.pipeline import StylePipeline
    from ..apps.style.video import parse_keyframes, stylize_video

    keyframes = (
        parse_keyframes(args.alpha_keyframes)
        if args.alpha_keyframes is not None
        else [(0.0, 1.0 if args.alpha is None else args.alpha)]
    )
    pipe = StylePipeline.from_pretrained(args.model, device_of(args), engine=args.engine)
    for _, a in keyframes:
        pipe.model.resolve_alpha(a)
    n = stylize_video(
        pipe,
        Path(args.input),
        Path(args.output),
        keyframes,
        max_side=args.max_side,
        max_frames=args.max_frames,
        work_side=args.work_side,
        progress=progress_of(args),
    )
    print_path(args.output, f" ({n} frames)")
    return 0
