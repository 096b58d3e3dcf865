"""How each application plugs into the demo: load a pipeline, turn a request into a prepared session.

The demo calls pipelines only (never training code). An adapter knows which form fields its application
needs and returns a :class:`Session` whose ``render(alpha, preview)`` gives an image.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..apps.pipeline import PIPELINES, pipeline_class
from ..core.checkpoint import read_config
from ..core.dynamic import alpha_limits
from ..data.figures import image_grid
from ..data.geometry import resize_max_side
from ..data.io import LoadedImage, to_pil_image
from ..errors import DynamicNetError
from .sessions import Session, tensor_bytes


@dataclass
class ModelEntry:
    """A model the demo serves."""

    name: str
    folder: Path
    config: dict[str, Any]
    pipeline: Any

    def describe(self) -> dict[str, Any]:
        dyn = self.config["dynamic"]
        return {
            "name": self.name,
            "application": self.config["application"],
            "alpha_range": dyn.get("alpha_range", [0.0, 1.0]),
            "blocks": dyn["insertion_points"],
            "sets": dyn["sets"],
            "description": self.config.get("extra", {}).get("description", ""),
            "labels": objective_labels(self.config),
            # The style image of each objective (style models): the page shows thumbnails only when the ends'
            # differ, since two copies of one painting say nothing; the labels say it in words then.
            "styles": {
                name: str(obj["style"])
                for name, obj in self.config.get("objectives", {}).items()
                if isinstance(obj, Mapping) and "style" in obj
            },
        }


_STYLE_NAMES = {"starry_night": "Starry Night", "graffiti": "graffiti mural"}


def _completion_label(objective: Mapping[str, Any]) -> str:
    if float(objective.get("adversarial_weight", 0)) > 0:
        return "sharp (adversarial)"
    if float(objective.get("texture_weight", 0)) > 0:
        return "textured (VGG statistics)"
    if float(objective.get("perceptual_weight", 0)) > 0 or float(objective.get("ssim_weight", 0)) > 0:
        return "detailed (VGG + SSIM)"
    return "smooth (L1)"


def objective_labels(config: Mapping[str, Any]) -> dict[str, str]:
    """Words for what each end of the slider means, from the model's objectives: ``{"main": …, set: …}``.

    Style: the artwork, and "lighter"/"stronger" when a set keeps θ's artwork at another weight (two ends that
    share a style image look alike as thumbnails, so words say it). DC-GAN: the attribute values. Completion:
    what the loss favours (an adversarial term: "sharp"; a texture term: "textured"; a VGG or SSIM term:
    "detailed"; L1 alone: "smooth").
    """
    objectives = config.get("objectives", {})
    app = config.get("application")
    labels: dict[str, str] = {}
    main = objectives.get("main", {})
    for name, obj in objectives.items():
        if not isinstance(obj, Mapping):
            continue
        if app == "style":
            style = str(obj.get("style", "?"))
            label = _STYLE_NAMES.get(style, Path(style).stem.replace("_", " "))
            if name != "main" and style == main.get("style"):
                ratio = float(obj.get("style_weight", 1)) / float(main.get("style_weight", 1) or 1)
                label += ", stronger" if ratio > 1 else ", lighter" if ratio < 1 else ""
            labels[name] = label
        elif app == "dcgan":
            values = obj.get("values") or [obj.get("value", "?")]
            labels[name] = ", ".join(str(v).replace("_", " ") for v in values)
        elif app == "completion":
            labels[name] = _completion_label(obj)
    return labels


def _style_session(entry: ModelEntry, image: LoadedImage | None, form: Mapping[str, str], max_side: int) -> Session:
    if image is None:
        raise DynamicNetError("upload an image first")
    prepared = entry.pipeline.session(image.rgb, max_side=max_side, preview_side=max(64, max_side // 4))
    prepared.render(0.0)  # warm the caches; also sizes the session for the memory budget
    h, w = prepared.size
    return Session(
        entry.name,
        prepared.render,
        tensor_bytes(prepared),
        {"width": w, "height": h},
        measure=lambda: tensor_bytes(prepared),
    )


def form_int(fields: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """An integer form field within ``[lo, hi]`` (``default`` when absent)."""
    raw = fields.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise DynamicNetError(f"{name} must be a number, got {raw!r}") from None
    if not (lo <= value <= hi) or value != int(value):
        raise DynamicNetError(f"{name} must be an integer between {lo} and {hi}, got {raw!r}")
    return int(value)


def _dcgan_session(entry: ModelEntry, image: LoadedImage | None, form: Mapping[str, str], max_side: int) -> Session:
    pipe = entry.pipeline
    seed = form_int(form, "seed", 0, 0, 2**31 - 1)
    n = form_int(form, "n", 16, 1, 64)
    session = pipe.session(n, seed)  # fixed z: the slider moves only α
    zoom = max(1, 128 // pipe.image_size)  # small samples are shown enlarged (nearest neighbour)
    ncol = math.ceil(math.sqrt(n))

    def render(alpha: Any, preview: bool) -> torch.Tensor:
        images = session.render(alpha)  # (n, C, S, S) in [0, 1]
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        images = F.interpolate(images, scale_factor=zoom, mode="nearest")
        return image_grid(images, nrow=ncol)

    return Session(
        entry.name, render, tensor_bytes(session), {"seed": seed, "n": n}, measure=lambda: tensor_bytes(session)
    )


def _completion_session(
    entry: ModelEntry, image: LoadedImage | None, form: Mapping[str, Any], max_side: int
) -> Session:
    if image is None:
        raise DynamicNetError("upload an image first")
    rgb = resize_max_side(image.rgb, max_side)
    h, w = rgb.shape[-2:]
    mask_image = form.get("mask_image")
    if mask_image is not None:  # drawn on the page: white = hole, at the image's displayed size
        drawn = mask_image.rgb.mean(0, keepdim=True)
        if tuple(drawn.shape[-2:]) != (h, w):
            drawn = F.interpolate(drawn[None], size=(h, w), mode="area")[0]
        mask = (drawn > 0.5).float()
    else:
        mask = entry.pipeline.default_mask(h, w)
    pipe = entry.pipeline
    session = pipe.session(rgb, mask)  # validates the mask: empty or full → a clear 400

    def auto() -> dict[str, Any]:
        # Runs in the job pool while this session's slider keeps rendering: the pipeline prepares its own copy
        # of the input (one network prefix pass, a fraction of auto α's grid of fills) instead of sharing the
        # session's, whose caches renders update and are not safe to use from two threads at once.
        return {"alpha": pipe.auto_alpha(session.image, session.mask)}

    return Session(
        entry.name,
        lambda alpha, preview: session.render(_number(alpha)),
        tensor_bytes(session),
        {"width": w, "height": h, "hole": _hole_overlay(session.mask)},
        actions={"auto": auto},
        measure=lambda: tensor_bytes(session),
    )


def _hole_overlay(mask: torch.Tensor) -> str:
    """The hole the model fills, as a PNG data URL the page paints over its input: mid-grey where the hole is,
    transparent elsewhere (the page knows the drawn mask, but only the server knows the default one)."""
    grey = torch.full((3, *mask.shape[-2:]), 0.5)
    buf = io.BytesIO()
    to_pil_image(grey, alpha=mask).save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _number(alpha: Any) -> float:
    if not isinstance(alpha, float):
        raise DynamicNetError("completion takes one α (a number)")
    return alpha


SESSIONS: dict[str, Callable[[ModelEntry, LoadedImage | None, Mapping[str, str], int], Session]] = {
    "style": _style_session,
    "dcgan": _dcgan_session,
    "completion": _completion_session,
}


def load_entry(name: str, folder: Path, device: torch.device | str = "cpu", engine: str = "torch") -> ModelEntry | None:
    """The model as a demo entry on ``device``, or None when the demo has no adapter for its application."""
    config = read_config(folder)
    if config["application"] not in PIPELINES:
        return None
    pipeline = pipeline_class(config["application"]).from_pretrained(folder, device, engine=engine)
    return ModelEntry(name, folder, config, pipeline)


def style_image_of(entry: ModelEntry, objective: str = "main") -> Path | None:
    """The style image a style model's objective was trained with, when it is available here."""
    from ..data.assets import resolve_style_image

    spec = entry.config.get("objectives", {}).get(objective)
    if not spec:
        return None
    try:
        return resolve_style_image(spec["style"])
    except DynamicNetError:
        return None


def parse_alpha(raw: Any, entry: ModelEntry) -> Any:
    """Validate an α from JSON: a number, or one number per block, each within the model's usable range."""
    n = len(entry.config["dynamic"]["insertion_points"])
    lo, hi = alpha_limits(entry.config["dynamic"].get("alpha_range", (0.0, 1.0)))

    def number(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DynamicNetError("alpha must be a number or a list of numbers")
        try:
            value = float(v)
        except OverflowError:  # a JSON integer too large for a float
            value = math.inf
        if not lo <= value <= hi:
            raise DynamicNetError(
                f"alpha {v if abs(value) < 1e15 else value:g} is outside this model's usable range [{lo:g}, {hi:g}]"
            )
        return value

    if isinstance(raw, list):
        if len(raw) != n:
            raise DynamicNetError(f"alpha has {len(raw)} values; this model has {n} blocks")
        return [number(v) for v in raw]
    return number(raw)


__all__ = ["SESSIONS", "ModelEntry", "form_int", "load_entry", "parse_alpha", "style_image_of"]
