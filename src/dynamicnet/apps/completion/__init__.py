"""Dynamic image completion: α walks between two fills of a hole, each trained for its own objective (the recipe
says which; the bundled ``completion-photos``: detailed L1 + VGG + SSIM at α = 0, smooth L1 at α = 1).

The seed (Shoshan et al., 2019): a network trained with a sub-optimal objective can be improved by letting
the user — or a per-image criterion — pick the working point. :class:`CompletionPipeline` fills holes at any
α, sweeps α, and proposes an α per image without ground truth (:mod:`.auto_alpha`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...utils.lazy import lazy_getattr

_LAZY = {
    "ARCHITECTURE": ".model",
    "DEFAULT_POINTS": ".model",
    "CompletionNet": ".model",
    "PatchDiscriminator": ".model",
    "composite": ".model",
    "masked_input": ".model",
    "AUTO_GRID": ".auto_alpha",
    "CompletionPipeline": ".pipeline",
    "CompletionObjective": ".recipe",
    "CompletionRecipe": ".recipe",
    "builtin_recipes": ".recipe",
    "load_recipe": ".recipe",
}
__getattr__ = lazy_getattr(__name__, _LAZY)
__all__ = [
    "ARCHITECTURE",
    "AUTO_GRID",
    "CompletionNet",
    "CompletionObjective",
    "CompletionPipeline",
    "CompletionRecipe",
    "DEFAULT_POINTS",
    "PatchDiscriminator",
    "builtin_recipes",
    "composite",
    "load_recipe",
    "masked_input",
]

if TYPE_CHECKING:
    from .auto_alpha import AUTO_GRID
    from .model import ARCHITECTURE, DEFAULT_POINTS, CompletionNet, PatchDiscriminator, composite, masked_input
    from .pipeline import CompletionPipeline
    from .recipe import CompletionObjective, CompletionRecipe, builtin_recipes, load_recipe
