"""Argument types and options shared by subcommands."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from ..utils.device import resolve_device


def finite_float(text: str) -> float:
    """argparse type: a finite number (α, weights)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite: {text!r}")
    return value


def float_list(text: str) -> list[float]:
    """argparse type: comma-separated finite numbers, e.g. ``0,0.25,0.5``."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return [finite_float(p.strip()) for p in parts]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1: {text!r}")
    return value


def to_fp16(folder: Path) -> None:
    """Rewrite a finished model folder with fp16 weights (``--fp16``: half the size, loaded back as fp32)."""
    from ..core.checkpoint import load_pretrained, save_pretrained

    model, config = load_pretrained(folder)
    save_pretrained(model, folder, application=config["application"], architecture=config["architecture"],
                    objectives=config["objectives"], alpha_range=tuple(config["dynamic"]["alpha_range"]),
                    provenance=config["provenance"], extra=config["extra"], dtype=torch.float16)


def add_run_args(parser: argparse.ArgumentParser, checkpoint_every: int = 100, sample_every: int = 250) -> None:
    """The options every ``train APP`` command shares: where to write, resume, dry run, seed, logging, fp16."""
    parser.add_argument("--out", required=True, help="output model folder (training state goes to OUT/train)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    parser.add_argument("--dry-run", action="store_true", help="one real step per phase on tiny synthetic data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=positive_int, default=checkpoint_every)
    parser.add_argument("--sample-every", type=int, default=sample_every, help="0 = no preview samples")
    parser.add_argument("--log-every", type=positive_int, default=10)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--fp16", action="store_true", help="store the model folder's weights in fp16")
    add_device(parser)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")


def device_of(args: argparse.Namespace) -> torch.device:
    return resolve_device(args.device)
