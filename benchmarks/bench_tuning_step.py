"""Time of one tuning-phase (phase 2) training step: ours against the reference scheme, in one process.

Reference scheme (the paper's code): θ is only left out of the optimizer, so back-propagation still computes a
gradient for every θ weight (requires_grad stays on) through the whole network with the blocks at α = 1. Ours:
θ frozen (requires_grad off, normalisation layers in eval) and the graph cut at the first insertion point, so
backward reaches the blocks and the tail's activations only. Both run the same VGG16 perceptual loss, batch and
crop size as the bundled recipe; prints medians and the ratio.

    python benchmarks/bench_tuning_step.py [--size 128] [--batch 4] [--repeat 5] [--blocks res3,up1,out]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dynamicnet.apps.style.recipe import load_recipe
from dynamicnet.apps.style.train import build_model
from dynamicnet.data.assets import resolve_style_image
from dynamicnet.data.io import load_image
from dynamicnet.losses import PerceptualLoss, StyleTargets, load_vgg16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--blocks", default="res3,up1,out")
    args = ap.parse_args()
    recipe = load_recipe("level").with_overrides(insertion_points=tuple(args.blocks.split(",")))
    obj = recipe.sets["higher"]
    vgg = load_vgg16(None)
    style = load_image(resolve_style_image(obj.style)).rgb
    loss_fn = PerceptualLoss(
        vgg,
        StyleTargets(vgg)(style, obj.style_size),
        content_weight=obj.content_weight,
        style_weight=obj.style_weight,
        style_layer_weights=dict(obj.style_layers),
        content_tap=obj.content_layer,
        tv_weight=obj.tv_weight,
    )
    x = torch.rand(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    results = {}
    for scheme in ("reference: θ out of the optimizer only", "ours: θ frozen, graph cut at the first block"):
        torch.manual_seed(0)
        model = build_model(recipe)
        params = model.configure_trainable("tuning")
        if scheme.startswith("reference"):
            model.freeze_main(False)  # gradients for every θ weight again, as in the reference code
            model.train()
        opt = torch.optim.Adam(params, lr=1e-3)

        def step(model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt) -> None:
            out = model(x, alpha=1.0)
            total, _ = loss_fn(out, x)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()

        step()
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
        results[scheme] = statistics.median(times)
        print(f"{scheme:<50} {results[scheme] * 1000:8.0f} ms per step")
    ref, ours = results.values()
    print(
        f"speed-up: {ref / ours:.2f}× (batch {args.batch}, {args.size}², blocks {args.blocks}, "
        f"{torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main()
