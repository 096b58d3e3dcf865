"""DistributedDataParallel under ``torchrun``: the process group, this process's rank, and DDP-wrapped modules."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

_started_here = False  # whether setup_distributed created the process group (and so shutdown_distributed ends it)


def setup_distributed(device_spec: torch.device) -> tuple[torch.device, bool]:
    """Initialise the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA).

    Returns the device this rank should use and whether distributed training is on. End the job with
    :func:`shutdown_distributed`.
    """
    global _started_here
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or dist.is_initialized():
        return device_spec, dist.is_initialized()
    device = device_spec
    if device_spec.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    _started_here = True
    return device, True


def shutdown_distributed() -> None:
    """Wait for every rank, then destroy the process group :func:`setup_distributed` created (one the caller
    created is theirs to end).

    Without it, gloo's worker threads can still hold work objects with Python references when the interpreter
    finalises, and releasing them then aborts the process (SIGABRT): rarely, but enough to fail a finished job
    (pytorch/pytorch PR 179291 describes the crash).
    """
    global _started_here
    if _started_here and is_distributed():
        dist.barrier()
        dist.destroy_process_group()
    _started_here = False


def is_distributed() -> bool:
    """Whether a process group is initialised (by :func:`setup_distributed` or the caller)."""
    return dist.is_available() and dist.is_initialized()


def rank_and_world_size() -> tuple[int, int]:
    """This process's rank and the number of processes: ``(0, 1)`` when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def is_rank0() -> bool:
    """True unless this is a non-zero rank of a ``torchrun`` job: only rank 0 writes the model and reports."""
    return rank_and_world_size()[0] == 0


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in DDP when distributed, so that backward averages its gradients over the processes; as it is
    otherwise, or when none of its parameters trains (DDP refuses such a module)."""
    if not is_distributed() or not any(p.requires_grad for p in module.parameters()):
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def barrier() -> None:
    """Wait for every process (nothing to wait for when not distributed)."""
    if is_distributed():
        dist.barrier()
