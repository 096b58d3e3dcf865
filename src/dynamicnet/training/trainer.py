"""One model-agnostic training loop for every phase of every application.

A *phase* is configuration, not code: which parameters train (θ or a block set), at which α the blocks run,
how many steps, which learning rate, and which objective the task should use. The loop itself handles what
every application needs the same way: seeding, a data order that is a pure function of (seed, phase, step),
progress, a JSONL metrics log (and, optionally, the same metrics and samples as TensorBoard events), sample
images, atomic checkpoints, exact resume, and DistributedDataParallel under ``torchrun``.

Exact resume: the checkpoint holds the model and any extra modules, every optimizer, the phase and step, and
all RNG states (torch, the task generator, NumPy, Python). The data order and each sample's augmentation are
derived from (seed, phase, epoch, position), so nothing about the data pipeline needs saving. On CPU a run
killed after a checkpoint and resumed ends bit-identical to an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..core.dynamic import DynamicNet
from ..data.io import image_grid
from ..errors import DynamicNetError
from ..utils.fs import atomic_path, atomic_write_text, sha256_file
from .datasets import TrainDataset, as_train_dataset

CHECKPOINT_VERSION = 1


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
            raise ValueError(f"phase {self.name!r}: a tuning phase needs a non-zero alpha (at α = 0 the blocks do "
                             "not run, so nothing would train); use alpha=1.0 for the 'higher' set, -1.0 for "
                             "'lower', or {'set_name': 1.0}")


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


class MetricsWriter(Protocol):
    """What the loop asks of a TensorBoard ``SummaryWriter`` (tests pass a stand-in)."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None: ...

    def add_image(self, tag: str, img_tensor: torch.Tensor, global_step: int) -> None: ...

    def close(self) -> None: ...


def check_tensorboard() -> None:
    """Fail in one line naming the extra when TensorBoard logging is asked for and the package is missing.

    Finding the package is cheap (importing ``torch.utils.tensorboard`` takes seconds), so callers can check
    before any expensive set-up."""
    if importlib.util.find_spec("tensorboard") is None:
        raise DynamicNetError("TensorBoard logging needs the tensorboard package: "
                              "pip install 'dynamicnet[tensorboard]'",
                              cli="--tensorboard needs the tensorboard package: pip install 'dynamicnet[tensorboard]'")


def tensorboard_writer(log_dir: Path, purge_step: int) -> MetricsWriter:
    """A ``SummaryWriter`` on ``log_dir`` that hides the events of earlier runs from ``purge_step`` on.

    A resumed run re-runs the steps after its checkpoint, so their first logging is hidden rather than shown
    twice (``purge_step``: the first step this run logs; 0 for a new run into a folder with old events).
    """
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter  # seconds to import: only when asked for

    return cast(MetricsWriter, SummaryWriter(log_dir=str(log_dir), purge_step=purge_step))


def check_out_dir(out_dir: Path, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse to start a run that would replace a finished model folder, or clash with another run's checkpoint.

    Called before any expensive set-up, so a mistyped ``--output`` costs nothing and loses nothing.
    """
    ckpt = Path(out_dir) / "train" / "checkpoint.pt"
    if resume:
        return
    if ckpt.exists():
        raise DynamicNetError(f"{out_dir} already holds a training checkpoint; continue it with "
                              "TrainerConfig(resume=True) or choose another out_dir",
                              cli=f"{out_dir} already holds a training checkpoint; pass --resume to continue it or "
                                  "choose another output folder")
    if (Path(out_dir) / "config.json").exists() and not overwrite:
        raise DynamicNetError(f"{out_dir} already holds a finished model; replace it with TrainerConfig(overwrite=True) "
                              "or choose another out_dir",
                              cli=f"{out_dir} already holds a finished model; pass --overwrite to replace it or "
                                  "choose another output folder")


class TaskProtocol(Protocol):
    """An application's side of training (:class:`~dynamicnet.training.Task` is a base class with defaults).

    The loop calls ``start_phase`` (build optimizers over the given parameters, reset per-phase state such as
    a fresh discriminator), then ``training_step`` once per step, ``sample`` for preview images and finally
    ``export`` to write the model folder.
    """

    model: DynamicNet

    def extra_modules(self) -> Mapping[str, nn.Module]: ...

    def start_phase(self, phase: Phase, params: list[nn.Parameter]) -> Mapping[str, torch.optim.Optimizer]: ...

    def training_step(self, ctx: StepContext, batch: Any) -> Mapping[str, float]: ...

    def sample(self, phase: Phase) -> torch.Tensor | None: ...

    def export(self, out_dir: Path, provenance: Mapping[str, Any]) -> Path: ...


@dataclass
class StepContext:
    """What a task's ``training_step`` gets: the (possibly DDP-wrapped) modules, the phase and helpers."""

    phase: Phase
    step: int
    device: torch.device
    generator: torch.Generator
    rank: int
    world_size: int
    optimizers: Mapping[str, torch.optim.Optimizer]
    _wrapped: dict[str, nn.Module]

    def module(self, name: str) -> nn.Module:
        """``"model"`` or an extra module's name, wrapped in DDP when distributed (use it for forward passes)."""
        return self._wrapped[name]

    def optimize(self, loss: torch.Tensor, optimizer: str) -> None:
        """zero_grad → backward → step for one named optimizer (DDP averages gradients during backward)."""
        if not loss.requires_grad:
            raise DynamicNetError(f"phase {self.phase.name!r}: the loss depends on no parameter that trains (computed "
                                  "under torch.no_grad, detached, or in a tuning phase with the model run at α = 0: "
                                  "call it with alpha=ctx.phase.alpha)")
        opt = self.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    def shard(self, tensor: torch.Tensor) -> torch.Tensor:
        """This rank's slice of a tensor drawn for the global batch (e.g. GAN noise), matching the data shard."""
        return tensor[self.rank :: self.world_size]


def _check_phase(model: DynamicNet, phase: Phase) -> None:
    """Refuse, before any work, a tuning phase whose α does not run the block sets it trains (nothing to learn)."""
    if phase.trainable != "tuning":
        return
    unknown = [s for s in phase.sets if s not in model.set_names]
    if unknown:
        raise DynamicNetError(f"phase {phase.name!r}: unknown block set(s) {unknown}; the model has "
                              f"{list(model.set_names)}")
    try:
        running = model.resolve_alpha(phase.alpha)
    except ValueError as exc:
        raise DynamicNetError(f"phase {phase.name!r}: {exc}") from None
    trained = list(phase.sets or model.set_names)
    if not set(running) & set(trained):
        raise DynamicNetError(f"phase {phase.name!r} trains block set(s) {trained} but its alpha={phase.alpha!r} "
                              f"runs {sorted(running)}: give the phase an α that drives them (e.g. "
                              f"{{{trained[0]!r}: 1.0}})")


def _batch_positions(seed: int, phase_index: int, step: int, batch_size: int, n: int) -> list[tuple[int, int, int]]:
    """(epoch, position in epoch, dataset index) of each item of a global batch — a pure function of its inputs."""
    out = []
    for flat in range(step * batch_size, (step + 1) * batch_size):
        epoch, pos = divmod(flat, n)
        perm = np.random.default_rng([seed, phase_index, epoch]).permutation(n)
        out.append((epoch, pos, int(perm[pos])))
    return out


def _collate(items: Sequence[Any]) -> Any:
    first = items[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(list(items))
    if isinstance(first, (tuple, list)):
        return type(first)(_collate(list(group)) for group in zip(*items))
    if isinstance(first, Mapping):
        return {k: _collate([it[k] for it in items]) for k in first}
    return torch.as_tensor(items)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


class Trainer:
    """Run a task's phases with checkpoints and exact resume. See the module docstring."""

    def __init__(self, task: TaskProtocol, dataset: TrainDataset | Dataset[Any], phases: Sequence[Phase],
                 config: TrainerConfig) -> None:
        dataset = as_train_dataset(dataset)
        if len(dataset) == 0:
            raise DynamicNetError("the training dataset is empty")
        if config.batch_size < 1:
            raise DynamicNetError(f"batch size must be ≥ 1, got {config.batch_size}")
        for phase in phases:
            _check_phase(task.model, phase)
        self.task = task
        self.dataset = dataset
        self.phases = list(phases)
        self.config = config
        self.out_dir = Path(config.out_dir)
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world_size = dist.get_world_size() if self.distributed else 1
        if config.batch_size % self.world_size:
            raise DynamicNetError(
                f"batch size {config.batch_size} must be divisible by the number of processes ({self.world_size})"
            )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.started = time.time()
        self._elapsed_before = 0.0  # training time of the runs this one resumes
        self._runs: list[dict[str, Any]] = []  # every process that worked on this training, for provenance
        self._board: MetricsWriter | None = None  # TensorBoard events, on rank 0 while fit() runs

    # ------------------------------------------------------------------ files
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "train" / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "train" / "metrics.jsonl"

    @property
    def tensorboard_dir(self) -> Path:
        return self.out_dir / "train" / "tensorboard"

    def global_step(self, phase_index: int, step: int) -> int:
        """Steps since the start of training: TensorBoard's one axis across phases (main, then tuning, …)."""
        return sum(p.steps for p in self.phases[:phase_index]) + step

    def _fingerprint(self) -> dict[str, Any]:
        # What must not change between a run and its resumption for "exact" to mean anything.
        return {
            "phases": [asdict(p) | {"alpha": repr(p.alpha)} for p in self.phases],
            "batch_size": self.config.batch_size,
            "seed": self.config.seed,
            "dataset_len": len(self.dataset),
            "world_size": self.world_size,
        }

    def _modules(self) -> dict[str, nn.Module]:
        return {"model": self.task.model, **dict(self.task.extra_modules())}

    def _save_checkpoint(self, phase_index: int, step: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        if self.rank != 0:
            return
        for name, module in self._modules().items():
            if not all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point()):
                raise DynamicNetError(f"{name} holds NaN or infinite values at phase {self.phases[phase_index].name!r} "
                                      f"step {step}: not saved over {self.checkpoint_path} (its last good state)")
        numpy_state = cast(tuple[Any, ...], np.random.get_state())  # the legacy (name, keys, pos, …) tuple
        state = {
            "version": CHECKPOINT_VERSION,
            "fingerprint": json.dumps(self._fingerprint(), sort_keys=True),
            "phase_index": phase_index,
            "step": step,
            "modules": {k: m.state_dict() for k, m in self._modules().items()},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "rng": {
                "torch": torch.get_rng_state(),
                "generator": self.generator.get_state(),
                "numpy": json.dumps(numpy_state[1].tolist()),
                "numpy_pos": int(numpy_state[2]),
                "python": json.dumps(random.getstate()[1]),
            },
            "elapsed": time.time() - self.started + self._elapsed_before,
            "runs": json.dumps(self._runs),
        }
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(state, tmp)
            # The sidecar lists the new file's SHA-256 and the one it replaces, and is renamed into place before
            # the checkpoint is: whenever a kill lands, the checkpoint on disk is one the sidecar vouches for.
            old = _digests(self.digest_path)[:1]
            atomic_write_text(self.digest_path, "\n".join([sha256_file(tmp), *old]) + "\n")

    @property
    def digest_path(self) -> Path:
        return self.checkpoint_path.with_name(self.checkpoint_path.name + ".sha256")

    def _load_checkpoint(self) -> dict[str, Any]:
        path = self.checkpoint_path
        if not path.is_file():
            raise DynamicNetError(f"resume=True but there is no checkpoint to resume from at {path}",
                                  cli=f"--resume: no checkpoint to resume from at {path}")
        known = _digests(self.digest_path)
        if known and sha256_file(path) not in known:  # runs from before the sidecar existed have none
            raise DynamicNetError(f"{path}: damaged (its SHA-256 does not match {self.digest_path.name}); "
                                  "restore it from a backup or start a new run")
        try:
            state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a torn or foreign file: say which file, keep the message one line
            raise DynamicNetError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
        if state.get("version") != CHECKPOINT_VERSION:
            raise DynamicNetError(f"{path}: unsupported checkpoint version {state.get('version')!r}")
        if state["fingerprint"] != json.dumps(self._fingerprint(), sort_keys=True):
            settings = "different settings (phases, steps, batch size, seed, data or process count)"
            raise DynamicNetError(f"{path}: was written with {settings}; resume with the same settings or use a new "
                                  "out_dir", cli=f"{path}: was written with {settings}; resume with the same "
                                                 "settings or use a new --output folder")
        return state

    def _restore(self, state: Mapping[str, Any]) -> None:
        """Put modules and every RNG back exactly as they were when ``state`` was saved."""
        for name, module in self._modules().items():
            module.load_state_dict(state["modules"][name])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.generator.set_state(rng["generator"])
        np.random.set_state(("MT19937", np.array(json.loads(rng["numpy"]), dtype=np.uint32), rng["numpy_pos"], 0, 0.0))
        random.setstate((3, tuple(json.loads(rng["python"])), None))
        self._elapsed_before = float(state["elapsed"])
        self._runs = json.loads(state.get("runs", "[]")) + self._runs[-1:]

    def _log(self, record: Mapping[str, Any]) -> None:
        if self.rank != 0:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._board is not None:
            step = self.global_step(record["phase_index"], record["step"])
            for key, value in record.items():
                if key not in ("phase", "phase_index", "step", "time") and isinstance(value, (int, float)) \
                        and not isinstance(value, bool):
                    self._board.add_scalar(f"{record['phase']}/{key}", value, step)  # e.g. "tuning/style"

    def _truncate_metrics(self, phase_index: int, step: int) -> None:
        # Forget what was logged after the checkpoint we resume from: those steps will be re-run.
        if self.rank != 0 or not self.metrics_path.is_file():
            return
        kept = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                rec = json.loads(line)
                if (rec.get("phase_index", 0), rec.get("step", 0)) <= (phase_index, step):
                    kept.append(line)
        atomic_write_text(self.metrics_path, "".join(k + "\n" for k in kept))

    def _save_samples(self, phase_index: int, phase: Phase, step: int) -> None:
        if self.rank != 0:
            return
        images = self.task.sample(phase)
        if images is None:
            return
        from ..data.io import save_image  # imported here: sampling is optional and needs Pillow

        grid = image_grid(images.detach().float().cpu().clamp(0, 1))  # (3, H, W)
        save_image(grid, self.out_dir / "train" / "samples" / f"{phase.name}_{step:06d}.png")
        if self._board is not None:
            self._board.add_image(f"{phase.name}/samples", grid, self.global_step(phase_index, step))

    # ------------------------------------------------------------------ loop
    def _batches(self, phase_index: int, start: int) -> Iterator[Any]:
        n, bs = len(self.dataset), self.config.batch_size
        step = start
        while True:
            positions = _batch_positions(self.config.seed, phase_index, step, bs, n)
            mine = positions[self.rank :: self.world_size]
            items = [
                self.dataset.get(idx, np.random.default_rng([self.config.seed, phase_index, epoch, pos, idx]))
                for epoch, pos, idx in mine
            ]
            yield _to_device(_collate(items), self.config.device)
            step += 1

    def _wrap(self, module: nn.Module) -> nn.Module:
        if not self.distributed or not any(p.requires_grad for p in module.parameters()):
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP

        device_ids = [self.config.device.index] if self.config.device.type == "cuda" else None
        return DDP(module, device_ids=device_ids)

    def fit(self) -> Path:
        """Train every phase (resuming if asked) and export the model folder; return its path."""
        cfg = self.config
        resume_state = None
        check_out_dir(self.out_dir, resume=cfg.resume, overwrite=cfg.overwrite)
        if self.rank == 0:
            remove_stale_temporaries(self.out_dir)
        if cfg.resume:
            resume_state = self._load_checkpoint()
        else:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)
            random.seed(cfg.seed)
            if self.rank == 0 and self.metrics_path.exists():
                self.metrics_path.unlink()

        first_phase = resume_state["phase_index"] if resume_state else 0
        first_step = int(resume_state["step"]) if resume_state else 0
        self._runs = [{"command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "from_phase": first_phase, "from_step": first_step}]
        if cfg.tensorboard and self.rank == 0:
            self._board = tensorboard_writer(self.tensorboard_dir, self.global_step(first_phase, first_step))
        try:
            self._run_phases(first_phase, resume_state)
        finally:
            if self._board is not None:
                self._board.close()  # flushes: an interrupted run keeps the events up to its checkpoint
                self._board = None

        provenance = {
            "seed": cfg.seed,
            "batch_size": cfg.batch_size,
            "phases": [{"name": p.name, "steps": p.steps, "lr": p.lr, "sets": list(p.sets), "alpha": repr(p.alpha)}
                       for p in self.phases],
            "world_size": self.world_size,
            "device": str(cfg.device),
            "train_seconds": round(time.time() - self.started + self._elapsed_before, 1),
            "runs": self._runs,
        }
        path = self.task.export(self.out_dir, provenance) if self.rank == 0 else self.out_dir
        if self.distributed:
            dist.barrier()
        return path

    def _run_phases(self, first_phase: int, resume_state: Mapping[str, Any] | None) -> None:
        """Run the phases from ``first_phase`` on, the first of them from ``resume_state`` when resuming."""
        for phase_index in range(first_phase, len(self.phases)):
            phase = self.phases[phase_index]
            model = self.task.model
            params = model.configure_trainable(phase.trainable, phase.sets or None)
            resuming = resume_state if phase_index == first_phase else None
            start = 0
            if resuming is not None:
                start = int(resuming["step"])
                self._truncate_metrics(phase_index, start)
            if resuming is None or start == 0:
                if resuming is not None:
                    self._restore(resuming)  # a phase boundary: state as it was before start_phase ran
                optimizers = self.task.start_phase(phase, params)
            else:
                # start_phase may build fresh modules (a new discriminator) and draw random numbers: run it,
                # then overwrite modules, optimizers and RNGs with the checkpoint's.
                optimizers = self.task.start_phase(phase, params)
                self._restore(resuming)
                for name, opt in optimizers.items():
                    opt.load_state_dict(resuming["optimizers"][name])
            model.train()
            for m in self.task.extra_modules().values():
                m.train()
            wrapped = {name: self._wrap(m) for name, m in self._modules().items()}
            self._run_phase(phase_index, phase, start, optimizers, wrapped)

    def _run_phase(self, phase_index: int, phase: Phase, start: int,
                   optimizers: Mapping[str, torch.optim.Optimizer], wrapped: dict[str, nn.Module]) -> None:
        cfg = self.config
        bar = tqdm(total=phase.steps, initial=start, desc=f"phase {phase.name}", unit="step",
                   disable=True if self.rank != 0 else None if cfg.progress is None else not cfg.progress,
                   dynamic_ncols=True)
        batches = self._batches(phase_index, start)
        with _StopRequests() as stop:
            for step in range(start, phase.steps):
                ctx = StepContext(phase, step, cfg.device, self.generator, self.rank, self.world_size,
                                  optimizers, wrapped)
                metrics = dict(self.task.training_step(ctx, next(batches)))
                done = step + 1
                if not all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)):
                    # Diverged: the weights are already damaged, so nothing is saved over the last good checkpoint.
                    bar.close()
                    raise TrainingDiverged(self.checkpoint_path, phase.name, done, metrics)
                bar.update(1)
                if cfg.log_every and (done % cfg.log_every == 0 or done == phase.steps):
                    bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})
                    extra = {"skipped_images": int(getattr(self.dataset, "skipped", 0))}
                    self._log({"phase": phase.name, "phase_index": phase_index, "step": done,
                               "time": round(time.time() - self.started, 3), **metrics, **extra})
                if cfg.sample_every and done % cfg.sample_every == 0:
                    self._save_samples(phase_index, phase, done)
                if stop.requested:
                    # Ctrl-C / SIGTERM: the step in flight finished, so its state is consistent; keep it.
                    self._save_checkpoint(phase_index, done, optimizers)
                    bar.close()
                    raise TrainingInterrupted(self.checkpoint_path, phase.name, done)
                if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done != phase.steps:
                    self._save_checkpoint(phase_index, done, optimizers)
        bar.close()
        # End of phase: the next phase starts from here on resume.
        if phase_index + 1 < len(self.phases):
            self._save_checkpoint(phase_index + 1, 0, {})
        else:
            self._save_checkpoint(phase_index, phase.steps, optimizers)


def _digests(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the hidden temporary files an earlier, killed process of this run left mid-write in ``folder`` and
    ``folder/train`` (``.checkpoint.pt.<random>.tmp.pt``, ``.model.safetensors.<random>.tmp`` …): only names
    :func:`~dynamicnet.utils.fs.atomic_path` makes for the files a run writes."""
    owned = ("checkpoint.pt", "checkpoint.pt.sha256", "model.safetensors", "config.json", "metrics.jsonl")
    removed = []
    for d in (folder, folder / "train"):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.is_file() and any(p.name.startswith(f".{name}.") and ".tmp" in p.name for name in owned):
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p)
    return removed


class TrainingInterrupted(DynamicNetError):
    """Training stopped on request after saving a checkpoint; ``resume=True`` (``--resume``) continues it exactly."""

    exit_code = 130  # the shell's code for "stopped by a signal", as for Ctrl-C anywhere else in the CLI

    def __init__(self, path: Path, phase: str, step: int) -> None:
        saved = f"interrupted: checkpoint saved at phase {phase!r} step {step} in {path}"
        super().__init__(f"{saved}; continue with TrainerConfig(resume=True)", cli=f"{saved}; rerun with --resume")


class TrainingDiverged(DynamicNetError):
    """A loss became NaN or infinite; the checkpoint on disk (if any) is the last good state and is kept."""

    def __init__(self, path: Path, phase: str, step: int, metrics: Mapping[str, Any]) -> None:
        bad = ", ".join(k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v))
        super().__init__(f"training diverged at phase {phase!r} step {step} ({bad} not finite); the last good "
                         f"checkpoint in {path} was kept: resume from it with a lower learning rate or loss weight")


class _StopRequests:
    """Turn SIGINT/SIGTERM into a flag checked between steps, so a stop never tears a step in half."""

    def __enter__(self) -> _StopRequests:
        self.requested = False
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C: the user really wants out now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def setup_distributed(device_spec: torch.device) -> tuple[torch.device, bool]:
    """Initialise the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA).

    Returns the device this rank should use and whether distributed training is on.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or dist.is_initialized():
        return device_spec, dist.is_initialized()
    if device_spec.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return torch.device("cuda", local), True
    dist.init_process_group("gloo")
    return device_spec, True
