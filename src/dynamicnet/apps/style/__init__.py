"""Dynamic style transfer: stylisation level, two-style interpolation, brush scale, dual models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...utils.lazy import lazy_getattr

_LAZY = {
    "REFERENCE_POINTS": ".model",
    "TransformerNet": ".model",
    "StylePipeline": ".pipeline",
    "StyleObjective": ".recipe",
    "StyleRecipe": ".recipe",
    "builtin_recipes": ".recipe",
    "load_recipe": ".recipe",
}
__getattr__ = lazy_getattr(__name__, _LAZY)
__all__ = [
    "REFERENCE_POINTS",
    "StyleObjective",
    "StylePipeline",
    "StyleRecipe",
    "TransformerNet",
    "builtin_recipes",
    "load_recipe",
]

if TYPE_CHECKING:
    from .model import REFERENCE_POINTS, TransformerNet
    from .pipeline import StylePipeline
    from .recipe import StyleObjective, StyleRecipe, builtin_recipes, load_recipe
