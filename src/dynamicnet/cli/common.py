"""Argument types and options shared by subcommands."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import DynamicNetError

if TYPE_CHECKING:  # torch loads only when a command runs: --help and --version answer at once
    import torch
    from PIL import Image

    from ..apps.pipeline import Pipeline

#: Old spellings that still work so that existing scripts and commands keep running, but that the help leaves out,
#: so that each concept has one name on screen: ``--out`` (now ``--output``/``-o``, what every command writes),
#: ``--content`` (now ``--data``, what training reads), ``--insertion-points`` (now ``--blocks``) and ``--json FILE``
#: of the evaluate commands (now ``--output``; ``--json`` alone means "print as JSON" elsewhere).
HIDDEN_ALIASES = frozenset({"--out", "--content", "--insertion-points", "--json"})

_N = TypeVar("_N", int, float)
_P = TypeVar("_P", bound="Pipeline")


def finite_float(text: str, expected: str = "a number") -> float:
    """argparse type: a finite number (α, weights); ``expected`` is what a refusal says was wanted."""
    value = _number(text, float, expected)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite: {text!r}")
    return value


def float_list(text: str) -> list[float]:
    """argparse type: comma-separated finite numbers, e.g. ``0,0.25,0.5``."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return [finite_float(p.strip()) for p in parts]


def weight(text: str) -> float:
    """argparse type: a loss weight, finite and ≥ 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0: {text!r}")
    return value


def seed(text: str) -> int:
    """argparse type: a random seed, 0 … 2³²−1 (what NumPy and every device generator accept)."""
    try:
        value = int(text.strip()) if "_" not in text else -1
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and {2**32 - 1}: {text!r}")
    return value


def int_up_to(limit: int):
    """argparse type factory: a whole number 1 … ``limit`` (counts and factors that size an output)."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit}: {text!r}")
        return value

    parse.__name__ = f"int_up_to_{limit}"
    return parse


def crop_scale_arg(text: str) -> tuple[float, float]:
    """``--crop-scale LO,HI`` with 0 < LO ≤ HI ≤ 1."""
    values = float_list(text)
    if len(values) != 2 or not (0.0 < values[0] <= values[1] <= 1.0):
        raise argparse.ArgumentTypeError(f"expected LO,HI with 0 < LO ≤ HI ≤ 1, got {text!r}")
    return (values[0], values[1])


def add_crop_scale(parser: argparse.ArgumentParser, why: str = "") -> None:
    """``--crop-scale LO,HI`` of a ``train`` command that crops photos; ``why`` ends its help."""
    help = f"crop area as a fraction of the largest square of a photo{why}"
    parser.add_argument("--crop-scale", type=crop_scale_arg, default=None, metavar="LO,HI", help=help)


def crop_size(text: str) -> int:
    """argparse type: a training crop side, a multiple of 4 and at least 16 (the networks halve the size twice
    and reflect-pad by 4 px at full resolution)."""
    value = positive_int(text)
    if value < 16 or value % 4:
        raise argparse.ArgumentTypeError(f"must be a multiple of 4 and at least 16: {text!r}")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1: {text!r}")
    return value


def _number(text: str, kind: Callable[[str], _N], expected: str) -> _N:
    """``kind(text)``, or argparse's error naming what was ``expected``. Python-only spellings (``1_0``) are not
    numbers here."""
    try:
        if "_" in text:
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {expected}: {text!r}") from None


def check_output(
    path: str | os.PathLike[str],
    formats: Sequence[str],
    flag: str = "--output",
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse a bad output file before any work is done, so a failing command writes nothing.

    The extension must be one of ``formats``; the path must not be a folder, must not be one of ``inputs`` (no
    command ever writes over its own input), and its folder must exist and be writable or be creatable.
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    if p.suffix.lower() not in formats:
        raise DynamicNetError(
            f"{flag} {p}: unsupported extension {p.suffix or '(none)'!r}; use one of {', '.join(formats)}"
        )
    if p.is_dir():
        raise DynamicNetError(f"{flag} {p}: is a directory")
    for src in inputs:
        if _same_file(p, Path(src)):
            raise DynamicNetError(f"{flag} {p}: is the input {src}; it would be overwritten (choose another output)")
    _check_writable_dir(p.parent, flag, p)
    return p


def check_sheet_outputs(args: argparse.Namespace, inputs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """``--output`` (a contact sheet) and ``--gif`` (its animation), refused before any work when bad (an empty
    ``--gif`` included), so that :func:`save_sheet_and_animation` can write both."""
    from ..data.animation import ANIMATION_FORMATS
    from ..data.io import SAVE_FORMATS

    check_output(args.output, SAVE_FORMATS, inputs=inputs)
    if args.gif is not None:
        check_output(args.gif, ANIMATION_FORMATS, "--gif", inputs=[*inputs, args.output])


def save_sheet_and_animation(
    sheet: Any, output: str | os.PathLike[str], frames: Sequence[Any] | None, gif: str | os.PathLike[str] | None
) -> None:
    """Write a contact sheet and, when ``frames`` is given, its animation: both files or neither (each goes to a
    temporary file beside its target, renamed into place only when both are complete); then print their paths."""
    import contextlib

    from ..data.animation import save_animation
    from ..data.io import save_image
    from ..utils.fs import atomic_path

    with contextlib.ExitStack() as stack:
        save_image(sheet, stack.enter_context(atomic_path(output)))
        if frames is not None and gif is not None:
            save_animation(frames, stack.enter_context(atomic_path(gif)), duration_ms=80)
    print_path(output)
    if frames is not None and gif is not None:
        print_path(gif)


def alpha_walk(lo: float, hi: float, frames: int, draw: Callable[[list[float]], list[Any]]) -> list[Any]:
    """An animation's frames: ``draw`` renders the α walk from ``lo`` to ``hi`` in ``frames`` steps, and the walk
    back repeats those images (the two ends once)."""
    walk = [lo + (hi - lo) * i / (frames - 1) for i in range(frames)] if frames > 1 else [hi]
    there = draw(walk)
    return there + there[-2:0:-1]


def add_output(parser: argparse.ArgumentParser, metavar: str, help: str, out_alias: bool = False) -> None:
    """``--output``/``-o``, what every command writes (``--out``: a hidden old spelling, see :data:`HIDDEN_ALIASES`)."""
    flags = ("--output", "-o", "--out") if out_alias else ("--output", "-o")
    parser.add_argument(*flags, required=True, metavar=metavar, help=help)


def add_report_arg(parser: argparse.ArgumentParser, what: str) -> None:
    """An ``evaluate-*`` command's optional report: ``--output``/``-o``/``--json FILE.json`` (``what`` it holds),
    with the plot against α beside it (:func:`check_report`, :func:`write_report`)."""
    parser.add_argument(
        "--output",
        "-o",
        "--json",
        default=None,
        metavar="FILE.json",
        help=f"also write {what} to this JSON file, and their plot against α beside it (FILE.png)",
    )


def check_report(path: str | os.PathLike[str]) -> Path:
    """An ``evaluate-*`` command's ``--output FILE.json``, checked before the work together with the plot it gets
    beside it (``FILE.png``: see :func:`write_report`)."""
    report = check_output(path, (".json",))
    check_output(report.with_suffix(".png"), (".png",))
    return report


def start_evaluation(args: argparse.Namespace, pipeline: type[_P]) -> tuple[Path | None, torch.device, _P]:
    """The start of an ``evaluate-APP`` command: its ``--output`` (:func:`check_report`), checked before minutes of
    work rather than after; the device; and ``--model``, loaded as ``pipeline`` on it."""
    report = check_report(args.output) if args.output else None
    device = device_of(args)
    return report, device, pipeline.from_pretrained(args.model, device)


def write_report(report: Path, data: Mapping[str, Any], figure: Image.Image) -> None:
    """Write an evaluation's figures to ``report`` (JSON) and their plot against α (a PIL image) beside it as
    ``report`` with ``.png``: both files or neither, as :func:`save_sheet_and_animation`; then print both paths."""
    import contextlib
    import json

    from ..utils.fs import atomic_path

    plot = report.with_suffix(".png")
    with contextlib.ExitStack() as stack:
        stack.enter_context(atomic_path(report)).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        figure.save(stack.enter_context(atomic_path(plot)), format="PNG")
    print_path(report)
    print_path(plot)


def print_path(path: str | os.PathLike[str], suffix: str = "") -> None:
    """Print a written file's path on stdout, byte for byte: a file name that is not valid in the terminal's
    encoding (Latin-1 bytes under a UTF-8 locale) must neither crash the command after its work is done nor be
    printed differently from the name on disk."""
    data = os.fsencode(os.fspath(path)) + suffix.encode("utf-8", "backslashreplace") + b"\n"
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a text-only stdout (some embedders): the best faithful text form
        print(os.fsdecode(data[:-1]).encode("utf-8", "backslashreplace").decode("utf-8"))
        return
    sys.stdout.flush()
    stream.write(data)
    stream.flush()


def collect_inputs(
    paths: Sequence[str | os.PathLike[str]], recursive: bool = False, skip: Path | None = None
) -> list[tuple[Path, Path]]:
    """The image files named by ``paths``, each with the subfolder of the output folder its result goes to.

    A file is taken as it is (into the output folder itself). A folder gives its images, sorted by name, skipping
    hidden files; with ``recursive`` also those of its subfolders, whose results go to the same subfolders of the
    output, so a tree of photos comes back as the same tree. Files under ``skip`` (the output folder, when it lies
    inside an input folder) are left out, so a second run does not stylise the first run's results (``skip`` equal
    to the input folder itself leaves that folder's images in: the output plan then refuses any that would be
    overwritten). A file named twice is done once.

    Raises:
        DynamicNetError: a folder without images (naming ``--recursive`` when its subfolders have some).
    """
    from ..data.folder import find_images
    from ..data.io import IMAGE_EXTENSIONS

    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(os.path.expanduser(os.fspath(given)))
        if not path.is_dir():
            pairs = [(path, Path())]  # a missing or unreadable file fails when it is read, with its name
        else:
            inner = skip if skip is not None and skip.resolve() != path.resolve() else None
            everything = [p for p in find_images(path) if inner is None or not _is_under(p, inner)]
            images = everything if recursive else [p for p in everything if p.parent == path]
            if not images:
                hint = (
                    f"; its subfolders have {len(everything)}: add --recursive"
                    if everything
                    else f" ({', '.join(IMAGE_EXTENSIONS)})"
                )
                raise DynamicNetError(f"{path}: no images in this folder{hint}")
            pairs = [(p, p.parent.relative_to(path)) for p in images]
        for src, sub in pairs:
            key = src.resolve()
            if key not in seen:
                seen.add(key)
                found.append((src, sub))
    return found


def _is_under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def plan_batch_outputs(
    inputs: Sequence[Path], out_dir: Path, ext: str = ".png", subfolders: Sequence[Path] | None = None
) -> list[Path]:
    """``<out_dir>/<subfolder>/<stem><ext>`` for each input, made unique (``<stem>-2<ext>``, …) when stems repeat
    in one folder (``a.jpg a.png``, or one name in two folders); refuses a plan that would overwrite any input.

    Repeats are numbered rather than refused: ``stylize x/*.jpg x/*.png`` and ``stylize a/ b/`` are ordinary
    batches, every result is kept, and stdout lists the results in the order of the inputs, so which is which
    stays clear. Names depend only on the inputs, so a rerun replaces its own earlier results instead of piling up
    new copies.
    """
    targets: list[Path] = []
    taken: set[tuple[Path, str]] = set()
    for src, sub in zip(inputs, subfolders or [Path()] * len(inputs)):
        name, n = f"{src.stem}{ext}", 1
        while (sub, name.lower()) in taken:
            n += 1
            name = f"{src.stem}-{n}{ext}"
        taken.add((sub, name.lower()))
        targets.append(out_dir / sub / name)
    # One lookup per target, not a comparison with every input: a folder batch can hold thousands of photos.
    # (A result is renamed into place, so a hard link to an input would be replaced, never written through.)
    sources = {src.resolve(): src for src in inputs}
    for target in targets:
        if target.resolve() in sources:
            raise DynamicNetError(
                f"--output {out_dir}: would write {target.name} over the input "
                f"{sources[target.resolve()]} (choose another output folder)"
            )
    _check_writable_dir(out_dir, "--output", out_dir)
    return targets


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _check_writable_dir(folder: Path, flag: str, shown: Path) -> None:
    d = folder if str(folder) else Path(".")
    while not d.exists() and d != d.parent:  # the nearest existing ancestor must let us create the rest
        d = d.parent
    if not d.is_dir():
        raise DynamicNetError(f"{flag} {shown}: {d} is not a folder")
    if not os.access(d, os.W_OK | os.X_OK):
        raise DynamicNetError(f"{flag} {shown}: {d} is not writable")


def override(obj: Any, **changes: Any) -> Any:
    """The recipe dataclass ``obj`` with the ``changes`` that are not None (the flags that were given)."""
    from dataclasses import replace

    return replace(obj, **{k: v for k, v in changes.items() if v is not None})


def to_fp16(folder: Path) -> None:
    """Rewrite a finished model folder with fp16 weights (``--fp16``: half the size, loaded back as fp32)."""
    import torch

    from ..core.checkpoint import resave_pretrained

    resave_pretrained(folder, dtype=torch.float16)


def add_step_args(parser: argparse.ArgumentParser, every: str = "every phase (default: the recipe's)") -> None:
    """``--steps`` for every phase and ``--main-steps`` / ``--tuning-steps`` for one, as every ``train`` takes them."""
    parser.add_argument("--steps", type=positive_int, default=None, help=f"steps of {every}")
    parser.add_argument(
        "--main-steps", type=positive_int, default=None, help="steps of the main phase (overrides --steps)"
    )
    parser.add_argument(
        "--tuning-steps", type=positive_int, default=None, help="steps of the tuning phase (overrides --steps)"
    )


def add_phase_args(
    parser: argparse.ArgumentParser,
    blocks: str = "the blocks",
    init_from: str = "model folder whose θ to tune (--phase tuning)",
) -> None:
    """``--phase`` and ``--init-from``: a ``train`` command trains θ, then ``blocks``, or one of the two."""
    parser.add_argument(
        "--phase",
        choices=["main", "tuning", "all"],
        default="all",
        help=f"train θ (main), {blocks} (tuning, with --init-from) or both",
    )
    parser.add_argument("--init-from", default=None, help=init_from)


def add_run_args(parser: argparse.ArgumentParser, checkpoint_every: int = 100, sample_every: int = 250) -> None:
    """The options every ``train APP`` command shares: where to write, resume, dry run, seed, logging, fp16."""
    add_output(parser, "FOLDER", "the model folder to write (training state goes to FOLDER/train)", out_alias=True)
    parser.add_argument("--resume", action="store_true", help="continue the run in --output exactly")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished model folder in --output")
    parser.add_argument("--dry-run", action="store_true", help="one real step per phase on tiny synthetic data")
    parser.add_argument("--seed", type=seed, default=0, help="seed of initialisation, data order and crops")
    parser.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=checkpoint_every,
        metavar="STEPS",
        help="save the training state every STEPS steps (and on Ctrl-C)",
    )
    parser.add_argument(
        "--sample-every",
        type=int,
        default=sample_every,
        metavar="STEPS",
        help="preview samples every STEPS steps; 0 = none",
    )
    parser.add_argument(
        "--log-every", type=positive_int, default=10, metavar="STEPS", help="a line of metrics.jsonl every STEPS steps"
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write the metrics and samples as TensorBoard events to FOLDER/train/tensorboard "
        "(needs the tensorboard extra)",
    )
    add_no_progress(parser)
    parser.add_argument("--fp16", action="store_true", help="store the model folder's weights in fp16")
    add_device(parser)


def finish_parser(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int], engine: bool = False
) -> None:
    """The options a command that is not ``train`` lists last, ``--no-progress``, ``--device`` and (with
    ``engine``: an inference command) ``--engine``; then the function that runs it."""
    add_no_progress(parser)
    add_device(parser)
    if engine:
        add_engine(parser)
    parser.set_defaults(func=run)


def add_alphas(parser: Any, help: str, default: list[float] | None = None) -> None:
    """``--alphas A0,A1,...``: the α values a command sweeps, measures or scores."""
    parser.add_argument("--alphas", type=float_list, default=default, metavar="A0,A1,...", help=help)


def add_animation_args(parser: argparse.ArgumentParser) -> None:
    """``--gif FILE`` and ``--frames N``: the α walk there and back as an animation beside the sheet."""
    parser.add_argument(
        "--gif",
        default=None,
        metavar="FILE",
        help="also write an animation of the α walk there and back (.gif/.webp/.mp4)",
    )
    parser.add_argument("--frames", type=int_up_to(500), default=21, help="frames of the animation, one way")


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``, the one switch for every command's progress bars (they show only on a terminal)."""
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (there is one only when stderr is a terminal)"
    )


def progress_of(args: argparse.Namespace) -> bool | None:
    """The ``progress=`` the library's loops take: off with ``--no-progress``, else None (only on a terminal)."""
    return False if args.no_progress else None


def trainer_config(args: argparse.Namespace, batch_size: int, device: torch.device):
    """The TrainerConfig every ``train APP`` command builds from the shared options of :func:`add_run_args`."""
    from ..training import TrainerConfig

    return TrainerConfig(
        Path(args.output),
        batch_size=batch_size,
        seed=args.seed,
        device=device,
        log_every=args.log_every,
        sample_every=0 if args.dry_run else max(0, args.sample_every),
        checkpoint_every=args.checkpoint_every,
        progress=progress_of(args),
        resume=args.resume,
        overwrite=args.overwrite,
        tensorboard=args.tensorboard,
    )


def finish_train(
    args: argparse.Namespace,
    folder: Path,
    only_theta: bool = False,
    blocks: str = "the tuning blocks",
    fp16: Callable[[Path], None] = to_fp16,
) -> int:
    """The end of every ``train`` command: rank 0 of a ``torchrun`` job alone converts (``--fp16``) and reports;
    when ``only_theta`` was trained (``--phase main``), with a note on how to train ``blocks`` next. Then every rank
    leaves the process group together."""
    from ..training.distributed import is_rank0, shutdown_distributed

    if is_rank0():
        if args.fp16:
            fp16(folder)
        print(f"model folder: {folder}")
        if only_theta:
            print(f"note: only θ was trained; train {blocks} with --phase tuning --init-from {folder}")
    shutdown_distributed()
    return 0


def check_train_out(args: argparse.Namespace) -> None:
    """Refuse an ``--output`` that holds a finished model (without ``--overwrite``), or ``--tensorboard`` without
    the package, before any set-up work."""
    from ..training.checkpointing import check_out_dir
    from ..training.config import check_tensorboard

    check_out_dir(Path(args.output), resume=args.resume, overwrite=args.overwrite)
    if args.tensorboard:
        check_tensorboard()


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")


def add_model(
    parser: argparse.ArgumentParser,
    default: str | None,
    help: str = "bundled model name (see `dynamicnet models`) or model folder",
    **kwargs: Any,
) -> None:
    """``--model``, named and explained alike in every command that loads one."""
    parser.add_argument("--model", default=default, metavar="MODEL", help=help, **kwargs)


#: dynamicnet.engines.ENGINES plus "auto", spelt out here so that parsing the command line imports no torch
#: (tests/test_engines.py keeps the two equal).
ENGINE_CHOICES = ("torch", "compile", "onnxruntime", "openvino", "auto")


def add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        default="torch",
        choices=ENGINE_CHOICES,
        help="inference engine (default: torch; auto = the fastest installed; graph engines build "
        "once, 1–2 s, then run 1.4–2.4× faster on a CPU: see docs/performance.md)",
    )


def device_of(args: argparse.Namespace) -> torch.device:
    from ..utils.device import resolve_device

    return resolve_device(args.device)


def content_dataset(
    data: str, size: int, crop_scale: tuple[float, float], dry_run: bool = False, seed: int = 0
) -> tuple[Any, str]:
    """The training photos of ``--data`` as random resized crops (an ``ImageFolderDataset``), and the one-line
    description the model folder's provenance keeps; with ``dry_run``, eight synthetic images drawn with ``seed``.
    Imported lazily: ``--help`` stays torch-free."""
    from ..data.assets import content_dir
    from ..data.folder import FLAT_CROP_STD, ImageFolderDataset, SyntheticImageDataset

    if dry_run:
        return SyntheticImageDataset(8, size, seed=seed), "synthetic (dry run)"
    content = content_dir(data)
    dataset = ImageFolderDataset(content, size, scale=crop_scale, min_std=FLAT_CROP_STD)
    return dataset, (
        f"{content} ({len(dataset)} images, {size}² random resized crops, area "
        f"{crop_scale[0]:g}–{crop_scale[1]:g} of the largest square)"
    )
