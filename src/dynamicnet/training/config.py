"""What a training run is configured with: its phases, and the loop's settings that do not depend on the application.

A *phase* is configuration, not code: which parameters train (θ or a block set), at which α the blocks run,
how many steps, which learning rate, and which objective the task should use.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import DynamicNetError


@dataclass(frozen=True)
class Phase:
    """One training phase.

    Attributes:
        name: label used in logs, samples and checkpoints (``"main"``, ``"tuning"``, ``"lower"``, …).
        trainable: ``"main"`` trains θ (blocks off); ``"tuning"`` freezes θ and trains the blocks of ``sets``.
        sets: block sets that train in a tuning phase.
        alpha: α the blocks run at during this phase: 0 for the main phase, 1 for the "higher" set, −1 for a
            "lower" set, ``{"set_k": 1}`` (one-hot) for set k of a K-set model.
        steps: optimizer steps in this phase.
        lr: learning rate (the task builds its optimizers from it).
        objective: the key of the objective the task optimises in this phase.
    """

    name: str
    trainable: str
    steps: int
    lr: float
    objective: str
    sets: tuple[str, ...] = ()
    alpha: Any = 0.0

    def __post_init__(self) -> None:
        if self.trainable not in ("main", "tuning"):
            raise ValueError(f"phase {self.name!r}: trainable must be 'main' or 'tuning', got {self.trainable!r}")
        if self.steps < 0:
            raise ValueError(f"phase {self.name!r}: steps must be ≥ 0, got {self.steps}")
        if self.trainable == "tuning" and _switched_off(self.alpha):
            # At α = 0 the blocks are not even evaluated, so their loss has no gradient: without this check the
            # phase would die in backward() with autograd's "element 0 of tensors does not require grad".
            raise ValueError(
                f"phase {self.name!r}: a tuning phase needs a non-zero alpha (at α = 0 the blocks do "
                "not run, so nothing would train); use alpha=1.0 for the 'higher' set, -1.0 for "
                "'lower', or {'set_name': 1.0}"
            )


def _switched_off(alpha: Any) -> bool:
    """Whether ``alpha`` (any form :meth:`DynamicNet.resolve_alpha` takes, or None) runs no block at all."""
    if isinstance(alpha, Mapping):
        return all(_switched_off(v) for v in alpha.values())
    if isinstance(alpha, torch.Tensor):
        return not bool(alpha.ne(0).any())
    if isinstance(alpha, (list, tuple)):
        return all(_switched_off(v) for v in alpha)
    return alpha is None or alpha == 0


@dataclass
class TrainerConfig:
    """Settings of the loop that do not depend on the application."""

    out_dir: Path
    batch_size: int = 4
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    log_every: int = 10
    sample_every: int = 0
    checkpoint_every: int = 100
    progress: bool | None = True  # a bar over the steps; None: only when stderr is a terminal (the CLI's default)
    resume: bool = False
    overwrite: bool = False  # replace a finished model folder in out_dir (otherwise refused)
    tensorboard: bool = False  # also write metrics and samples as TensorBoard events to out_dir/train/tensorboard

    def __post_init__(self) -> None:
        # Python callers write TrainerConfig("runs/x", device="cuda"); the loop relies on Path and torch.device.
        self.out_dir = Path(self.out_dir)
        self.device = torch.device(self.device)
        if self.tensorboard:
            check_tensorboard()  # now, not after the set-up work that precedes fit()


def check_tensorboard() -> None:
    """Fail in one line naming the extra when TensorBoard logging is asked for and the package is missing.

    Finding the package is cheap (importing ``torch.utils.tensorboard`` takes seconds), so callers can check
    before any expensive set-up."""
    if importlib.util.find_spec("tensorboard") is None:
        raise DynamicNetError(
            "TensorBoard logging needs the tensorboard package: pip install 'dynamicnet[tensorboard]'",
            cli="--tensorboard needs the tensorboard package: pip install 'dynamicnet[tensorboard]'",
        )
