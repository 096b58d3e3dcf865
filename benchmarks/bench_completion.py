"""Completion quality of a completion model next to the classical inpainting a user would pick instead.

On images that are in no training set (``held_out_photos()``):

* **crops** — ``--per-photo`` random square crops of every held-out photo at the model's training size, with
  the training centre hole (128² crops with a 64² hole for the bundled model, the paper's setting);
* **photos** — each held-out photo at ``--photo-side`` px on its longer side with a centred rectangle of 1/16
  of its area, filled through the pipeline's per-hole windows (working scale, seamless upsampling).

For each: PSNR, SSIM and the VGG-feature distance inside the hole for OpenCV's ``cv2.inpaint`` (Telea and
Navier–Stokes; PyPI ``opencv-python-headless``, installed for benchmarks only) and ours at α = 0, at the best
global α (one α for every image, chosen on the VGG distance of the same images: optimistic), at each image's
oracle α, and at ``--alpha auto``. Prints the means, the issue's targets as pass/fail, and writes contact sheets
(input | Telea | NS | ours α = 0 | α* | auto) with ``--sheets DIR``.

    python benchmarks/bench_completion.py [--model completion-photos] [--per-photo 13] [--sheets DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from dynamicnet.apps.completion.evaluate import held_out_crops
from dynamicnet.apps.completion.metrics import PERCEPTUAL_TAPS, hole_psnr, hole_ssim, perceptual_hole_distance
from dynamicnet.apps.completion.pipeline import CompletionPipeline
from dynamicnet.data.assets import held_out_photos
from dynamicnet.data.figures import make_contact_sheet
from dynamicnet.data.geometry import resize_max_side
from dynamicnet.data.io import load_image, save_image
from dynamicnet.data.masks import center_mask
from dynamicnet.losses import load_vgg16

GRID = [round(0.1 * i, 1) for i in range(11)]
METHODS = ["telea", "ns"]


def opencv_inpaint(image: torch.Tensor, mask: torch.Tensor, method: str, radius: int) -> torch.Tensor:
    """``cv2.inpaint`` on the 8-bit image (what a user of OpenCV gets), back as a (3, H, W) tensor in [0, 1]."""
    import cv2

    rgb = (image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    hole = (mask[0].numpy() > 0.5).astype(np.uint8) * 255
    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    out = cv2.cvtColor(cv2.inpaint(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), hole, radius, flag), cv2.COLOR_BGR2RGB)
    filled = torch.from_numpy(out).permute(2, 0, 1).float() / 255
    return torch.where(mask > 0.5, filled, image)  # known pixels exact, as ours


class Scorer:
    def __init__(self) -> None:
        self.vgg = load_vgg16(taps=PERCEPTUAL_TAPS).eval()

    @torch.no_grad()
    def __call__(self, filled: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> tuple[float, float, float]:
        f, t, m = filled[None], truth[None], mask[None]
        # VGG only around the hole (plus its size again as context): the distance is measured in the hole.
        top, bottom, left, right = _bbox(mask, grow=0.5)
        crop = (slice(None), slice(None), slice(top, bottom), slice(left, right))
        d = perceptual_hole_distance(
            self.vgg(f[crop], taps=PERCEPTUAL_TAPS), self.vgg(t[crop], taps=PERCEPTUAL_TAPS), m[crop]
        )
        return float(hole_psnr(f, t, m)[0]), float(hole_ssim(f, t, m)[0]), float(d[0])


def _bbox(mask: torch.Tensor, grow: float) -> tuple[int, int, int, int]:
    ys = torch.nonzero(mask[0].any(1)).flatten()
    xs = torch.nonzero(mask[0].any(0)).flatten()
    h, w = mask.shape[-2:]
    gy, gx = int(grow * (int(ys[-1]) - int(ys[0]) + 1)), int(grow * (int(xs[-1]) - int(xs[0]) + 1))
    return max(0, int(ys[0]) - gy), min(h, int(ys[-1]) + 1 + gy), max(0, int(xs[0]) - gx), min(w, int(xs[-1]) + 1 + gx)


def evaluate(
    pipe: CompletionPipeline, scorer: Scorer, cases: list[tuple[torch.Tensor, torch.Tensor]], radius: int, auto: bool
) -> dict:
    """Per-image metrics ``(N, 3)`` (PSNR, SSIM, VGG) for each method, ours along GRID ``(N, A, 3)``."""
    n = len(cases)
    base = {m: np.zeros((n, 3)) for m in METHODS}
    ours = np.zeros((n, len(GRID), 3))
    auto_m, auto_a = np.zeros((n, 3)), np.zeros(n)
    outputs = []
    t0 = time.perf_counter()
    for j, (image, mask) in enumerate(cases):
        shown = {}
        for m in METHODS:
            shown[m] = opencv_inpaint(image, mask, m, radius)
            base[m][j] = scorer(shown[m], image, mask)
        fills = pipe.sweep(image, mask, GRID)
        for i, filled in enumerate(fills):
            ours[j, i] = scorer(filled, image, mask)
        if auto:
            auto_a[j] = pipe.auto_alpha(image, mask)
            shown["auto"] = pipe(image, mask, alpha=float(auto_a[j]))
            auto_m[j] = scorer(shown["auto"], image, mask)
        outputs.append((shown, fills))
        if (j + 1) % 20 == 0:
            print(f"  {j + 1}/{n} images, {time.perf_counter() - t0:.0f} s", flush=True)
    return {"base": base, "ours": ours, "auto": auto_m if auto else None, "auto_alpha": auto_a, "outputs": outputs}


def summarize(title: str, r: dict) -> dict:
    ours = r["ours"]
    means = ours.mean(0)  # (A, 3)
    best = int(np.argmin(means[:, 2]))  # best global α by the VGG distance
    oracle_idx = ours[:, :, 2].argmin(1)
    oracle = ours[np.arange(len(ours)), oracle_idx].mean(0)
    rows = {m.upper() if m == "ns" else m.capitalize(): r["base"][m].mean(0) for m in METHODS}
    rows["ours α=0"] = means[0]
    rows[f"ours α*={GRID[best]:g} (best global)"] = means[best]
    rows["ours oracle α (per image)"] = oracle
    if r["auto"] is not None:
        rows["ours --alpha auto"] = r["auto"].mean(0)
    print(f"\n## {title}: {len(ours)} images (means; SSIM and VGG distance inside the hole)")
    print(f"  {'method':34s} {'PSNR':>7s} {'SSIM':>7s} {'VGG dist':>9s}")
    for name, (p, s, d) in rows.items():
        print(f"  {name:34s} {p:7.2f} {s:7.4f} {d:9.4f}")
    ssim_best, vgg_best = (
        max(r["base"][m][:, 1].mean() for m in METHODS),
        min(r["base"][m][:, 2].mean() for m in METHODS),
    )
    checks = {
        "best global α beats OpenCV on SSIM": means[best][1] > ssim_best,
        "best global α beats OpenCV on VGG distance": means[best][2] < vgg_best,
    }
    summary = {
        "images": len(ours),
        "best_global_alpha": GRID[best],
        "rows": {k: [float(x) for x in v] for k, v in rows.items()},
    }
    if r["auto"] is not None:
        a = r["auto"].mean(0)
        checks["auto beats OpenCV on SSIM"] = a[1] > ssim_best
        checks["auto beats OpenCV on VGG distance"] = a[2] < vgg_best
        gain = means[best][2] - oracle[2]
        share = (means[best][2] - a[2]) / gain if gain > 0 else float("nan")
        summary["auto_share_of_oracle_gain"] = float(share)
        checks["auto recovers ≥ half of the oracle's gain"] = share >= 0.5
        print(
            f"  auto α recovers {share:.0%} of the oracle's gain over the best global α "
            f"({means[best][2]:.4f} → oracle {oracle[2]:.4f})"
        )
    for name, ok in checks.items():
        print(f"  [{'met' if ok else 'NOT met'}] {name}")
    summary["checks"] = {k: bool(v) for k, v in checks.items()}
    return summary


def sheets(out_dir: Path, tag: str, cases, r: dict, best: int, count: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    oracle_idx = r["ours"][:, :, 2].argmin(1)
    step = max(1, len(cases) // count)
    for j in list(range(0, len(cases), step))[:count]:
        image, mask = cases[j]
        shown, fills = r["outputs"][j]
        tiles = [CompletionPipeline.show_hole(image, mask), shown["telea"], shown["ns"], fills[0], fills[best]]
        labels = ["input", "OpenCV Telea", "OpenCV NS", "ours α=0", f"ours α*={GRID[best]:g}"]
        if "auto" in shown:
            tiles.append(shown["auto"])
            labels.append(f"auto α={r['auto_alpha'][j]:g}")
        tiles.append(fills[int(oracle_idx[j])])
        labels.append(f"oracle α={GRID[int(oracle_idx[j])]:g}")
        tiles.append(image)
        labels.append("truth")
        save_image(make_contact_sheet(tiles, labels, ncols=len(tiles), tile_size=256), out_dir / f"{tag}-{j:03d}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="completion-photos")
    ap.add_argument("--per-photo", type=int, default=13, help="crops per held-out photo (8 photos: 104 crops)")
    ap.add_argument("--photo-side", type=int, default=512, help="longer side of the full photos")
    ap.add_argument("--radius", type=int, default=3, help="cv2.inpaint's inpaintRadius (OpenCV's example: 3)")
    ap.add_argument("--no-auto", action="store_true")
    ap.add_argument("--no-photos", action="store_true")
    ap.add_argument("--sheets", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    pipe = CompletionPipeline.from_pretrained(args.model)
    extra = pipe.config.get("extra", {})
    size, hole = int(extra.get("size", 64)), int(extra.get("hole", 32))
    scale = tuple(pipe.config.get("provenance", {}).get("recipe", {}).get("crop_scale", (0.05, 0.5)))
    scorer = Scorer()
    report = {"model": args.model, "radius": args.radius}

    crops = held_out_crops(size=size, per_photo=args.per_photo, scale=scale, seed=1234)
    cases = [(c, center_mask(size, size, hole)) for c in crops]
    print(
        f"{args.model}: {len(cases)} held-out crops {size}² with a centre {hole}² hole; "
        f"{len(held_out_photos())} photos, never trained on"
    )
    r = evaluate(pipe, scorer, cases, args.radius, not args.no_auto)
    report["crops"] = summarize(f"crops {size}², centre hole {hole}²", r)
    if args.sheets:
        sheets(args.sheets, "crop", cases, r, GRID.index(report["crops"]["best_global_alpha"]), 5)

    if not args.no_photos:
        cases = []
        for path in held_out_photos().values():
            image = torch.round(resize_max_side(load_image(path).rgb, args.photo_side).clamp(0, 1) * 255) / 255
            h, w = image.shape[-2:]
            mh, mw = round(h / 4), round(w / 4)  # 1/16 of the area, centred
            mask = torch.zeros(1, h, w)
            mask[:, (h - mh) // 2 : (h - mh) // 2 + mh, (w - mw) // 2 : (w - mw) // 2 + mw] = 1
            cases.append((image, mask))
        r = evaluate(pipe, scorer, cases, args.radius, not args.no_auto)
        report["photos"] = summarize(f"full photos at {args.photo_side} px, centred 1/16-area hole", r)
        if args.sheets:
            sheets(args.sheets, "photo", cases, r, GRID.index(report["photos"]["best_global_alpha"]), len(cases))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if not math.isfinite(report["crops"]["rows"]["ours α=0"][2]):
        raise SystemExit("non-finite distance: broken model")


if __name__ == "__main__":
    main()
