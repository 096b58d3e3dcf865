"""Image-completion subcommands: ``train completion``, ``complete``, ``evaluate-completion``,
``calibrate-completion``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DynamicNetError
from .common import (
    add_alphas,
    add_crop_scale,
    add_model,
    add_output,
    add_phase_args,
    add_report_arg,
    add_run_args,
    add_step_args,
    check_output,
    check_train_out,
    crop_size,
    device_of,
    finish_parser,
    finish_train,
    finite_float,
    override,
    positive_int,
    print_path,
    progress_of,
    seed,
    start_evaluation,
    to_fp16,
    trainer_config,
    weight,
    write_report,
)

if TYPE_CHECKING:  # torch loads only when a command runs: --help and --version answer at once
    from PIL import Image

    from ..apps.completion.evaluate import CompletionEval

DEFAULT_MODEL = "completion-photos"
MASK_CHOICES = ("center", "random", "strokes", "mixed")


def _alpha_or_auto(text: str) -> float | str:
    """argparse type: a finite number, or ``auto``."""
    return "auto" if text.strip().lower() == "auto" else finite_float(text, "a number or 'auto'")


def register(sub: argparse._SubParsersAction) -> None:
    """``complete`` and ``evaluate-completion`` (``train completion`` is added by :func:`register_train`)."""
    p = sub.add_parser(
        "complete",
        help="fill a hole in an image at a given α (or auto), or a strip across α",
        description="Fill the hole of INPUT. The mask is the centre square (half the shorter "
        "side) or a PNG of the image's size in which white = hole, black = known. "
        "Known pixels are kept exactly; the output has the input's size.",
    )
    p.add_argument("input", metavar="INPUT", help="image file")
    add_model(p, DEFAULT_MODEL)
    p.add_argument("--mask", default="center", help="'center' or a mask image (white = hole), same size as INPUT")
    p.add_argument("--hole", type=positive_int, default=None, help="side of the centre hole in px (default: half)")
    p.add_argument(
        "--alpha",
        type=_alpha_or_auto,
        default=None,
        help="α in [0, 1] (0 = the main network's objective, 1 = the blocks'; `dynamicnet info MODEL` "
        "says which is smooth and which sharp), 'auto' (chosen per image); "
        "default: the model's best global α",
    )
    add_alphas(p, "write a contact sheet: the input, then the fill at each α (and at auto if --alpha auto)")
    add_output(p, "FILE", "output image (PNG keeps known pixels bit for bit)")
    p.add_argument(
        "--max-side",
        type=positive_int,
        default=None,
        help="cap the longer side of each hole's working window at PX (the working scale is otherwise "
        "chosen per hole: holes are filled as deep as the model's training holes)",
    )
    p.add_argument("--vgg-weights", default=None, help="VGG16 for --alpha auto (default: the offline weights)")
    finish_parser(p, run_complete, engine=True)

    p = sub.add_parser(
        "evaluate-completion", help="PSNR, SSIM and VGG distance in the hole along α; per-image oracle and auto α"
    )
    add_model(p, DEFAULT_MODEL)
    add_alphas(p, "the α values to measure", [round(0.1 * i, 1) for i in range(11)])
    p.add_argument(
        "--photos", nargs="*", default=None, metavar="IMAGE", help="images to crop from (default: the held-out photos)"
    )
    p.add_argument("--crops", type=positive_int, default=8, help="random crops per photo")
    p.add_argument("--size", type=positive_int, default=None, help="crop side (default: the model's training size)")
    p.add_argument("--hole", type=positive_int, default=None, help="centre hole side (default: the model's)")
    p.add_argument("--seed", type=seed, default=1234, help="seed of the crop positions")
    p.add_argument("--no-auto", action="store_true", help="skip the auto-α evaluation")
    add_report_arg(p, "the per-image results")
    p.add_argument("--vgg-weights", default=None, help="torchvision-format VGG16 file (default: the offline weights)")
    finish_parser(p, run_evaluate_completion)

    p = sub.add_parser(
        "calibrate-completion",
        help="fit --alpha auto on photos with ground truth; writes the model folder",
        description="Fit the model's auto α and store it in MODEL/config.json: a critic that "
        "predicts each α's distance to the truth from the fills (default; fitted on "
        "crops of training photos), or the proxy-hole criterion's calibration (fitted "
        "on photos that are neither training nor held-out images).",
    )
    add_model(p, None, required=True, help="model folder to calibrate (rewrites its config.json)")
    p.add_argument(
        "--method",
        choices=["critic", "proxy"],
        default="critic",
        help="critic (default) or proxy (see docs/completion.md)",
    )
    p.add_argument(
        "--photos",
        nargs="*",
        default=None,
        metavar="IMAGE",
        help="photos to crop from (default: 40 training photos for the critic, the calibration photos "
        "of docs/completion.md for proxy)",
    )
    p.add_argument("--crops", type=positive_int, default=None, help="random crops per photo (default: 8 / 20)")
    p.add_argument("--seed", type=seed, default=777, help="seed of the photo choice and crop positions")
    p.add_argument("--vgg-weights", default=None, help="torchvision-format VGG16 file (default: the offline weights)")
    finish_parser(p, run_calibrate_completion)


def register_train(apps: argparse._SubParsersAction) -> None:
    """``train completion``, under the shared ``train`` subcommand."""
    p = apps.add_parser(
        "completion",
        help="dynamic image completion",
        description="Train θ for the recipe's O0, then the tuning blocks for its O1 (photos: "
        "L1 + VGG + SSIM, detailed → L1, smooth).",
    )
    p.add_argument("--recipe", default="photos", help="built-in recipe (photos, celeba) or JSON file")
    p.add_argument(
        "--data",
        default=None,
        help="'large' (the registry photo set the bundled model used), 'default' (20 registry photos), "
        "an image folder (random crops), or celeba:PATH (aligned CelebA faces; PATH holds "
        "img_align_celeba/); default: the recipe's",
    )
    add_crop_scale(p, " (sets the scale holes are learnt at)")
    p.add_argument("--mask", choices=MASK_CHOICES, default=None, help="training masks (default: the recipe's)")
    p.add_argument("--hole", type=positive_int, default=None, help="centre hole side (default: size/2)")
    add_phase_args(p)
    p.add_argument("--size", type=crop_size, default=None, help="training crop size (a multiple of 4, ≥ 16)")
    p.add_argument("--width", type=positive_int, default=None, help="first-stage width of θ")
    p.add_argument("--adv-weight", type=weight, default=None, help="λ_adv of O0")
    p.add_argument("--perceptual-weight", type=weight, default=None, help="λ_perc of O0 (needs VGG16)")
    p.add_argument("--tuning-adv-weight", type=weight, default=None, help="λ_adv of O1")
    p.add_argument("--tuning-perceptual-weight", type=weight, default=None, help="λ_perc of O1 (needs VGG16)")
    p.add_argument("--tuning-texture-weight", type=weight, default=None, help="λ_tex of O1 (needs VGG16)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="images per step (default: the recipe's)")
    add_step_args(p)
    add_run_args(p, checkpoint_every=100, sample_every=250)
    p.add_argument("--vgg-weights", default=None, help="torchvision-format VGG16 file, or 'random' (tests only)")
    p.set_defaults(func=run_train_completion)


# ---------------------------------------------------------------------------------------------- training


def _recipe_from_args(args: argparse.Namespace):
    from ..apps.completion.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    return recipe.with_overrides(
        main=override(recipe.main, adversarial_weight=args.adv_weight, perceptual_weight=args.perceptual_weight),
        tuning=override(
            recipe.tuning,
            adversarial_weight=args.tuning_adv_weight,
            perceptual_weight=args.tuning_perceptual_weight,
            texture_weight=args.tuning_texture_weight,
        ),
        size=args.size,
        hole=args.hole,
        mask=args.mask,
        width=args.width,
        crop_scale=args.crop_scale,
        batch_size=args.batch_size,
        main_steps=args.main_steps or args.steps,
        tuning_steps=args.tuning_steps or args.steps,
    )


def _dataset(spec: str, recipe: Any, seed: int) -> tuple[Any, str]:
    """The image source named by ``--data`` and its description (for the model's provenance)."""
    from ..data.assets import content_dir
    from ..data.folder import FLAT_CROP_STD, ImageFolderDataset

    if spec.startswith("celeba:"):
        from ..data.celeba import CelebA

        root = spec.split(":", 1)[1]
        try:
            faces = CelebA(root, size=recipe.size, crop=140, partition="train", hflip=True)
        except DynamicNetError as exc:
            if "list_eval_partition" not in str(exc):
                raise
            faces = CelebA(root, size=recipe.size, crop=140, partition="all", hflip=True)
        return faces, faces.description
    folder = content_dir(spec)
    images = ImageFolderDataset(folder, recipe.size, scale=tuple(recipe.crop_scale), seed=seed, min_std=FLAT_CROP_STD)
    what = "registry photos" if spec in ("default", "large") else "images"
    return images, (
        f"{folder} ({len(images)} {what}, {recipe.size}² random crops of area "
        f"{recipe.crop_scale[0]:g}–{recipe.crop_scale[1]:g} of the largest square)"
    )


def run_train_completion(args: argparse.Namespace) -> int:
    import torch

    from ..apps.completion.train import train_completion
    from ..data.folder import SyntheticImageDataset
    from ..data.masks import MaskedImageDataset, center_mask
    from ..training import setup_distributed

    recipe = _recipe_from_args(args)
    if recipe.hole_side >= recipe.size:
        raise DynamicNetError(f"--hole {recipe.hole_side} must be smaller than --size {recipe.size}")
    check_train_out(args)
    device, _ = setup_distributed(device_of(args))
    if args.dry_run:
        # One real step of every phase on tiny synthetic images: the real loop, losses, masks and export.
        recipe = recipe.with_overrides(
            size=32,
            hole=None if args.hole is None or args.hole >= 32 else args.hole,
            batch_size=2,
            main_steps=1,
            tuning_steps=1,
        )
        images, description = SyntheticImageDataset(8, recipe.size, seed=args.seed), "synthetic (dry run)"
    else:
        images, description = _dataset(args.data or recipe.data, recipe, args.seed)
    dataset = MaskedImageDataset(images, recipe.mask, recipe.hole)
    description += f"; masks: {recipe.mask} (centre hole {recipe.hole_side}²)"
    preview = None
    if args.sample_every > 0 and not args.dry_run:
        shots = torch.stack([images[i % len(images)] for i in range(4)])  # fixed per-index crops
        mask = center_mask(recipe.size, recipe.size, recipe.hole)
        preview = (shots, mask.expand(len(shots), 1, -1, -1).clone())
    config = trainer_config(args, recipe.batch_size, device)
    folder = train_completion(
        recipe,
        dataset,
        Path(args.output),
        phase=args.phase,
        init_from=Path(args.init_from) if args.init_from else None,
        vgg_weights=args.vgg_weights,
        config=config,
        data_description=description,
        preview=preview,
    )
    return finish_train(args, folder, only_theta=args.phase == "main", fp16=_to_fp16)


def _to_fp16(folder: Path) -> None:
    """``--fp16``: the shared conversion of the model, then the discriminator stored beside it."""
    import torch

    from ..apps.completion.model import PatchDiscriminator
    from ..apps.completion.train import load_discriminator_state, save_discriminator
    from ..core.checkpoint import read_config

    to_fp16(folder)
    state = load_discriminator_state(folder)
    if state is not None:
        disc = PatchDiscriminator(int(read_config(folder)["extra"]["discriminator"]["width"]))
        disc.load_state_dict(state)
        save_discriminator(disc, folder, dtype=torch.float16)


# ---------------------------------------------------------------------------------------------- inference


def run_complete(args: argparse.Namespace) -> int:
    from ..apps.completion.pipeline import CompletionPipeline
    from ..data.figures import make_contact_sheet
    from ..data.io import SAVE_FORMATS, load_image, save_image
    from ..data.masks import check_mask, load_mask

    inputs = [args.input] + ([args.mask] if args.mask not in MASK_CHOICES else [])
    output = check_output(args.output, SAVE_FORMATS, inputs=inputs)  # fail before any work, not after
    loaded = load_image(args.input)
    image = loaded.rgb  # (3, H, W)
    h, w = image.shape[-2:]
    device = device_of(args)
    pipe = CompletionPipeline.from_pretrained(args.model, device, max_side=args.max_side, engine=args.engine)
    if args.mask == "center":
        mask = pipe.default_mask(h, w, args.hole)
    else:
        if args.hole is not None:
            raise DynamicNetError("--hole applies to the centre mask only; a mask file defines its own hole")
        mask = load_mask(args.mask, size=(h, w))
    mask = check_mask(mask, h, w, source=str(args.mask))
    alpha = pipe.default_alpha if args.alpha is None else args.alpha
    if alpha == "auto":
        from ..apps.completion.metrics import PERCEPTUAL_TAPS
        from ..losses import load_vgg16

        pipe.vgg = load_vgg16(args.vgg_weights, taps=PERCEPTUAL_TAPS).to(device)
        alpha = pipe.auto_alpha(image, mask, progress=progress_of(args))
        print(f"auto alpha: {alpha:g}")
    if args.alphas is None:
        out = pipe(image, mask, alpha=alpha)
        save_image(out, output, alpha=loaded.alpha)
    else:
        alphas = list(args.alphas)
        fills = pipe.sweep(image, mask, alphas, progress=progress_of(args))
        tiles = [pipe.show_hole(image, mask), *fills]
        labels = ["input", *[f"α = {a:g}" for a in alphas]]
        if args.alpha == "auto":
            tiles.append(pipe(image, mask, alpha=alpha))
            labels.append(f"auto α = {alpha:g}")
        save_image(make_contact_sheet(tiles, labels), output)
    print_path(output)
    return 0


def run_evaluate_completion(args: argparse.Namespace) -> int:
    from ..apps.completion.evaluate import evaluate_alphas, held_out_crops, summarize
    from ..apps.completion.metrics import PERCEPTUAL_TAPS
    from ..apps.completion.pipeline import CompletionPipeline
    from ..losses import load_vgg16

    report, device, pipe = start_evaluation(args, CompletionPipeline)
    size = args.size or int(pipe.config.get("extra", {}).get("size", 64))
    photos = [Path(p) for p in args.photos] if args.photos else None
    images = held_out_crops(photos, size=size, per_photo=args.crops, seed=args.seed)
    vgg = load_vgg16(args.vgg_weights, taps=PERCEPTUAL_TAPS).to(device)
    pipe.vgg = vgg
    hole = args.hole or pipe.default_hole(size, size)
    result = evaluate_alphas(
        pipe, images, args.alphas, vgg, hole=hole, auto=not args.no_auto, progress=progress_of(args)
    )
    title = f"{args.model}: {len(images)} held-out {size}² crops, centre hole {hole}²"
    print(summarize(result, title))
    if report is not None:
        write_report(report, result.to_dict(), _evaluation_figure(result, title))
    return 0


def _evaluation_figure(result: CompletionEval, title: str) -> Image.Image:
    """evaluate-completion's plot: each metric's mean over the crops along α, against the per-image oracle's and
    auto α's (dashed)."""
    from ..data.plot import PALETTE, Series, alpha_panels, level

    curve = result.curve()
    alphas = [row["alpha"] for row in curve]
    auto = {"perceptual": result.auto_perceptual, "psnr": result.auto_psnr, "ssim": result.auto_ssim}
    panels = []
    for key, name in (
        ("perceptual", "VGG distance in the hole (lower is better)"),
        ("psnr", "PSNR in the hole, dB"),
        ("ssim", "SSIM in the hole"),
    ):
        series = [Series("mean over the crops", [(row["alpha"], row[key]) for row in curve])]
        if key == "perceptual":
            series.append(level("per-image oracle α", result.oracle()[1], alphas, PALETTE[1]))
        if auto[key] is not None:
            series.append(level("auto α", float(auto[key].mean()), alphas, PALETTE[2]))
        panels.append((name, series))
    return alpha_panels(panels, title=title)


def run_calibrate_completion(args: argparse.Namespace) -> int:
    import json

    from ..apps.completion.evaluate import (
        calibrate_auto_alpha,
        calibration_photos,
        fit_auto_critic,
        held_out_crops,
        training_photo_groups,
        write_calibration,
    )
    from ..apps.completion.metrics import PERCEPTUAL_TAPS
    from ..apps.completion.pipeline import CompletionPipeline
    from ..losses import load_vgg16
    from ..models import resolve_model

    device = device_of(args)
    folder = resolve_model(args.model)
    pipe = CompletionPipeline.from_pretrained(folder, device)
    extra = pipe.config.get("extra", {})
    size = int(extra.get("size", 64))
    critic = args.method == "critic"
    crops = args.crops or (8 if critic else 20)
    if args.photos:
        photos = [Path(p) for p in args.photos]
    else:
        photos = training_photo_groups(seed=args.seed) if critic else calibration_photos()
    # Crops like the training crops (the recipe's area range), one group per photo for cross-validation.
    scale = tuple(pipe.config.get("provenance", {}).get("recipe", {}).get("crop_scale", (0.02, 1.0)))
    groups = [
        held_out_crops([p], size=size, per_photo=crops, scale=scale, seed=args.seed + k) for k, p in enumerate(photos)
    ]
    pipe.vgg = load_vgg16(args.vgg_weights, taps=PERCEPTUAL_TAPS).to(device)
    source = f"{len(photos)} photos × {crops} crops, seed {args.seed}"
    fit = fit_auto_critic if critic else calibrate_auto_alpha
    calibration, report = fit(
        pipe, groups, pipe.vgg, hole=pipe.default_hole(size, size), source=source, progress=progress_of(args)
    )
    write_calibration(folder, calibration)
    print(json.dumps(report, indent=2))
    print(f"auto α ({args.method}) written to {folder}: prior α {calibration.prior_alpha:g}")
    return 0
