"""Dynamic DCGAN: one generator walks from the images with attribute a = v (α=0) to those with a ≠ v (α=1)."""
from .model import REFERENCE_POINTS, DCGANDiscriminator, DCGANGenerator
from .pipeline import DCGANPipeline
from .recipe import DCGANRecipe, builtin_recipes, load_recipe

__all__ = ["REFERENCE_POINTS", "DCGANDiscriminator", "DCGANGenerator", "DCGANPipeline", "DCGANRecipe",
           "builtin_recipes", "load_recipe"]
