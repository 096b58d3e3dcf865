"""DCGAN generator and discriminator (Radford et al., 2016) as the Dynamic-Net reference uses them.

Generator, for 64×64 (the reference, ``ngf = 128``)::

    z (B, 100, 1, 1) ─layer0→ (B, 8ngf, 4, 4) ─layer1→ (B, 4ngf, 8, 8) ─layer2→ (B, 2ngf, 16, 16)
                     ─layer3→ (B, ngf, 32, 32) ─layer4→ (B, C, 64, 64)

Each layer is a 4×4 transposed convolution (stride 1 from 1×1 to 4×4, then stride 2) followed by BatchNorm +
ReLU, except the last, which is followed by tanh. A 32×32 generator has one doubling less (the widths start at
4ngf); in general the first layer has ``ngf·2^(L−2)`` channels for ``L = log2(size) − 1`` layers.

The reference tuning block sits after layer 2 (256 channels at 16×16 for ``ngf = 128``). Submodules are named
``layer0 … layer{L−1}`` so that this insertion point reads as ``"layer3"``: the input of layer 3. At other sizes
the recipes keep it two layers before the output (``layer2`` at 32×32; see ``DCGANRecipe.points``).

Discriminator: the mirror image — 4×4 stride-2 convolutions from C to ndf, doubling the width as the size halves
down to 4×4, LeakyReLU(0.2) after each and BatchNorm on all but the first, then a 4×4 convolution to one raw
logit (the sigmoid is in the loss, which is more stable; see :func:`dynamicnet.losses.functional.gan_d_loss`).

Weights are initialised from N(0, 0.02) (BatchNorm scales from N(1, 0.02), biases 0), as in the reference.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...core.checkpoint import register_architecture

ARCHITECTURE = "dcgan-generator"
REFERENCE_POINTS = ("layer3",)


def _num_layers(image_size: int) -> int:
    """Generator layers for ``image_size`` = 4·2^k (k ≥ 1): the 1→4 projection plus k doublings."""
    k = math.log2(image_size / 4) if image_size >= 8 else -1
    if k < 1 or k != int(k):
        raise ValueError(f"image size must be 4·2^k with k ≥ 1 (8, 16, 32, 64, 128, …), got {image_size}")
    return int(k) + 1


def init_dcgan_weights(module: nn.Module) -> None:
    """The reference initialisation: conv weights ~ N(0, 0.02), BatchNorm γ ~ N(1, 0.02), β = 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z ``(B, nz, 1, 1)`` ~ N(0, 1) → image ``(B, channels, image_size, image_size)`` in [−1, 1].

    Args:
        image_size: output side, 4·2^k (64 in the reference, 32 for small data).
        channels: output channels (3 for RGB, 1 for Fashion-MNIST).
        nz: noise dimension (100).
        ngf: width of the last hidden layer (128 in the reference); earlier layers double it.
    """

    def __init__(self, image_size: int = 64, channels: int = 3, nz: int = 100, ngf: int = 128) -> None:
        super().__init__()
        if channels < 1 or nz < 1 or ngf < 1:
            raise ValueError(f"channels, nz and ngf must be ≥ 1, got {channels}, {nz}, {ngf}")
        n = _num_layers(image_size)
        self.image_size, self.channels, self.nz, self.ngf = image_size, channels, nz, ngf
        self.num_layers = n
        width = ngf * 2 ** (n - 2)
        self.layer0 = nn.Sequential(  # (B, nz, 1, 1) → (B, width, 4, 4)
            nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)
        )
        for i in range(1, n - 1):  # each doubles the size and halves the width
            self.add_module(
                f"layer{i}",
                nn.Sequential(
                    nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(width // 2),
                    nn.ReLU(True),
                ),
            )
            width //= 2
        self.add_module(
            f"layer{n - 1}",
            nn.Sequential(  # (B, ngf, S/2, S/2) → (B, C, S, S)
                nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()
            ),
        )
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz) or (B, nz, 1, 1) → (B, C, S, S)
        x = z.reshape(z.shape[0], self.nz, 1, 1)
        for i in range(self.num_layers):
            x = getattr(self, f"layer{i}")(x)
        return x


class DCGANDiscriminator(nn.Module):
    """Image ``(B, channels, S, S)`` in [−1, 1] → one raw logit per image ``(B,)`` ("real" when positive)."""

    def __init__(self, image_size: int = 64, channels: int = 3, ndf: int = 128) -> None:
        super().__init__()
        n = _num_layers(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(n - 2):  # S/2 → 4, doubling the width
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))  # (B, 1, 1, 1)
        self.body = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten()


register_architecture(ARCHITECTURE, DCGANGenerator)
