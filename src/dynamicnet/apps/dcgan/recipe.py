"""Recipes for the dynamic DCGAN: architecture, insertion point and schedule, apart from the data.

O0 is "look like the images whose attribute ``a`` has the value ``v``", O1 "look like the images with ``a ≠ v``";
both are GAN objectives (BCE), each against its own discriminator. The schedule is given in epochs of the
subset each phase trains on, as in the reference (20 + 20 epochs of CelebA); the trainer counts steps, so
:meth:`DCGANRecipe.phases` converts with the subset sizes. Explicit step counts override the epochs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from ...core.dynamic import HIGHER
from ...errors import DynamicNetError
from ...training import Phase
from ...training.setup import load_recipe_file, recipe_kwargs
from .model import _num_layers


@dataclass(frozen=True)
class DCGANRecipe:
    """Everything needed to train a dynamic DCGAN except the data and the output folder.

    ``main_steps``/``tuning_steps``, when set, replace the epoch counts of their phase.
    """

    name: str
    image_size: int = 64
    nz: int = 100
    ngf: int = 128
    ndf: int = 128
    insertion_points: tuple[str, ...] | None = None  # None: two layers before the output (see below)
    zero_init: bool = False
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    loss: str = "bce"
    main_epochs: float = 20.0
    tuning_epochs: float = 20.0
    main_steps: int | None = None
    tuning_steps: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.loss not in ("bce", "hinge"):
            raise DynamicNetError(f"recipe {self.name!r}: loss must be 'bce' or 'hinge', got {self.loss!r}")
        if self.main_epochs < 0 or self.tuning_epochs < 0:
            raise DynamicNetError(f"recipe {self.name!r}: epochs must be ≥ 0")
        try:
            _num_layers(self.image_size)
        except ValueError as exc:
            raise DynamicNetError(str(exc)) from None

    def points(self) -> tuple[str, ...]:
        """The insertion points: as given, else the input of the last-but-one layer, i.e. at a quarter of the
        output size with two layers after it — ``layer3`` at 64×64 (the reference: 256 channels at 16×16 for
        ngf = 128) and ``layer2`` at 32×32 (8×8). At the same relative depth the block can still reshape the
        whole object (a boot's shaft), which it cannot from in front of the output layer."""
        if self.insertion_points is not None:
            return tuple(self.insertion_points)
        return (f"layer{_num_layers(self.image_size) - 2}",)

    def steps_for(self, epochs: float, images: int) -> int:
        """Optimizer steps for ``epochs`` passes over ``images`` images at the recipe's batch size."""
        return max(1, math.ceil(epochs * images / self.batch_size)) if epochs > 0 else 0

    def phases(self, n_main: int, n_tuning: int) -> list[Phase]:
        """Phase "main": θ for O0 on the ``n_main`` images with a = v; phase "higher": θ frozen, the block for
        O1 on the ``n_tuning`` images with a ≠ v, at α = 1 (paper Sec. 3)."""
        main = self.steps_for(self.main_epochs, n_main) if self.main_steps is None else self.main_steps
        tuning = self.steps_for(self.tuning_epochs, n_tuning) if self.tuning_steps is None else self.tuning_steps
        return [
            Phase("main", "main", main, self.lr, objective="main", alpha=0.0),
            Phase(HIGHER, "tuning", tuning, self.lr, objective=HIGHER, sets=(HIGHER,), alpha=1.0),
        ]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["insertion_points"] = list(self.points())
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DCGANRecipe:
        kwargs = recipe_kwargs(cls, data)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise DynamicNetError(f"invalid recipe: {exc}") from None

    def with_overrides(self, **overrides: Any) -> DCGANRecipe:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def builtin_recipes() -> dict[str, DCGANRecipe]:
    """``reference``: the paper's CelebA setting. ``small``: the CPU-scale setting of the bundled
    Fashion-MNIST model (32×32, widths 32, batch 64); its step counts are in docs/dcgan.md."""
    return {
        "reference": DCGANRecipe("reference", description="DCGAN 64×64, ngf = ndf = 128, 20 + 20 epochs"),
        "small": DCGANRecipe(
            "small",
            image_size=32,
            ngf=32,
            ndf=32,
            batch_size=64,
            main_epochs=20,
            tuning_epochs=20,
            description="DCGAN 32×32, ngf = ndf = 32 (CPU scale)",
        ),
    }


def load_recipe(name_or_path: str) -> DCGANRecipe:
    """A built-in recipe by name, or a JSON file with the keys of :meth:`DCGANRecipe.to_dict`."""
    return load_recipe_file(name_or_path, builtin_recipes(), DCGANRecipe.from_dict)
