"""Dynamic DCGAN: one generator walks from the images with attribute a = v (α=0) to those with a ≠ v (α=1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...utils.lazy import lazy_getattr

_LAZY = {
    "REFERENCE_POINTS": ".model",
    "DCGANDiscriminator": ".model",
    "DCGANGenerator": ".model",
    "DCGANPipeline": ".pipeline",
    "DCGANRecipe": ".recipe",
    "builtin_recipes": ".recipe",
    "load_recipe": ".recipe",
}
__getattr__ = lazy_getattr(__name__, _LAZY)
__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DCGANPipeline",
    "DCGANRecipe",
    "REFERENCE_POINTS",
    "builtin_recipes",
    "load_recipe",
]

if TYPE_CHECKING:
    from .model import REFERENCE_POINTS, DCGANDiscriminator, DCGANGenerator
    from .pipeline import DCGANPipeline
    from .recipe import DCGANRecipe, builtin_recipes, load_recipe
