"""Dynamic-DCGAN subcommands: ``train dcgan``, ``train classifier``, ``generate``, ``evaluate-dcgan``."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DynamicNetError
from .common import (
    add_alphas,
    add_animation_args,
    add_model,
    add_output,
    add_phase_args,
    add_report_arg,
    add_run_args,
    add_step_args,
    alpha_walk,
    check_sheet_outputs,
    check_train_out,
    device_of,
    finish_parser,
    finish_train,
    finite_float,
    int_up_to,
    positive_int,
    progress_of,
    save_sheet_and_animation,
    seed,
    start_evaluation,
    trainer_config,
    write_report,
)

if TYPE_CHECKING:  # torch loads only when a command runs: --help and --version answer at once
    import torch
    from PIL import Image

    from ..apps.dcgan.evaluate import AlphaEvaluation

DEFAULT_MODEL = "fashion-sneaker-boot"
DATA_HELP = (
    "celeba:PATH (CelebA as distributed), fashion-mnist[:CLASS,CLASS] (Debian dataset-fashion-mnist; "
    "default pair sneaker,ankle_boot) or folder:PATH (images + PATH/labels.csv)"
)


def register(sub: argparse._SubParsersAction) -> None:
    """``generate`` and ``evaluate-dcgan`` (``train dcgan``/``train classifier``: :func:`register_train`)."""
    p = sub.add_parser(
        "generate",
        help="draw images from a dynamic DCGAN at one α, or a sweep over α",
        description="--alpha: a grid of N images. --alphas: rows = the same z, columns = α.",
    )
    add_model(p, DEFAULT_MODEL)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--alpha", type=finite_float, default=None, help="one α (default 1)")
    add_alphas(group, "a sweep: one column per α, e.g. 0,0.25,0.5,0.75,1")
    p.add_argument("--seed", type=seed, default=0, help="noise seed: the same seed gives the same images")
    p.add_argument("--n", type=int_up_to(1024), default=None, help="images (default 16; 8 rows for a sweep)")
    add_output(p, "FILE", "image file (.png/.jpg/…)")
    add_animation_args(p)
    p.add_argument(
        "--zoom",
        type=int_up_to(64),
        default=None,
        help="nearest-neighbour upscaling of each image (default: to at least 64 px)",
    )
    finish_parser(p, run_generate, engine=True)

    p = sub.add_parser(
        "evaluate-dcgan", help="attribute fraction and Fréchet distances along α (scored by the attribute classifier)"
    )
    add_model(p, DEFAULT_MODEL)
    p.add_argument("--classifier", default=None, help="folder with classifier.json (default: the model folder)")
    p.add_argument(
        "--data", default=None, help="real images to compare with (default: the model's training data, held-out split)"
    )
    p.add_argument("--labels", default=None, help="label CSV for --data folder:PATH")
    add_alphas(p, "the α values to score", [0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--n", type=positive_int, default=1000, help="generated images per α (the same z)")
    p.add_argument("--max-real", type=positive_int, default=2000, help="real images per subset, at most")
    p.add_argument("--seed", type=seed, default=0, help="noise seed (and the real images' sample)")
    add_report_arg(p, "the figures")
    finish_parser(p, run_evaluate)


def register_train(apps: argparse._SubParsersAction) -> None:
    """``train dcgan`` and ``train classifier`` under the ``train`` command."""
    p = apps.add_parser(
        "dcgan",
        help="dynamic DCGAN: θ on images with a = v, the tuning block on a ≠ v",
        description="Phase 1 trains the generator θ on the images whose --attribute equals "
        "--value (O0); phase 2 freezes θ and trains the tuning block against a "
        "fresh discriminator on the other images (O1).",
    )
    _add_data_args(p)
    p.add_argument(
        "--recipe",
        default=None,
        help="built-in recipe (reference: CelebA 64², small: 32² CPU scale) or JSON file "
        "(default: small for fashion-mnist, else reference)",
    )
    add_phase_args(p, blocks="the tuning block")
    p.add_argument("--image-size", type=positive_int, default=None, help="4·2^k: 32, 64 (reference), 128, …")
    p.add_argument("--ngf", type=positive_int, default=None, help="generator width (128 = reference)")
    p.add_argument("--ndf", type=positive_int, default=None, help="discriminator width (128 = reference)")
    p.add_argument(
        "--blocks",
        "--insertion-points",
        default=None,
        metavar="POINT,...",
        help="insertion points of the tuning blocks: generator submodules (default: two layers before "
        "the output, layer3 at 64², layer2 at 32²)",
    )
    p.add_argument("--zero-init", action="store_true", default=None, help="start the tuning block at ψ ≡ 0")
    p.add_argument("--batch-size", type=positive_int, default=None, help="images per step (default: the recipe's)")
    p.add_argument("--lr", type=finite_float, default=None, help="Adam learning rate (2e-4)")
    p.add_argument("--epochs", type=finite_float, default=None, help="epochs of each phase over its subset (20)")
    p.add_argument(
        "--main-epochs", type=finite_float, default=None, help="epochs of the main phase (overrides --epochs)"
    )
    p.add_argument(
        "--tuning-epochs", type=finite_float, default=None, help="epochs of the tuning phase (overrides --epochs)"
    )
    add_step_args(p, every="each phase (overrides epochs)")
    p.add_argument("--hflip", action="store_true", help="random horizontal flips (CelebA, folders)")
    p.add_argument("--description", default=None, help="one line shown by 'dynamicnet models'")
    add_run_args(p, checkpoint_every=500, sample_every=500)
    p.set_defaults(func=run_train_dcgan)

    p = apps.add_parser(
        "classifier",
        help="the attribute classifier that scores a dynamic DCGAN's samples",
        description="Trains a small CNN to tell the a ≠ v images (O1) from the a = v ones (O0), "
        "with balanced batches; writes classifier.json + classifier.safetensors.",
    )
    add_model(
        p,
        None,
        help="take --data, --attribute, --value and the image size from this dcgan model (bundled "
        "name or model folder)",
    )
    _add_data_args(p, data_default=None)
    p.add_argument("--image-size", type=positive_int, default=None, help="default: the model's, else 32")
    p.add_argument("--width", type=positive_int, default=16, help="first-layer width (features: 4×width)")
    p.add_argument("--steps", type=positive_int, default=600, help="training steps")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per step, half O0 and half O1")
    p.add_argument("--lr", type=finite_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=seed, default=0, help="seed of initialisation and data order")
    add_output(p, "FOLDER", "folder to write the classifier into (may be the model folder)", out_alias=True)
    p.add_argument("--dry-run", action="store_true", help="two steps on tiny synthetic data")
    finish_parser(p, run_train_classifier)


def _add_data_args(p: argparse.ArgumentParser, data_default: str | None = "fashion-mnist") -> None:
    p.add_argument("--data", default=data_default, help=DATA_HELP)
    p.add_argument("--labels", default=None, help="label CSV for folder:PATH (default PATH/labels.csv)")
    p.add_argument(
        "--attribute",
        default=None,
        help="attribute that splits the data (CelebA: one of its 40, e.g. Male; fashion-mnist: label)",
    )
    p.add_argument(
        "--value",
        default=None,
        help="θ learns the images with attribute = value, the tuning block the others "
        "(fashion-mnist default: the first class of the pair)",
    )


# ---------------------------------------------------------------------------------------------------- training
def _split_from_args(args: argparse.Namespace, size: int, role: str = "train", hflip: bool = False):
    """Open ``--data`` and split it by ``--attribute``/``--value`` (defaults where the source has them)."""
    from ..apps.dcgan.data import open_source, parse_data_spec, split_by_attribute

    spec = parse_data_spec(args.data)
    attribute = args.attribute or spec.default_attribute
    value = args.value if args.value is not None else spec.default_value
    if attribute is None or value is None:
        raise DynamicNetError(f"--data {args.data} needs --attribute and --value (e.g. --attribute Male --value 1)")
    source = open_source(spec, size, role=role, labels=args.labels, hflip=hflip)
    return spec, split_by_attribute(source, attribute, value)


def _recipe_from_args(args: argparse.Namespace):
    from ..apps.dcgan.recipe import load_recipe

    name = args.recipe or ("small" if args.data.strip().lower().startswith("fashion-mnist") else "reference")
    recipe = load_recipe(name)
    points = None
    if args.blocks:
        points = tuple(p.strip() for p in args.blocks.split(",") if p.strip())
    return recipe.with_overrides(
        image_size=args.image_size,
        ngf=args.ngf,
        ndf=args.ndf,
        insertion_points=points,
        zero_init=args.zero_init,
        batch_size=args.batch_size,
        lr=args.lr,
        main_epochs=args.main_epochs if args.main_epochs is not None else args.epochs,
        tuning_epochs=args.tuning_epochs if args.tuning_epochs is not None else args.epochs,
        main_steps=args.main_steps or args.steps,
        tuning_steps=args.tuning_steps or args.steps,
    )


def run_train_dcgan(args: argparse.Namespace) -> int:
    from ..apps.dcgan.data import SyntheticLabelled, split_by_attribute
    from ..apps.dcgan.train import train_dcgan
    from ..training import setup_distributed

    recipe = _recipe_from_args(args)
    check_train_out(args)
    device, _ = setup_distributed(device_of(args))
    if args.dry_run:
        # One real step of each phase through the real loop, losses and export, on tiny synthetic images.
        recipe = recipe.with_overrides(image_size=32, ngf=4, ndf=4, batch_size=2, main_steps=1, tuning_steps=1)
        split = split_by_attribute(SyntheticLabelled(8, 32, seed=args.seed), "label", "even")
        data_spec = "synthetic"
    else:
        spec, split = _split_from_args(args, recipe.image_size, hflip=args.hflip)
        data_spec = str(spec)
    description = args.description
    if description is None:
        from ..apps.dcgan.train import describe_split

        name = {"fashion-mnist": "Fashion-MNIST", "celeba": "CelebA"}.get(data_spec.split(":")[0], "")
        description = f"{name + ': ' if name else ''}{describe_split(split)}"
    config = trainer_config(args, recipe.batch_size, device)
    folder = train_dcgan(
        recipe,
        split,
        Path(args.output),
        phase=args.phase,
        init_from=Path(args.init_from) if args.init_from else None,
        config=config,
        data_description=split.source.description,
        data_spec=data_spec,
        description=description,
    )
    return finish_train(args, folder, only_theta=args.phase == "main", blocks="the tuning block")


def _model_defaults(args: argparse.Namespace) -> dict[str, Any]:
    """--data/--attribute/--value/--image-size recorded in a dcgan model folder (for classifier and evaluate)."""
    from ..core.checkpoint import read_config
    from ..models import resolve_model

    config = read_config(resolve_model(args.model))
    if config.get("application") != "dcgan":
        raise DynamicNetError(f"--model {args.model}: a {config.get('application')!r} model, not a dcgan one")
    extra = config.get("extra", {})
    return {
        "data": extra.get("data"),
        "attribute": extra.get("attribute"),
        "value": extra.get("value"),
        "image_size": config["architecture"]["kwargs"].get("image_size"),
    }


def run_train_classifier(args: argparse.Namespace) -> int:
    import time

    from ..apps.dcgan.classifier import assess, save_classifier, train_classifier
    from ..apps.dcgan.data import SyntheticLabelled, split_by_attribute
    from ..training.setup import command_line

    defaults = _model_defaults(args) if args.model else {}
    for key in ("data", "attribute", "value"):
        if getattr(args, key) is None:
            setattr(args, key, defaults.get(key))
    size = args.image_size or defaults.get("image_size") or 32
    device = device_of(args)
    started = time.time()
    if args.dry_run:
        split = split_by_attribute(SyntheticLabelled(8, 32, seed=args.seed), "label", "even")
        test, data, steps, batch = split, "synthetic", 2, 4
    else:
        if args.data is None:
            raise DynamicNetError("give --data (or --model, a dcgan model folder that records its data)")
        spec, split = _split_from_args(args, size)
        _, test = _split_from_args(args, size, role="test")
        data, steps, batch = str(spec), args.steps, args.batch_size
    model = train_classifier(
        split,
        steps=steps,
        batch_size=batch,
        lr=args.lr,
        width=args.width,
        seed=args.seed,
        device=device,
        progress=progress_of(args),
    )
    report = assess(model, test, seed=args.seed)
    folder = save_classifier(
        model.cpu(),
        args.output,
        split=split,
        data=data,
        report=report,
        provenance={
            "command": command_line(),
            "steps": steps,
            "batch_size": batch,
            "lr": args.lr,
            "seed": args.seed,
            "train_data": split.source.description,
            "held_out_data": test.source.description,
            "device": str(device),
            "train_seconds": round(time.time() - started, 1),
        },
    )
    print(
        f"classifier: {folder}  held-out balanced accuracy {report.accuracy:.3f} "
        f"(O1 rate on real O0 {report.o1_rate_on_main:.3f}, on real O1 {report.o1_rate_on_tuning:.3f})"
    )
    return 0


# --------------------------------------------------------------------------------------------------- inference
def _zoom(images, factor: int):
    import torch.nn.functional as F

    return images if factor == 1 else F.interpolate(images, scale_factor=factor, mode="nearest")


def run_generate(args: argparse.Namespace) -> int:
    from ..apps.dcgan.pipeline import DCGANPipeline
    from ..data.figures import image_grid, make_contact_sheet
    from ..data.io import DEFAULT_MAX_PIXELS

    check_sheet_outputs(args)
    pipe = DCGANPipeline.from_pretrained(args.model, device_of(args), engine=args.engine)
    zoom = args.zoom or max(1, math.ceil(64 / pipe.image_size))
    side = pipe.image_size * zoom
    pixels = (args.n or (16 if args.alphas is None else 8)) * side * side * len(args.alphas or [0])
    if pixels > DEFAULT_MAX_PIXELS:
        raise DynamicNetError(
            f"the sheet would hold {pixels / 1e6:.0f} MP (--n × ({pipe.image_size}·--zoom)² × "
            f"columns), more than {DEFAULT_MAX_PIXELS / 1e6:.0f} MP; lower --n or --zoom"
        )
    if args.alphas is None:
        alpha = 1.0 if args.alpha is None else args.alpha
        pipe.model.resolve_alpha(alpha)  # a bad α (e.g. negative without a "lower" set) fails before any work
        n = args.n or 16
        images = _zoom(pipe(n, alpha=alpha, seed=args.seed), zoom)
        sheet = image_grid(images, nrow=math.ceil(math.sqrt(n)))
        walk_end = alpha
    else:
        for a in args.alphas:
            pipe.model.resolve_alpha(a)
        n = args.n or 8
        columns = [
            image_grid(_zoom(x, zoom), nrow=1)
            for x in pipe.sweep(n, args.alphas, seed=args.seed, progress=progress_of(args))
        ]
        labels = [f"α = {a:g}" for a in args.alphas]
        sheet = make_contact_sheet(columns, labels, ncols=len(columns))
        walk_end = max(args.alphas)

    def draw(walk: list[float]) -> list[torch.Tensor]:
        drawn = pipe.sweep(n, walk, seed=args.seed, progress=progress_of(args))  # the same z at every α
        return [
            make_contact_sheet([image_grid(_zoom(x, zoom), nrow=math.ceil(math.sqrt(n)))], [f"α = {a:.2f}"])
            for a, x in zip(walk, drawn)
        ]

    frames = alpha_walk(min(args.alphas) if args.alphas else 0.0, walk_end, args.frames, draw) if args.gif else None
    save_sheet_and_animation(sheet, args.output, frames, args.gif)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..apps.dcgan.classifier import load_classifier
    from ..apps.dcgan.evaluate import evaluate_alphas
    from ..apps.dcgan.pipeline import DCGANPipeline
    from ..data.labels import normalise_value

    report, device, pipe = start_evaluation(args, DCGANPipeline)
    classifier, cconfig = load_classifier(args.classifier or args.model)
    extra = pipe.config.get("extra", {})
    args.data = args.data or extra.get("data")
    args.attribute, args.value = extra.get("attribute"), extra.get("value")
    if not args.data or args.attribute is None:
        raise DynamicNetError(f"{args.model}: the model does not record its data; pass --data")
    same = cconfig.get("attribute") == args.attribute and normalise_value(cconfig.get("value")) == normalise_value(
        args.value
    )
    if not same:
        raise DynamicNetError(
            f"the classifier was trained for {cconfig.get('attribute')} = "
            f"{cconfig.get('value')}, the model for {args.attribute} = {args.value}"
        )
    _, real = _split_from_args(args, pipe.image_size, role="test")
    result = evaluate_alphas(
        pipe,
        classifier.to(device),
        real,
        args.alphas,
        n=args.n,
        seed=args.seed,
        max_real=args.max_real,
        progress=progress_of(args),
    )
    print(f"{args.model}: {extra.get('description', '')}")
    print(f"{args.n} samples per α (seed {args.seed}); real: {real.source.description}")
    print(result.table())
    if report is not None:
        write_report(report, result.to_dict(), _evaluation_figure(result, f"{args.model}: {args.n} samples per α"))
    return 0


def _evaluation_figure(result: AlphaEvaluation, title: str) -> Image.Image:
    """evaluate-dcgan's plot: the O1 fraction and the Fréchet distances along α, against the real images'."""
    from ..data.plot import PALETTE, Series, alpha_panels, level

    alphas = [p.alpha for p in result.points]
    return alpha_panels(
        [
            (
                "O1 fraction",
                [
                    Series("generated", [(p.alpha, p.o1_fraction) for p in result.points]),
                    level("real O0 images", result.real_o1_rate_main, alphas, PALETTE[1]),
                    level("real O1 images", result.real_o1_rate_tuning, alphas, PALETTE[2]),
                ],
            ),
            (
                "Fréchet distance",
                [
                    Series("to real O0", [(p.alpha, p.fd_main) for p in result.points], PALETTE[1]),
                    Series("to real O1", [(p.alpha, p.fd_tuning) for p in result.points], PALETTE[2], marker="s"),
                    level("real O0 vs real O1", result.fd_real_main_tuning, alphas),
                ],
            ),
        ],
        title=title,
    )
