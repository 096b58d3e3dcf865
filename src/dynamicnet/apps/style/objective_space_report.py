"""The objective-space results as files: results.json, results.md (the tables docs/objective-space.md quotes) and
objective-space.png (the paper's objective-space plot, measured, beside α*(m)). Pure formatting of what
:func:`~dynamicnet.apps.style.objective_space.summarise` computed; nothing here runs a network."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from ...data.io import save_image
from ...data.plot import PALETTE, Series, line_chart, side_by_side
from ...utils.fs import atomic_write_text

FIGURE = "objective-space.png"
# (key, the curve's legend, the legend of its best parameter)
METHODS = (
    ("dynamic", "Dynamic-Net, α = 0 … 1", "Dynamic-Net α*"),
    ("pixel_blend", "pixel blend θ → θ_1, t = 0 … 1", "pixel blend t*"),
    ("dni", "DNI: weights θ → θ', t = 0 … 1", "DNI t*"),
)
ROW_KEYS = {"dynamic": "dynamic_best", "pixel_blend": "pixel_blend", "dni": "dni"}  # each method's best, per m


def write_report(out: Path, results: Mapping[str, Any]) -> None:
    """Write results.json, results.md and the figure into ``out``."""
    save_image(figure(results), out / FIGURE)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out / "results.md", markdown(results))


def figure(results: Mapping[str, Any]) -> Image.Image:
    """Left: the (x, y) plane of the two traded-off terms with the dedicated networks and each method's curve.
    Right: the best α (and t) for each m, against α = m."""
    plane = results["plane"]
    x, y = plane["x"], plane["y"]
    series = [
        Series(label, [(p[x], p[y]) for p in plane["curves"][name]], PALETTE[k + 1], marker=None)
        for k, (name, label, _) in enumerate(METHODS)
    ]
    series.append(
        Series(
            "dedicated network for O_m (m = 0: θ)",
            [(p[x], p[y]) for p in plane["dedicated"]],
            PALETTE[0],
            line=False,
            notes=[f"m={p['m']:g}" for p in plane["dedicated"]],
        )
    )
    left = line_chart(
        series,
        title=f"objective space: {results['experiment']['recipe']['name']}",
        xlabel=plane["xlabel"],
        ylabel=plane["ylabel"],
    )
    best = [
        Series(
            label,
            [(r["m"], r[ROW_KEYS[name]]["at"]) for r in results["rows"]],
            PALETTE[k + 1],
            marker=("o", "s", "^")[k],
        )
        for k, (name, _, label) in enumerate(METHODS)
    ]
    best.append(Series("α = m", [(0.0, 0.0), (1.0, 1.0)], PALETTE[0], marker=None, dashed=True))
    right = line_chart(best, title="best α (t) for O_m", xlabel="m", ylabel="α*, t*", size=(420, 480))
    return side_by_side([left, right])


def _ratio(entry: Mapping[str, float]) -> str:
    return f"{entry['ratio']:.3f}"


def markdown(results: Mapping[str, Any]) -> str:
    """The tables and target checks, with the scale they were measured at."""
    exp = results["experiment"]
    recipe, theta, blocks = exp["recipe"], exp["theta"], exp["blocks"]
    o0, o1 = recipe["main"], recipe["sets"]["higher"]
    meas = results["measurement"]
    lines = [
        f"# Objective space: `{recipe['name']}`",
        "",
        f"O_m = (1 − m)·O0 + m·O1 with O0 = {_objective(o0)} and O1 = {_objective(o1)}. "
        f"Measured on {meas['crops']} held-out crops of {len(meas['photos'])} photos "
        f"({recipe['size']}² px, area {recipe['crop_scale'][0]:g}–{recipe['crop_scale'][1]:g} of the largest "
        f"square, as in training); α and t on a {meas['grid_step']:g} grid plus each m. Each cell is O_m of the method divided "
        "by O_m of the network trained from scratch for O_m (lower is better; below 1 beats it).",
        "",
        "| m | dedicated O_m | α* | Dynamic-Net at α* | at α = m | pixel blend t* | pixel blend | DNI t* | DNI |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        m = f"{r['m']:g}" + (" (θ_1)" if r["m"] == 1.0 else "")
        lines.append(
            f"| {m} | {r['dedicated']:.5g} | {r['dynamic_best']['at']:g} | {_ratio(r['dynamic_best'])} | "
            f"{_ratio(r['dynamic_at_m'])} | {r['pixel_blend']['at']:g} | {_ratio(r['pixel_blend'])} | "
            f"{r['dni']['at']:g} | {_ratio(r['dni'])} |"
        )
    t = results["targets"]
    inner = [r for r in results["rows"] if r["m"] != 1.0]
    worst = max(inner, key=lambda r: r["dynamic_best"]["ratio"])
    behind = ", ".join(f"{r['m']:g}" for r in inner if r["dynamic_best"]["objective"] >= r["pixel_blend"]["objective"])
    alpha_star = ", ".join(f"{k}: {v:g}" for k, v in t["alpha_star_monotone"]["alpha_star"].items())
    lines += [
        "",
        "The m = 1 row is the end point: pixel blending at t = 1 is θ_1 itself.",
        "",
        "## Targets",
        "",
        f"- Dynamic-Net at α* within 5 % of the dedicated network for every m: **{_met(t['within_5_percent'])}** "
        f"(worst: {worst['dynamic_best']['ratio']:.3f} at m = {worst['m']:g}).",
        f"- Better than pixel blending for every m: **{_met(t['beats_pixel_blend'])}**"
        + (f" (behind at m = {behind})." if behind else "."),
        f"- α*(m) monotone in m: **{_met(t['alpha_star_monotone'])}** (α*: {alpha_star}).",
        "",
        f"![objective space]({FIGURE})",
        "",
        "Contact sheets (photo | dedicated | Dynamic-Net at α* | pixel blend at t* | DNI at t*): "
        + ", ".join(f"[{Path(s).stem}]({s})" for s in results["sheets"])
        + ".",
        "",
        "## Scale",
        "",
        f"- θ and every dedicated network: width {recipe['width']}, {theta['steps']} steps at lr {theta['lr']:g}, "
        f"batch {theta['batch_size']}, seed {theta['seed']}, {recipe['size']}² crops (area "
        f"{recipe['crop_scale'][0]:g}–{recipe['crop_scale'][1]:g}) of content `{recipe['content']}`.",
        f"- Tuning blocks and DNI's fine-tuning of θ: {blocks['steps']} steps at lr {blocks['lr']:g}, batch "
        f"{blocks['batch_size']}, seed {blocks['seed']}.",
        f"- VGG16: {exp['vgg16'] or 'as given on the command line'}. Dynamic-Net model: "
        f"{exp['model']['folder'] if exp['model'] else 'trained by this run'}.",
        f"- Training time per network: {_times(results['networks'])}; measuring: {meas['seconds']:g} s.",
        "",
    ]
    return "\n".join(lines)


def _objective(obj: Mapping[str, Any]) -> str:
    return (
        f"{obj['style']} at {obj['style_size']} px (λc {obj['content_weight']:g}, λs {obj['style_weight']:g}, "
        f"λtv {obj['tv_weight']:g})"
    )


def _met(target: Mapping[str, Any]) -> str:
    return "met" if target["met"] else "missed"


def _times(networks: Mapping[str, Any]) -> str:
    def one(name: str, record: Mapping[str, Any]) -> str:
        seconds = record.get("train_seconds")
        return f"{name} {seconds:g} s on {record.get('device')}" if seconds is not None else f"{name} ?"

    parts: Sequence[str] = [
        one("Dynamic-Net (its folder's last run)", networks["dynamic"]),
        one("DNI", networks["dni"]),
        *(one(f"m = {m}", r) for m, r in networks["dedicated"].items()),
    ]
    return ", ".join(parts)
