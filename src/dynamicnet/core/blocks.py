"""Tuning blocks ψ: the small residual modules that Dynamic-Net adds to a frozen main network."""

from __future__ import annotations

import torch
from torch import nn


class TuningBlock(nn.Module):
    """ψ: 3×3 conv → ReLU → 3×3 conv → ReLU → 3×3 conv (stride 1, reflection padding, bias, no normalisation).

    This is the reference design (Shoshan et al., 2019, Sec. 3). The block maps an activation ``z`` of shape
    ``(B, C, H, W)`` to a tensor of the same shape; the wrapper adds it back as ``z + α·ψ(z)``.

    Args:
        channels: C, the channel count of the activation at the insertion point.
        hidden: width of the two inner convolutions (defaults to ``channels`` as in the reference).
        zero_init: start the last convolution at zero so that ψ ≡ 0 at initialisation. The tuned network then
            starts exactly at the main network's objective O0, which makes the first steps of phase 2 stable and
            the α-walk smooth even for short training. The price: with a zero last layer the gradients reaching
            the inner convolutions are zero in the very first step, so the block needs a few steps to "wake up",
            and for objectives far from O0 training can start slower than from the default (Kaiming-uniform)
            initialisation. The reference uses the default initialisation, which is therefore our default.
    """

    def __init__(self, channels: int, hidden: int | None = None, zero_init: bool = False) -> None:
        super().__init__()
        if channels <= 0:
            raise ValueError(f"TuningBlock needs a positive channel count, got {channels}")
        hidden = hidden or channels
        self.channels = channels
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, hidden, 3),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(hidden, hidden, 3),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            last := nn.Conv2d(hidden, channels, 3),
        )
        if zero_init:  # ψ = 0: adding the blocks leaves θ's output exactly as it was
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)  # type: ignore[arg-type]  # Conv2d(bias=True): never None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return ψ(z), same shape as ``z``."""
        psi: torch.Tensor = self.body(z)
        return psi
