"""Device strings from the command line. Library code never picks a device itself; the CLI calls this."""

from __future__ import annotations

import re

import torch

from ..errors import DynamicNetError

_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(spec: str) -> torch.device:
    """``auto`` → ``cuda`` when available else ``cpu``; ``cpu``; ``cuda``/``cuda:N`` (checked to exist)."""
    if not _PATTERN.match(spec or ""):
        raise DynamicNetError(f"invalid device {spec!r}: expected auto, cpu, cuda or cuda:N")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DynamicNetError(f"device {spec!r} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DynamicNetError(
                f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    return device
