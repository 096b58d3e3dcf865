"""Dynamic image completion: α walks between a smooth L1 fill and a sharp, GAN-trained one (the recipe says
which end is α = 0; the bundled ``completion-photos``: smooth at 0, sharp at 1).

The seed (Shoshan et al., 2019): a network trained with a sub-optimal objective can be improved by letting
the user — or a per-image criterion — pick the working point. :class:`CompletionPipeline` fills holes at any
α, sweeps α, and proposes an α per image without ground truth (:meth:`CompletionPipeline.auto_alpha`).
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
    "AUTO_GRID": ".pipeline",
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
    from .model import (
        ARCHITECTURE,
        DEFAULT_POINTS,
        CompletionNet,
        PatchDiscriminator,
        composite,
        masked_input,
    )
    from .pipeline import AUTO_GRID, CompletionPipeline
    from .recipe import CompletionObjective, CompletionRecipe, builtin_recipes, load_recipe
