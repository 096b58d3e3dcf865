"""One model-agnostic training loop for every phase of every application.

The loop handles what every application needs the same way: seeding, a data order that is a pure function of
(seed, phase, step), progress, a JSONL metrics log (and, optionally, the same metrics and samples as TensorBoard
events), sample images, atomic checkpoints and exact resume (:mod:`.checkpointing`), and DistributedDataParallel
under ``torchrun`` (:mod:`.distributed`). What each phase trains is configuration (:mod:`.config`).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..core.dynamic import DynamicNet
from ..data.figures import image_grid
from ..errors import DynamicNetError
from ..utils.fs import atomic_write_text
from . import checkpointing
from .config import Phase, TrainerConfig, check_tensorboard
from .datasets import TrainDataset, as_train_dataset
from .distributed import barrier, rank_and_world_size, wrap_ddp


class MetricsWriter(Protocol):
    """What the loop asks of a TensorBoard ``SummaryWriter`` (tests pass a stand-in)."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None: ...

    def add_image(self, tag: str, img_tensor: torch.Tensor, global_step: int) -> None: ...

    def close(self) -> None: ...


def tensorboard_writer(log_dir: Path, purge_step: int) -> MetricsWriter:
    """A ``SummaryWriter`` on ``log_dir`` that hides the events of earlier runs from ``purge_step`` on.

    A resumed run re-runs the steps after its checkpoint, so their first logging is hidden rather than shown
    twice (``purge_step``: the first step this run logs; 0 for a new run into a folder with old events).
    """
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter  # seconds to import: only when asked for

    return cast(MetricsWriter, SummaryWriter(log_dir=str(log_dir), purge_step=purge_step))


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
            raise DynamicNetError(
                f"phase {self.phase.name!r}: the loss depends on no parameter that trains (computed "
                "under torch.no_grad, detached, or in a tuning phase with the model run at α = 0: "
                "call it with alpha=ctx.phase.alpha)"
            )
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
        raise DynamicNetError(
            f"phase {phase.name!r}: unknown block set(s) {unknown}; the model has {list(model.set_names)}"
        )
    try:
        running = model.resolve_alpha(phase.alpha)
    except ValueError as exc:
        raise DynamicNetError(f"phase {phase.name!r}: {exc}") from None
    trained = list(phase.sets or model.set_names)
    if not set(running) & set(trained):
        raise DynamicNetError(
            f"phase {phase.name!r} trains block set(s) {trained} but its alpha={phase.alpha!r} "
            f"runs {sorted(running)}: give the phase an α that drives them (e.g. "
            f"{{{trained[0]!r}: 1.0}})"
        )


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

    def __init__(
        self, task: TaskProtocol, dataset: TrainDataset | Dataset[Any], phases: Sequence[Phase], config: TrainerConfig
    ) -> None:
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
        self.rank, self.world_size = rank_and_world_size()
        if config.batch_size % self.world_size:
            raise DynamicNetError(
                f"batch size {config.batch_size} must be divisible by the number of processes ({self.world_size})"
            )
        self._fingerprint = checkpointing.fingerprint(
            self.phases, config.batch_size, config.seed, len(dataset), self.world_size
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.started = time.time()
        self._elapsed_before = 0.0  # training time of the runs this one resumes
        self._runs: list[dict[str, Any]] = []  # every process that worked on this training, for provenance
        self._board: MetricsWriter | None = None  # TensorBoard events, on rank 0 while fit() runs

    # ------------------------------------------------------------------ files
    @property
    def checkpoint_path(self) -> Path:
        return checkpointing.checkpoint_path(self.out_dir)

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "train" / "metrics.jsonl"

    @property
    def tensorboard_dir(self) -> Path:
        return self.out_dir / "train" / "tensorboard"

    def global_step(self, phase_index: int, step: int) -> int:
        """Steps since the start of training: TensorBoard's one axis across phases (main, then tuning, …)."""
        return sum(p.steps for p in self.phases[:phase_index]) + step

    def _modules(self) -> dict[str, nn.Module]:
        return {"model": self.task.model, **dict(self.task.extra_modules())}

    def _save_checkpoint(self, phase_index: int, step: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        if self.rank == 0:
            checkpointing.save(
                self.checkpoint_path,
                fingerprint=self._fingerprint,
                phase=self.phases[phase_index].name,
                phase_index=phase_index,
                step=step,
                modules=self._modules(),
                optimizers=optimizers,
                generator=self.generator,
                elapsed=time.time() - self.started + self._elapsed_before,
                runs=self._runs,
            )

    def _restore(self, state: Mapping[str, Any]) -> None:
        """Put modules and every RNG back exactly as they were when ``state`` was saved."""
        self._elapsed_before, runs = checkpointing.restore(state, self._modules(), self.generator)
        self._runs = runs + self._runs[-1:]

    def _log(self, record: Mapping[str, Any]) -> None:
        if self.rank != 0:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._board is not None:
            step = self.global_step(record["phase_index"], record["step"])
            for key, value in record.items():
                if (
                    key not in ("phase", "phase_index", "step", "time")
                    and isinstance(value, (int, float))
                    and not isinstance(value, bool)
                ):
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

    def fit(self) -> Path:
        """Train every phase (resuming if asked) and export the model folder; return its path."""
        cfg = self.config
        resume_state = None
        checkpointing.check_out_dir(self.out_dir, resume=cfg.resume, overwrite=cfg.overwrite)
        if self.rank == 0:
            checkpointing.remove_stale_temporaries(self.out_dir)
        if cfg.resume:
            resume_state = checkpointing.load(self.checkpoint_path, self._fingerprint)
        else:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)
            random.seed(cfg.seed)
            if self.rank == 0 and self.metrics_path.exists():
                self.metrics_path.unlink()

        first_phase = resume_state["phase_index"] if resume_state else 0
        first_step = int(resume_state["step"]) if resume_state else 0
        self._runs = [
            {
                "command": " ".join(sys.argv),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "from_phase": first_phase,
                "from_step": first_step,
            }
        ]
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
            "phases": [
                {"name": p.name, "steps": p.steps, "lr": p.lr, "sets": list(p.sets), "alpha": repr(p.alpha)}
                for p in self.phases
            ],
            "world_size": self.world_size,
            "device": str(cfg.device),
            "train_seconds": round(time.time() - self.started + self._elapsed_before, 1),
            "runs": self._runs,
        }
        path = self.task.export(self.out_dir, provenance) if self.rank == 0 else self.out_dir
        barrier()
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
            wrapped = {name: wrap_ddp(m, self.config.device) for name, m in self._modules().items()}
            self._run_phase(phase_index, phase, start, optimizers, wrapped)

    def _run_phase(
        self,
        phase_index: int,
        phase: Phase,
        start: int,
        optimizers: Mapping[str, torch.optim.Optimizer],
        wrapped: dict[str, nn.Module],
    ) -> None:
        cfg = self.config
        bar = tqdm(
            total=phase.steps,
            initial=start,
            desc=f"phase {phase.name}",
            unit="step",
            disable=True if self.rank != 0 else None if cfg.progress is None else not cfg.progress,
            dynamic_ncols=True,
        )
        batches = self._batches(phase_index, start)
        with bar, _StopRequests() as stop:  # the bar closes however the phase ends
            for step in range(start, phase.steps):
                ctx = StepContext(
                    phase, step, cfg.device, self.generator, self.rank, self.world_size, optimizers, wrapped
                )
                metrics = dict(self.task.training_step(ctx, next(batches)))
                done = step + 1
                if not all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)):
                    # Diverged: the weights are already damaged, so nothing is saved over the last good checkpoint.
                    raise TrainingDiverged(self.checkpoint_path, phase.name, done, metrics)
                bar.update(1)
                if cfg.log_every and (done % cfg.log_every == 0 or done == phase.steps):
                    bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})
                    self._log(
                        {
                            "phase": phase.name,
                            "phase_index": phase_index,
                            "step": done,
                            "time": round(time.time() - self.started, 3),
                            **metrics,
                            "skipped_images": int(getattr(self.dataset, "skipped", 0)),
                        }
                    )
                if cfg.sample_every and done % cfg.sample_every == 0:
                    self._save_samples(phase_index, phase, done)
                if stop.requested:
                    # Ctrl-C / SIGTERM: the step in flight finished, so its state is consistent; keep it.
                    self._save_checkpoint(phase_index, done, optimizers)
                    raise TrainingInterrupted(self.checkpoint_path, phase.name, done)
                if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done != phase.steps:
                    self._save_checkpoint(phase_index, done, optimizers)
        # End of phase: the next phase starts from here on resume.
        if phase_index + 1 < len(self.phases):
            self._save_checkpoint(phase_index + 1, 0, {})
        else:
            self._save_checkpoint(phase_index, phase.steps, optimizers)


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
        super().__init__(
            f"training diverged at phase {phase!r} step {step} ({bad} not finite); the last good "
            f"checkpoint in {path} was kept: resume from it with a lower learning rate or loss weight"
        )


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
