"""The Johnson et al. (2016) image transformation network, as the Dynamic-Net reference uses it.

9×9 conv 3→w, two 3×3 stride-2 convs (w→2w→4w), five residual blocks (4w), two nearest-upsample ×2 + 3×3 conv
stages (4w→2w→w), 9×9 conv w→3. Affine instance norm + ReLU after every conv but the last; reflection padding.
``width=32`` is the reference (128 channels in the middle); ``width=16`` is a half-width variant that is about 3×
cheaper on a CPU. ``width`` may also give the three stages' channels, full → half → quarter resolution: the
bundled ``(8, 16, 48)`` tapers like the CPU peer's network (few channels where the pixels are many), which halves
the compute of ``width=16`` and, on OpenVINO, puts a full forward within 1.2× and an exact α change within 1× of
the CPU peer's run at 512² (docs/performance.md).

Submodules are named so that the reference insertion points read naturally:
``res3`` (input of residual block 3, 4w channels at H/4), ``up1`` (input of the first upsampling stage, 4w at
H/4) and ``out`` (input of the final 9×9 conv, w channels at H).

Input: RGB in [0, 1], ``(B, 3, H, W)`` with H and W multiples of 4. Output: RGB, same shape, *not* squashed:
the last layer is linear so that a tuning block in front of it contributes exactly affinely in α (the demo's fast
path relies on this); callers clamp to [0, 1] for display.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ...core.checkpoint import register_architecture

ARCHITECTURE = "johnson"
REFERENCE_POINTS = ("res3", "up1", "out")


class ConvLayer(nn.Sequential):
    """Reflection pad + conv (padding keeps the size at stride 1, halves it at stride 2)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))


class ConvNormReLU(nn.Sequential):
    """conv → instance norm (affine) → ReLU, optionally preceded by nearest ×2 upsampling."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: bool = False) -> None:
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
        layers += [ConvLayer(cin, cout, kernel, stride), nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))) — no ReLU after the sum, as in the reference."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x):  # (B, C, H, W) → (B, C, H, W)
        return x + self.body(x)


class TransformerNet(nn.Sequential):
    """Johnson et al.'s feed-forward style transfer network; ``width`` is the first layer's channel count (the
    others follow as 2w and 4w), or the three stages' channel counts (full, half and quarter resolution).

    A plain chain of named stages (``conv1 … conv3, res1 … resN, up1, up2, out``), so that
    :class:`dynamicnet.core.PreparedInput` can cache everything in front of the first tuning block and rerun
    only the tail when α changes.

    Forward: ``(B, 3, H, W)`` in [0, 1] → ``(B, 3, H, W)``, unclamped; ``(B, 4w, H/4, W/4)`` in the middle.
    """

    def __init__(self, width: int | Sequence[int] = 32, num_residual: int = 5) -> None:
        c1, c2, c4 = stage_widths(width)
        if num_residual < 3:
            raise ValueError(f"need at least 3 residual blocks, got {num_residual}")
        stages: dict[str, nn.Module] = {
            "conv1": ConvNormReLU(3, c1, 9),
            "conv2": ConvNormReLU(c1, c2, 3, stride=2),
            "conv3": ConvNormReLU(c2, c4, 3, stride=2),
        }
        stages.update({f"res{i}": ResidualBlock(c4) for i in range(1, num_residual + 1)})
        stages.update(
            {
                "up1": ConvNormReLU(c4, c2, 3, upsample=True),
                "up2": ConvNormReLU(c2, c1, 3, upsample=True),
                "out": ConvLayer(c1, 3, 9),
            }
        )
        super().__init__(OrderedDict(stages))
        self.width = width
        self.num_residual = num_residual


def stage_widths(width: int | Sequence[int]) -> tuple[int, int, int]:
    """The channels at full, half and quarter resolution: ``w`` → (w, 2w, 4w), or three counts as given."""
    widths = (width, 2 * width, 4 * width) if isinstance(width, int) else tuple(width)
    if len(widths) != 3 or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in widths):
        raise ValueError(f"width must be a positive integer or three of them (full, half, quarter), got {width!r}")
    return widths  # type: ignore[return-value]  # checked: three ints


register_architecture(ARCHITECTURE, TransformerNet)
