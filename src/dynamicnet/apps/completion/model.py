"""The completion network θ and its discriminator, scaled to a CPU.

Generator: the "globally and locally consistent" design (Iizuka et al., 2017) shrunk: an encoder that goes
down 4× (5×5 conv, two stride-2 3×3 convs), a chain of dilated residual blocks in the middle so the centre of a
large hole sees context from its edges, and a decoder (two nearest ×2 upsample + 3×3 conv stages, a linear
3×3 output conv). With dilations (2, 4, 8, 1) the receptive field after the middle is about 160 px, so every pixel of
a 32² hole in a 64² crop (or of a 64² hole in a 128² face) sees the hole's whole border.

Input: ``(B, 4, H, W)`` = the image with its hole prefilled (mid-grey, or a push-pull interpolation), plus the mask (1 = hole); H, W
multiples of 4. Output: ``(B, 3, H, W)`` RGB (or, after a push-pull prefill, its change to the prefill: :func:`to_prediction`), unclamped (the last layer is linear so that a tuning block in
front of it contributes exactly affinely in α, which :class:`dynamicnet.core.PreparedInput` exploits).
:func:`composite` then keeps every known pixel exactly: the network only ever decides the hole.

Stages are named children of an ``nn.Sequential`` (``enc1 … enc3, mid1 … midN, dec1, dec2, out``) so that
insertion points read naturally and the α-independent prefix can be cached for α sweeps.

No normalisation layers: instance norm would mix the hole's placeholder grey into every channel's statistics
(so the known region's features depend on the hole's size), and batch norm misbehaves at the batch sizes a CPU
affords. Zero padding everywhere, so any size ≥ 4 works, including feature maps smaller than the dilation.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...core.checkpoint import register_architecture
from .march import march_fill, march_fill_static

ARCHITECTURE = "completion-net"
DEFAULT_POINTS = ("mid3", "dec1", "out")
HOLE_FILL = 0.5  # placeholder value of hole pixels in the network's input
MULTIPLE = 4  # two stride-2 downsamplings and two ×2 upsamplings


HOLE_FILLS = ("grey", "push-pull", "march")
PUSH_PULL_LEVELS = 9  # pyramid levels of the push-pull prefill: a 256² window reaches one pixel


def push_pull(values: torch.Tensor, weights: torch.Tensor, levels: int | None = None) -> torch.Tensor:
    """Fill the unknown part of ``values`` ``(C, H, W)`` or ``(B, C, H, W)`` smoothly from its known part
    (``weights`` ``(1, H, W)`` / ``(B, 1, H, W)`` in [0, 1], 1 = known; ``values`` already multiplied by it):
    the push-pull scheme of Gortler et al. (1996).

    Push: average values and weights down an image pyramid. Pull: on the way back up, each level keeps what it
    knows (in proportion to its weight) and takes the rest from the coarser level's estimate. Known pixels come
    back unchanged; a hole gets a membrane-like interpolation of its surroundings. ``levels`` fixes the pyramid's
    depth (so that a traced or exported graph does not depend on the input size); the coarsest level's empty
    pixels take the mean of everything known. Default: down to one pixel.
    """
    unbatched = values.dim() == 3
    v, w = (values[None], weights[None]) if unbatched else (values, weights)
    if levels is None:
        levels = max(1, math.ceil(math.log2(max(v.shape[-2:]))))
    pyramid = [(v, w)]
    for _ in range(levels):
        v, w = pyramid[-1]
        pyramid.append((F.avg_pool2d(v, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True)))
    v, w = pyramid[-1]
    mean = v.sum((-2, -1), keepdim=True) / w.sum((-2, -1), keepdim=True).clamp_min(1e-8)
    estimate = torch.where(w > 1e-8, v / w.clamp_min(1e-8), mean)
    for v, w in reversed(pyramid[:-1]):
        coarse = F.interpolate(estimate, size=v.shape[-2:], mode="bilinear", align_corners=False)
        share = w.clamp(0, 1)
        estimate = share * (v / w.clamp_min(1e-8)) + (1 - share) * coarse
    return estimate[0] if unbatched else estimate


def masked_input(
    image: torch.Tensor, mask: torch.Tensor, hole_fill: str = "grey", *, static: bool = False
) -> torch.Tensor:
    """``(B, 3, H, W)`` image and ``(B, 1, H, W)`` mask → ``(B, 4, H, W)`` network input.

    ``hole_fill`` says what the hole shows the network: ``"grey"`` (a constant), ``"push-pull"`` (a smooth
    interpolation of its surroundings, :func:`push_pull`) or ``"march"`` (edges carried in from the rim,
    :mod:`.march`). The prefill hands every hole pixel the colours around it, so the network's receptive field
    need not carry them 64 px into a hole: it only adds structure.
    """
    if hole_fill == "push-pull":
        known = 1 - mask
        hole_filled = torch.where(mask > 0.5, push_pull(image * known, known, PUSH_PULL_LEVELS), image)
    elif hole_fill == "march":  # ``static``: the fixed graph an ONNX export needs
        hole_filled = march_fill_static(image, mask) if static else march_fill(image, mask)
    elif hole_fill == "grey":
        hole_filled = image * (1 - mask) + HOLE_FILL * mask
    else:
        raise ValueError(f"unknown hole fill {hole_fill!r}; expected one of {', '.join(HOLE_FILLS)}")
    return torch.cat([hole_filled, mask], dim=1)


def to_prediction(raw: torch.Tensor, x: torch.Tensor, hole_fill: str) -> torch.Tensor:
    """The network's raw output ``(B, 3, H, W)`` as an RGB prediction for its input ``x`` ``(B, 4, H, W)``.

    With a push-pull prefill the network predicts the *change* to the prefill it was shown: it starts (its last
    layer zero-initialised, :func:`~.train.build_model`) from a smooth fill that already continues the
    surroundings' colours and only learns structure, instead of first learning to copy the prefill through its
    4× bottleneck. With a grey placeholder the raw output is the prediction.
    """
    return raw if hole_fill == "grey" else raw + x[:, :3]


def hole_fill_of(extra: Mapping[str, Any]) -> str:
    """The hole fill a model folder's ``extra`` records; older folders stored the grey level as a number."""
    fill = extra.get("hole_fill", "grey")
    return fill if isinstance(fill, str) else "grey"


def composite(image: torch.Tensor, mask: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``image``, hole pixels from ``prediction``; a new tensor, inputs untouched.

    ``torch.where`` (not ``image·(1−m) + pred·m``) so that known pixels are copied bit for bit, not
    recomputed in floating point.
    """
    return torch.where(mask > 0.5, prediction, image)


class ConvAct(nn.Sequential):
    """[nearest ×2 upsample →] conv (zero padding keeps the size at stride 1) → ELU.

    ELU rather than ReLU: without normalisation, ELU's negative side keeps the mean activation near zero and
    avoids dead units in a net trained for a few thousand steps.
    """

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1, upsample: bool = False
    ) -> None:
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
        layers += [
            nn.Conv2d(cin, cout, kernel, stride, padding=dilation * (kernel // 2), dilation=dilation),
            nn.ELU(inplace=True),
        ]
        super().__init__(*layers)


class DilatedResidual(nn.Module):
    """x + conv₃ₓ₃(ELU(conv₃ₓ₃,dilated(x))): a wide receptive field without losing resolution."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.ELU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) → (B, C, h, w)
        return F.elu(x + self.body(x))


class CompletionNet(nn.Sequential):
    """θ: ``(B, 4, H, W)`` masked image + mask → ``(B, 3, H, W)`` raw RGB prediction (see the module docstring).

    Args:
        width: channels of the first stage; 2w and 4w follow (4w in the dilated middle, at H/4).
        dilations: one dilated residual block per entry, named ``mid1 …``.
    """

    def __init__(self, width: int = 32, dilations: Sequence[int] = (2, 4, 8, 1)) -> None:
        dilations = tuple(int(d) for d in dilations)
        if width < 1 or len(dilations) < 3 or min(dilations) < 1:
            raise ValueError(f"need width ≥ 1 and at least 3 dilations ≥ 1, got width={width}, {dilations}")
        w = width
        stages: dict[str, nn.Module] = {
            "enc1": ConvAct(4, w, 5),
            "enc2": ConvAct(w, 2 * w, 3, stride=2),
            "enc3": ConvAct(2 * w, 4 * w, 3, stride=2),
        }
        stages.update({f"mid{i}": DilatedResidual(4 * w, d) for i, d in enumerate(dilations, 1)})
        stages.update(
            {
                "dec1": ConvAct(4 * w, 2 * w, 3, upsample=True),
                "dec2": ConvAct(2 * w, w, 3, upsample=True),
                "out": nn.Conv2d(w, 3, 3, padding=1),
            }
        )
        super().__init__(OrderedDict(stages))
        nn.init.constant_(self.out.bias, HOLE_FILL)  # start by predicting grey, not black
        self.width = width
        self.dilations = dilations


class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN on ``(image, mask)``: a realism logit per ~38 px patch at H/8 resolution.

    Spectral normalisation keeps the adversarial game stable at small batch sizes. The mask is an input so
    that the discriminator knows where to look; :func:`hole_logits` keeps only patches that touch the hole,
    so it judges the filled region (and its seams) rather than the known pixels it would always call real.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        w = width
        self.net = nn.Sequential(
            sn(nn.Conv2d(4, w, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(4 * w, 1, 3, 1, 1)),
        )
        self.width = width

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)``, ``(B, 1, H, W)`` → logits ``(B, 1, ⌈H/8⌉, ⌈W/8⌉)``."""
        return self.net(torch.cat([image * 2 - 1, mask], dim=1))


def hole_weights(mask: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Which patches of a logit map overlap the hole: ``(B, 1, h, w)`` of 0/1."""
    return (F.adaptive_max_pool2d(mask, logits.shape[-2:]) > 0.5).to(logits.dtype)


def hole_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The logits of patches that overlap the hole, flattened (what the adversarial losses average over)."""
    return logits[hole_weights(mask, logits) > 0]


register_architecture(ARCHITECTURE, CompletionNet)

__all__ = [
    "ARCHITECTURE",
    "DEFAULT_POINTS",
    "HOLE_FILL",
    "HOLE_FILLS",
    "MULTIPLE",
    "CompletionNet",
    "PatchDiscriminator",
    "composite",
    "hole_fill_of",
    "hole_logits",
    "hole_weights",
    "masked_input",
    "push_pull",
    "to_prediction",
]
