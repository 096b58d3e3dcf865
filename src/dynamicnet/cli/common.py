"""Argument types and options shared by subcommands."""
from __future__ import annotations

import argparse
import math

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


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")


def device_of(args: argparse.Namespace) -> torch.device:
    return resolve_device(args.device)
