"""Dynamic style transfer: stylisation level, two-style interpolation, brush scale, dual models."""
from .model import REFERENCE_POINTS, TransformerNet
from .pipeline import StylePipeline
from .recipe import StyleObjective, StyleRecipe, builtin_recipes, load_recipe

__all__ = ["REFERENCE_POINTS", "StyleObjective", "StylePipeline", "StyleRecipe", "TransformerNet",
           "builtin_recipes", "load_recipe"]
