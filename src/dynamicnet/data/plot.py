"""Small line and scatter charts drawn with Pillow, for figures that commands write next to their numbers.

matplotlib is not a dependency (nor in the dev extra): a figure of a few curves and labelled points needs only
axes with round-number ticks, lines, markers and a legend, and Pillow (already required) draws those. Labels use
the contact sheet's font (DejaVu Sans where the system has it, which has "α").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from .figures import _drawable, _label_font

Color = tuple[int, int, int]
#: Distinguishable on white and in grey scale (Okabe & Ito's colour-blind-safe palette).
PALETTE: tuple[Color, ...] = (
    (0, 0, 0),
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
)
MARKERS = ("o", "s", "^", "d")


@dataclass(frozen=True)
class Series:
    """One curve or set of points.

    Attributes:
        label: the legend entry.
        points: ``(x, y)`` in data units, drawn in this order.
        color: RGB.
        line: join the points (a curve); False draws markers only.
        marker: ``"o"``, ``"s"``, ``"^"``, ``"d"`` or None (a line without markers).
        dashed: a dashed line (references such as y = x).
        notes: a short text beside each point (same length as ``points``), e.g. which m a point belongs to.
    """

    label: str
    points: Sequence[tuple[float, float]]
    color: Color = PALETTE[0]
    line: bool = True
    marker: str | None = "o"
    dashed: bool = False
    notes: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if self.marker is not None and self.marker not in MARKERS:
            raise ValueError(f"marker must be one of {MARKERS} or None, got {self.marker!r}")
        if self.notes is not None and len(self.notes) != len(self.points):
            raise ValueError(f"{self.label!r}: {len(self.notes)} notes for {len(self.points)} points")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 × 10ⁿ apart) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"axis range must be finite, got [{lo}, {hi}]")
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= raw)
    first = math.floor(lo / step)
    last = math.ceil(hi / step)
    return [float(f"{k * step:.12g}") for k in range(first, last + 1)]  # 0.30000000000000004 → 0.3


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    size: tuple[int, int] = (640, 480),
    font_size: int = 13,
) -> Image.Image:
    """Draw ``series`` on one pair of linear axes whose ranges cover every point; return an RGB image.

    The legend goes under the plot (one row per series) so that it never hides a point; the first series is drawn
    last, on top of the others.
    """
    points = [p for s in series for p in s.points]
    if not points:
        raise ValueError("line_chart: no points to draw")
    font = _label_font(font_size, None)
    small = _label_font(max(8, font_size - 2), None)
    xticks = nice_ticks(min(p[0] for p in points), max(p[0] for p in points))
    yticks = nice_ticks(min(p[1] for p in points), max(p[1] for p in points))
    width, height = size  # the plot with its labels; the legend adds a row per series underneath
    line_h = font_size + 6
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max(probe.textlength(_tick(t), font=small) for t in yticks)
    x0, x1, y0, y1 = 12 + line_h + label_w, width - 20, 2 * line_h + 4, height - 2 * line_h - 10
    if x1 - x0 < 50 or y1 - y0 < 50:
        raise ValueError(f"line_chart: {size} leaves no room for the plot")
    image = Image.new("RGB", (width, height + line_h * len(series) + 8), "white")
    draw = ImageDraw.Draw(image)

    def to_px(x: float, y: float) -> tuple[float, float]:
        fx = (x - xticks[0]) / (xticks[-1] - xticks[0])
        fy = (y - yticks[0]) / (yticks[-1] - yticks[0])
        return x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)

    grid, ink = (228, 228, 228), (60, 60, 60)
    for t in xticks:
        px, _ = to_px(t, yticks[0])
        draw.line([(px, y0), (px, y1)], fill=grid)
        text = _tick(t)
        draw.text((px - draw.textlength(text, font=small) / 2, y1 + 4), text, fill=ink, font=small)
    for t in yticks:
        _, py = to_px(xticks[0], t)
        draw.line([(x0, py), (x1, py)], fill=grid)
        text = _tick(t)
        draw.text((x0 - 6 - draw.textlength(text, font=small), py - font_size / 2), text, fill=ink, font=small)
    draw.rectangle([x0, y0, x1, y1], outline=ink)
    _centred(draw, _drawable(title, font), (x0 + x1) / 2, 4, font)
    _centred(draw, _drawable(xlabel, font), (x0 + x1) / 2, y1 + line_h + 6, font)
    rotated = _rotated_text(_drawable(ylabel, font), font_size)
    image.paste(rotated, (4, round((y0 + y1 - rotated.height) / 2)))

    for s in reversed(series):  # the first series (the legend's first entry) ends up on top
        pxs = [to_px(x, y) for x, y in s.points]
        if s.line and len(pxs) > 1:
            _polyline(draw, pxs, s.color, dashed=s.dashed)
        for i, (px, py) in enumerate(pxs):
            if s.marker is not None:
                _marker(draw, s.marker, px, py, s.color)
            if s.notes is not None and s.notes[i]:
                note = _drawable(s.notes[i], small)
                wide = draw.textlength(note, font=small)
                nx = px + 6 if px + 6 + wide <= width else px - 6 - wide  # keep it inside the figure
                draw.text((nx, py - font_size - 2), note, fill=s.color, font=small)
    ly = height + 4
    for s in series:
        mid = ly + line_h / 2
        if s.line:
            _polyline(draw, [(x0, mid), (x0 + 28, mid)], s.color, dashed=s.dashed)
        if s.marker is not None:
            _marker(draw, s.marker, x0 + 14, mid, s.color)
        draw.text((x0 + 36, ly), _drawable(s.label, font), fill=ink, font=font)
        ly += line_h
    return image


def side_by_side(images: Sequence[Image.Image], gap: int = 12) -> Image.Image:
    """Panels in one row, top-aligned on white."""
    if not images:
        raise ValueError("side_by_side: no images")
    out = Image.new(
        "RGB", (sum(im.width for im in images) + gap * (len(images) - 1), max(im.height for im in images)), "white"
    )
    x = 0
    for im in images:
        out.paste(im, (x, 0))
        x += im.width + gap
    return out


def level(label: str, value: float, xs: Sequence[float], color: Color = PALETTE[0]) -> Series:
    """A dashed horizontal line at ``value`` across ``xs``: a reference (a real-data figure, the oracle) that the
    curve is read against."""
    return Series(label, [(min(xs), value), (max(xs), value)], color, marker=None, dashed=True)


def alpha_panels(
    panels: Sequence[tuple[str, Sequence[Series]]], *, title: str, size: tuple[int, int] = (420, 340)
) -> Image.Image:
    """One chart per quantity against α, side by side under ``title``: what the ``evaluate-*`` commands draw next
    to their JSON. Quantities of different scales (a style and a content loss, PSNR and SSIM) each get their own
    axes, so no curve is flattened by another's range."""
    row = side_by_side([line_chart(series, title=name, xlabel="α", ylabel=name, size=size) for name, series in panels])
    font = _label_font(14, None)
    out = Image.new("RGB", (row.width, row.height + 28), "white")
    _centred(ImageDraw.Draw(out), _drawable(title, font), row.width / 2, 6, font)
    out.paste(row, (0, 28))
    return out


def _tick(value: float) -> str:
    return f"{value:.4g}"


def _centred(draw: ImageDraw.ImageDraw, text: str, cx: float, y: float, font: object) -> None:
    draw.text((cx - draw.textlength(text, font=font) / 2, y), text, fill=(0, 0, 0), font=font)  # type: ignore[arg-type]


def _rotated_text(text: str, font_size: int) -> Image.Image:
    font = _label_font(font_size, None)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    strip = Image.new("RGB", (int(probe.textlength(text, font=font)) + 4, font_size + 8), "white")
    ImageDraw.Draw(strip).text((2, 2), text, fill=(0, 0, 0), font=font)
    return strip.rotate(90, expand=True)


def _polyline(draw: ImageDraw.ImageDraw, pxs: Sequence[tuple[float, float]], color: Color, *, dashed: bool) -> None:
    if not dashed:
        draw.line(list(pxs), fill=color, width=2, joint="curve")
        return
    for (ax, ay), (bx, by) in zip(pxs, pxs[1:]):
        length = math.hypot(bx - ax, by - ay)
        for k in range(0, int(length), 10):  # 6 px on, 4 px off
            f0, f1 = k / length, min(k + 6, length) / length
            draw.line(
                [(ax + (bx - ax) * f0, ay + (by - ay) * f0), (ax + (bx - ax) * f1, ay + (by - ay) * f1)],
                fill=color,
                width=2,
            )


def _marker(draw: ImageDraw.ImageDraw, kind: str, x: float, y: float, color: Color, r: float = 4.5) -> None:
    if kind == "o":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=color, outline="white")
    elif kind == "s":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=color, outline="white")
    elif kind == "^":
        draw.polygon([(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)], fill=color, outline="white")
    else:  # "d"
        draw.polygon([(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)], fill=color, outline="white")
