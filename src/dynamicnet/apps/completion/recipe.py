"""Objectives and recipes for dynamic image completion.

An *objective* weighs terms on the filled image (known pixels are composited back, so only the hole matters):
L1 reconstruction inside the hole, an adversarial term from a discriminator that judges the patches around the
hole, and optional VGG-distance, SSIM and texture (VGG statistics) terms inside the hole. A *recipe* pairs the
main network's objective O0 with the tuning blocks' objective O1 and fixes the architecture, data and schedule.

The paper's figures pair "sharp" (L1 + a strong adversarial term: texture, with GAN artefacts) for θ with
"smooth" (L1 alone: faithful, blurry fills) for the blocks (``celeba``); the best point between them differs per
image. The ``photos`` recipe starts from the marching prefill (coherence transport, :mod:`.march`), which on its
own fills better than OpenCV's classical inpainting, and trains θ for a "detailed" refinement of it (L1 plus the
VGG-feature distance and SSIM in the hole, which ask for the structure and contrast that L1 averages away; a
GAN-first θ still filled worse than OpenCV after 3200 steps at this CPU scale) at a low learning rate, and the
blocks for the smooth L1 fill. Nothing in the code assumes either order; a tuning objective with an adversarial
term trains a fresh discriminator.

λ_adv = 0.1 against λ_L1 = 1 is "strong": pix2pix-style completion uses ≈ 0.01 relative adversarial weight;
ten times that makes the generator trade reconstruction for texture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ...core.dynamic import HIGHER
from ...errors import DynamicNetError
from ...training import Phase
from ...training.setup import load_recipe_file, recipe_kwargs
from .model import DEFAULT_POINTS, HOLE_FILLS

GAN_KINDS = ("hinge", "bce")


@dataclass(frozen=True)
class CompletionObjective:
    """λ_L1·L1(hole) + λ_adv·adversarial(hole patches) + λ_perc·VGG distance(hole) + λ_ssim·(1 − SSIM(hole))
    + λ_tex·texture distance(hole) (:func:`~.metrics.texture_hole_distance`)."""

    l1_weight: float = 1.0
    adversarial_weight: float = 0.0
    perceptual_weight: float = 0.0
    ssim_weight: float = 0.0
    gan_kind: str = "hinge"
    texture_weight: float = 0.0

    @property
    def needs_vgg(self) -> bool:
        """Whether training for it needs the VGG16 features (loaded only then: a 57 MB read)."""
        return self.perceptual_weight > 0 or self.texture_weight > 0

    def __post_init__(self) -> None:
        if self.gan_kind not in GAN_KINDS:
            raise DynamicNetError(f"unknown GAN loss {self.gan_kind!r}; expected one of {', '.join(GAN_KINDS)}")
        weights = (
            self.l1_weight,
            self.adversarial_weight,
            self.perceptual_weight,
            self.ssim_weight,
            self.texture_weight,
        )
        if min(weights) < 0:
            raise DynamicNetError(f"objective weights must be ≥ 0, got {self}")
        if max(weights) == 0:
            raise DynamicNetError("an objective needs at least one non-zero weight")

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CompletionRecipe:
    """Everything needed to train one dynamic completion model, apart from the data and the output folder.

    ``hole`` is the side of the centre square (default: half of ``size``, as in the paper's figures);
    ``mask`` the training mask kind (see :data:`dynamicnet.data.masks.MASK_KINDS`); ``crop_scale`` the
    area range of the random square crops taken from photo folders (small crops give 20 photos variety);
    ``hole_fill`` what the network's input shows in the hole (see :func:`~.model.masked_input`).
    """

    name: str
    main: CompletionObjective
    tuning: CompletionObjective
    width: int = 24
    dilations: tuple[int, ...] = (2, 4, 8, 1)
    insertion_points: tuple[str, ...] = DEFAULT_POINTS
    zero_init: bool = True
    disc_width: int = 32
    size: int = 64
    hole: int | None = None
    mask: str = "mixed"
    hole_fill: str = "grey"
    data: str = "default"
    crop_scale: tuple[float, float] = (0.02, 1.0)
    batch_size: int = 16
    main_lr: float = 5e-4
    disc_lr: float = 2e-4
    tuning_lr: float = 5e-4
    main_steps: int = 3000
    tuning_steps: int = 1000
    description: str = ""

    def __post_init__(self) -> None:
        if self.hole_fill not in HOLE_FILLS:
            raise DynamicNetError(f"unknown hole_fill {self.hole_fill!r}; expected one of {', '.join(HOLE_FILLS)}")

    @property
    def hole_side(self) -> int:
        return self.hole if self.hole is not None else self.size // 2

    def objectives(self) -> dict[str, CompletionObjective]:
        return {"main": self.main, HIGHER: self.tuning}

    def phases(self) -> list[Phase]:
        """θ for O0 (blocks off), then the "higher" block set for O1 at α = 1 with θ frozen (paper Sec. 3)."""
        return [
            Phase("main", "main", self.main_steps, self.main_lr, objective="main", alpha=0.0),
            Phase(HIGHER, "tuning", self.tuning_steps, self.tuning_lr, objective=HIGHER, sets=(HIGHER,), alpha=1.0),
        ]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["main"], d["tuning"] = self.main.describe(), self.tuning.describe()
        for key in ("dilations", "insertion_points", "crop_scale"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompletionRecipe:
        kwargs = recipe_kwargs(cls, data)
        try:
            kwargs["main"] = CompletionObjective(**data["main"])
            kwargs["tuning"] = CompletionObjective(**data["tuning"])
            for key in ("dilations", "crop_scale"):
                if key in kwargs:
                    kwargs[key] = tuple(kwargs[key])
            return cls(**kwargs)
        except (KeyError, TypeError) as exc:
            raise DynamicNetError(f"invalid completion recipe: {exc}") from None

    def with_overrides(self, **overrides: Any) -> CompletionRecipe:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


SHARP = CompletionObjective(l1_weight=1.0, adversarial_weight=0.1)
SMOOTH = CompletionObjective(l1_weight=1.0)
# L1 keeps the colours; the VGG distance (the evaluation's own) and SSIM ask for the structure and contrast L1
# averages away. Each term is about 0.1–0.2 on a blurry fill at these weights.
DETAILED = CompletionObjective(l1_weight=1.0, perceptual_weight=0.3, ssim_weight=0.3)
# The VGG distance keeps the fill in place; the texture term (about 0.01–0.05 per image, hence the weight) asks
# for the truth's kind and amount of texture wherever its strokes fall.
TEXTURED = CompletionObjective(l1_weight=1.0, perceptual_weight=0.3, texture_weight=3.0)


def builtin_recipes() -> dict[str, CompletionRecipe]:
    """``photos``: the bundled model's recipe — the paper's scale (128² with a 64² hole, plus rectangles and
    free-form strokes) on the large registry photo set, sized for a CPU (width 24, batch 8); ``photos-texture``:
    the same θ with blocks that draw texture (docs/completion.md measures both); ``celeba``: the paper's setting
    (128² faces, 64² centre hole), a GPU-scale schedule.

    Crops cover 5–50 % of a photo's largest square, so a 128² crop shows what a 256–450 px window of a 640 px
    photo shows: the neighbourhood the pipeline hands the network when it fills a hole of about a quarter of
    that window in a full-size photo.
    """
    photos = CompletionRecipe(
        "photos",
        DETAILED,
        SMOOTH,
        width=24,
        dilations=(2, 4, 8, 16),
        size=128,
        hole_fill="march",
        data="large",
        crop_scale=(0.05, 0.5),
        batch_size=8,
        main_steps=800,
        tuning_steps=300,
        main_lr=2e-4,
        description="completion, 128² photo crops, 64² holes: α=0 detailed (L1 + VGG + SSIM) → α=1 smooth (L1)",
    )
    return {
        "photos": photos,
        "photos-texture": replace(
            photos,
            name="photos-texture",
            tuning=TEXTURED,
            tuning_steps=500,
            description="completion, 128² photo crops, 64² holes: α=0 detailed (L1 + VGG + SSIM) → α=1 textured "
            "(L1 + VGG + texture statistics)",
        ),
        "celeba": CompletionRecipe(
            "celeba",
            SHARP,
            SMOOTH,
            width=32,
            dilations=(2, 4, 8, 16),
            size=128,
            mask="center",
            crop_scale=(1.0, 1.0),
            batch_size=32,
            main_steps=30000,
            tuning_steps=10000,
            description="completion, 128² CelebA faces, 64² centre hole: α=0 sharp (GAN) → α=1 smooth (L1)",
        ),
    }


def load_recipe(name_or_path: str) -> CompletionRecipe:
    """A built-in recipe by name, or a JSON recipe file (same keys as :meth:`CompletionRecipe.to_dict`)."""
    return load_recipe_file(name_or_path, builtin_recipes(), CompletionRecipe.from_dict)
