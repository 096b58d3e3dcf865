"""Atomic checkpoints for exact resume, the SHA-256 sidecar that vouches for them, and the run folder's checks.

A checkpoint holds the model and any extra modules, every optimizer, the phase and step, and all RNG states
(torch, the task generator, NumPy, Python). The data order and each sample's augmentation are derived from
(seed, phase, epoch, position), so nothing about the data pipeline needs saving. On CPU a run killed after a
checkpoint and resumed ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ..errors import DynamicNetError
from ..utils.fs import atomic_path, atomic_write_text, sha256_file
from .config import Phase

CHECKPOINT_VERSION = 1


def checkpoint_path(out_dir: Path) -> Path:
    """Where the run writing to ``out_dir`` keeps the state it resumes from."""
    return Path(out_dir) / "train" / "checkpoint.pt"


def check_out_dir(out_dir: Path, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse to start a run that would replace a finished model folder, or clash with another run's checkpoint.

    Called before any expensive set-up, so a mistyped ``--output`` costs nothing and loses nothing.
    """
    if resume:
        return
    if checkpoint_path(out_dir).exists():
        raise DynamicNetError(
            f"{out_dir} already holds a training checkpoint; continue it with "
            "TrainerConfig(resume=True) or choose another out_dir",
            cli=f"{out_dir} already holds a training checkpoint; pass --resume to continue it or "
            "choose another output folder",
        )
    if (Path(out_dir) / "config.json").exists() and not overwrite:
        raise DynamicNetError(
            f"{out_dir} already holds a finished model; replace it with TrainerConfig(overwrite=True) "
            "or choose another out_dir",
            cli=f"{out_dir} already holds a finished model; pass --overwrite to replace it or "
            "choose another output folder",
        )


def fingerprint(phases: Sequence[Phase], batch_size: int, seed: int, dataset_len: int, world_size: int) -> str:
    """What must not change between a run and its resumption for "exact" to mean anything, as checkpoints store
    it: a new spelling would refuse every checkpoint written before."""
    return json.dumps(
        {
            "phases": [asdict(p) | {"alpha": repr(p.alpha)} for p in phases],
            "batch_size": batch_size,
            "seed": seed,
            "dataset_len": dataset_len,
            "world_size": world_size,
        },
        sort_keys=True,
    )


def save(
    path: Path,
    *,
    fingerprint: str,
    phase: str,
    phase_index: int,
    step: int,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    generator: torch.Generator,
    elapsed: float,
    runs: Sequence[Mapping[str, Any]],
) -> None:
    """Write the state to resume from at (``phase_index``, ``step``) atomically, with its sidecar; refused while a
    module holds NaN or ∞, so the checkpoint on disk stays the last good state."""
    for name, module in modules.items():
        if not all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point()):
            raise DynamicNetError(
                f"{name} holds NaN or infinite values at phase {phase!r} step {step}: not saved "
                f"over {path} (its last good state)"
            )
    numpy_state = cast(tuple[Any, ...], np.random.get_state())  # the legacy (name, keys, pos, …) tuple
    state = {
        "version": CHECKPOINT_VERSION,
        "fingerprint": fingerprint,
        "phase_index": phase_index,
        "step": step,
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "rng": {
            "torch": torch.get_rng_state(),
            "generator": generator.get_state(),
            "numpy": json.dumps(numpy_state[1].tolist()),
            "numpy_pos": int(numpy_state[2]),
            "python": json.dumps(random.getstate()[1]),
        },
        "elapsed": elapsed,
        "runs": json.dumps(runs),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        # The sidecar lists the new file's SHA-256 and the one it replaces, and is renamed into place before
        # the checkpoint is: whenever a kill lands, the checkpoint on disk is one the sidecar vouches for.
        old = _digests(_sidecar(path))[:1]
        atomic_write_text(_sidecar(path), "\n".join([sha256_file(tmp), *old]) + "\n")


def load(path: Path, fingerprint: str) -> dict[str, Any]:
    """The state saved in ``path``, checked against its sidecar, the format version and the run's ``fingerprint``."""
    if not path.is_file():
        raise DynamicNetError(
            f"resume=True but there is no checkpoint to resume from at {path}",
            cli=f"--resume: no checkpoint to resume from at {path}",
        )
    known = _digests(_sidecar(path))
    if known and sha256_file(path) not in known:  # runs from before the sidecar existed have none
        raise DynamicNetError(
            f"{path}: damaged (its SHA-256 does not match {_sidecar(path).name}); "
            "restore it from a backup or start a new run"
        )
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a torn or foreign file: say which file, keep the message one line
        raise DynamicNetError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    if state.get("version") != CHECKPOINT_VERSION:
        raise DynamicNetError(f"{path}: unsupported checkpoint version {state.get('version')!r}")
    if state["fingerprint"] != fingerprint:
        settings = "different settings (phases, steps, batch size, seed, data or process count)"
        raise DynamicNetError(
            f"{path}: was written with {settings}; resume with the same settings or use a new out_dir",
            cli=f"{path}: was written with {settings}; resume with the same settings or use a new --output folder",
        )
    return state


def restore(
    state: Mapping[str, Any], modules: Mapping[str, nn.Module], generator: torch.Generator
) -> tuple[float, list[dict[str, Any]]]:
    """Put modules and every RNG back exactly as they were when ``state`` was saved; return the training time and
    the runs (processes) it records."""
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    generator.set_state(rng["generator"])
    np.random.set_state(("MT19937", np.array(json.loads(rng["numpy"]), dtype=np.uint32), rng["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(json.loads(rng["python"])), None))
    return float(state["elapsed"]), json.loads(state.get("runs", "[]"))


def _sidecar(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + ".sha256")  # lists its SHA-256 (and the replaced one's)


def _digests(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the hidden temporary files an earlier, killed process of this run left mid-write in ``folder`` and
    ``folder/train`` (``.checkpoint.pt.<random>.tmp.pt``, ``.model.safetensors.<random>.tmp`` …): only names
    :func:`~dynamicnet.utils.fs.atomic_path` makes for the files a run writes."""
    owned = ("checkpoint.pt", "checkpoint.pt.sha256", "model.safetensors", "config.json", "metrics.jsonl")
    for d in (folder, folder / "train"):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.is_file() and any(p.name.startswith(f".{name}.") and ".tmp" in p.name for name in owned):
                with contextlib.suppress(OSError):
                    p.unlink()
