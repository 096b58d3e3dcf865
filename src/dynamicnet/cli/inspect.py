"""``dynamicnet inspect``: where tuning blocks can go in a network someone else trained."""

from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .common import positive_int

if TYPE_CHECKING:  # torch loads only when the command runs: --help stays instant
    from ..imports import ImportedNetwork, InsertionPoint, Inspection


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="list a network's candidate insertion points for tuning blocks",
        description="Load NETWORK (an .onnx file converted by onnx2torch, a TorchScript file, or module:Class with "
        "--weights), run one forward pass on a dummy input, and list where tuning blocks can go. A "
        "point is named by the submodule whose input the block changes. 'after' is the share of the "
        "network's compute (multiply-accumulates of convolutions and matrix products) at or after "
        "the point; 'block' is what one tuning block there costs, as a share of the same.",
    )
    p.add_argument("network", metavar="NETWORK", help="FILE.onnx, a TorchScript file, or module:Class")
    p.add_argument(
        "--weights",
        default=None,
        metavar="FILE.safetensors",
        help="the state dict for module:Class (without it: the class's initial weights)",
    )
    p.add_argument(
        "--input-size",
        type=input_size,
        default=None,
        metavar="H,W",
        help="the dummy image's height and width (default: the file's, else 256,256)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="every submodule that receives a feature map, with whether a block there changes "
        "everything downstream (default: one point per layer boundary)",
    )
    p.add_argument("--json", action="store_true", help="print everything as JSON (every point, flagged)")
    p.set_defaults(func=run_inspect)


def input_size(text: str) -> tuple[int, int]:
    """argparse type: ``H,W`` or one number for a square."""
    parts = [t.strip() for t in text.split(",")]
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"expected H,W or one number, got {text!r}")
    sizes = [positive_int(t) for t in parts]
    return (sizes[0], sizes[-1])


def run_inspect(args: argparse.Namespace) -> int:
    from ..imports import example_inputs, find_insertion_points, image_input_index, load_network
    from ..imports.loaders import EXPORT_SIZE

    if "" not in sys.path and os.getcwd() not in sys.path:  # module:Class from the current folder, as python -m finds
        sys.path.insert(0, os.getcwd())
    net = load_network(args.network, args.weights, example_size=args.input_size or EXPORT_SIZE)
    inputs = example_inputs(net.inputs, args.input_size)
    report = find_insertion_points(net.module, inputs, image_input_index(net.inputs))
    if args.json:
        print(json.dumps(_as_json(net, report), indent=2, ensure_ascii=False))
        return 0
    shapes = ", ".join(
        f"{i.name} [{', '.join('?' if d is None else str(d) for d in i.shape)}] {str(i.dtype).removeprefix('torch.')}"
        for i in net.inputs
    )
    print(f"network:  {net.source} ({net.kind}{', ' + net.converter if net.converter else ''})")
    print(f"sha256:   {net.sha256 or '- (initial weights)'}")
    print(f"inputs:   {shapes}")
    height, width = report.input_size
    print(f"probe:    one pass at {height}×{width}: {_count(report.total_macs)}MAC in convolutions and matrix products")
    points = report.points if args.all else report.boundaries()
    if not points:
        print("no insertion point: no submodule receives a (B, C, H, W) feature map")
        return 0
    if not args.all:
        print("insertion points, one per layer boundary (--all lists every one):")
    _print_table(points, report, args.all)
    return 0


def _print_table(points: tuple[InsertionPoint, ...], report: Inspection, every: bool) -> None:
    header = ["point", "channels", "size", "scale", "after", "block"] + (["cut", "calls"] if every else [])
    rows = [
        [
            p.name,
            str(p.channels),
            f"{p.height}×{p.width}",
            _scale(p.scale),
            _share(p.macs_after, report.total_macs),
            _share(p.block_macs, report.total_macs),
        ]
        + ([("yes" if p.cut else "no"), str(p.calls)] if every else [])
        for p in points
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def _scale(scale: float) -> str:
    """``1/4`` for a quarter of the image's height, ``2`` for twice it, ``0.516`` for a padded size."""
    fraction = Fraction(scale).limit_denominator(64)
    if abs(float(fraction) - scale) > 1e-9:
        return f"{scale:.3g}"
    return str(fraction)


def _count(macs: int) -> str:
    """``1.27 G``, ``55.3 k``: three digits and an SI prefix."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if macs >= factor:
            return f"{macs / factor:.3g} {prefix}"
    return f"{macs} "


def _share(macs: int, total: int) -> str:
    return f"{100 * macs / total:.1f}%" if total else "-"


def _as_json(net: ImportedNetwork, report: Inspection) -> dict[str, Any]:
    boundaries = {p.name for p in report.boundaries()}
    total = report.total_macs
    return {
        "network": net.provenance(),
        "input_size": list(report.input_size),
        "total_macs": total,
        "points": [
            {
                "name": p.name,
                "module_type": p.module_type,
                "channels": p.channels,
                "height": p.height,
                "width": p.width,
                "scale": p.scale,
                "macs_after": p.macs_after,
                "compute_after": p.macs_after / total if total else None,
                "block_macs": p.block_macs,
                "block_cost": p.block_macs / total if total else None,
                "cut": p.cut,
                "boundary": p.name in boundaries,
                "calls": p.calls,
            }
            for p in report.points
        ],
    }
