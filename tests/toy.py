"""Tiny models, datasets and a task shared by the core and training tests (fast on 2 CPU cores)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dynamicnet.core import DynamicNet, register_architecture, save_pretrained
from dynamicnet.training import Phase, Trainer, TrainerConfig


class TinyNet(nn.Module):
    """conv → BN → ReLU → conv → ReLU → conv: three natural insertion points ("c2", "c3", "head")."""

    def __init__(self, width: int = 8, norm: bool = True) -> None:
        super().__init__()
        self.width, self.norm = width, norm
        self.c1 = nn.Conv2d(3, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width) if norm else nn.Identity()
        self.c2 = nn.Conv2d(width, width, 3, padding=1)
        self.c3 = nn.Conv2d(width, width, 3, padding=1)
        self.head = nn.Conv2d(width, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.c1(x)))
        x = torch.relu(self.c2(x))
        x = torch.relu(self.c3(x))
        return self.head(x)


register_architecture("tiny-test", TinyNet)
POINTS = ("c2", "c3", "head")


def tiny_dynamic(sets=("higher",), norm: bool = True, seed: int = 0) -> DynamicNet:
    torch.manual_seed(seed)
    return DynamicNet(TinyNet(norm=norm), POINTS, sets=sets)


class PairDataset:
    """Deterministic (input, target) pairs; the target is a fixed colour transform of the input."""

    def __init__(self, n: int = 12, size: int = 8, gain: float = 0.5) -> None:
        self.n, self.size, self.gain = n, size, gain

    def __len__(self) -> int:
        return self.n

    def get(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        base = np.random.default_rng(index).random((3, self.size, self.size), dtype=np.float32)
        if rng.random() < 0.5:  # augmentation drawn from the loop's rng, as real datasets do
            base = base[:, :, ::-1].copy()
        x = torch.from_numpy(base)
        return x, x.flip(0) * self.gain


class ToyTask:
    """Regression: θ learns target gain 0.5, the "higher" set learns gain 1.0, "lower" gain 0.0."""

    gains = {"main": 0.5, "higher": 1.0, "lower": 0.0}

    def __init__(self, model: DynamicNet) -> None:
        self.model = model
        self.phase = None

    def extra_modules(self) -> dict[str, nn.Module]:
        return {}

    def start_phase(self, phase, params):
        self.phase = phase
        return {"model": torch.optim.Adam(params, lr=phase.lr)}

    def training_step(self, ctx, batch) -> dict[str, float]:
        x, y = batch
        y = y / 0.5 * self.gains[ctx.phase.objective]
        noise = ctx.shard(torch.randn(len(x) * ctx.world_size, 1, 1, 1, generator=ctx.generator))
        out = ctx.module("model")(x + 0.01 * noise, alpha=ctx.phase.alpha)
        loss = torch.nn.functional.mse_loss(out, y)
        ctx.optimize(loss, "model")
        return {"loss": loss.item()}

    def sample(self, phase) -> torch.Tensor | None:
        with torch.no_grad():
            x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
            return self.model(x, alpha=phase.alpha).clamp(0, 1)

    def export(self, out_dir: Path, provenance: dict[str, Any]) -> Path:
        m = self.model.main
        return save_pretrained(
            self.model,
            out_dir,
            application="toy",
            architecture={"name": "tiny-test", "kwargs": {"width": m.width, "norm": m.norm}},
            objectives={k: {"gain": v} for k, v in self.gains.items()},
            provenance=provenance,
        )


# ------------------------------------------------------------------ runs of the toy task, in process and as a process
RUNNER = Path(__file__).parent / "training" / "run_toy.py"


def toy_phases(steps: int = 6) -> list[Phase]:
    return [
        Phase("main", "main", steps, 1e-2, objective="main"),
        Phase("higher", "tuning", steps, 1e-2, objective="higher", sets=("higher",), alpha=1.0),
    ]


def fit_toy(out, steps=6, resume=False, **kw):
    torch.manual_seed(0)
    model = tiny_dynamic()
    cfg = TrainerConfig(out, batch_size=4, seed=1, log_every=1, checkpoint_every=2, progress=False, resume=resume, **kw)
    return Trainer(ToyTask(model), PairDataset(), toy_phases(steps), cfg).fit(), model


def run_toy(out, *extra, env=None):
    """``run_toy.py`` in a process of its own (to be killed, resumed or run under torchrun)."""
    return subprocess.Popen(
        [sys.executable, str(RUNNER), str(out), *extra],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_checkpoint(path: Path, proc, phase_index: int, step: int, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists():
            state = torch.load(path, weights_only=True)
            if (state["phase_index"], state["step"]) >= (phase_index, step):
                return state
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")
