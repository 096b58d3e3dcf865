"""A frozen VGG16 feature extractor that returns features by layer name (``relu2_2``, …).

The layers are laid out exactly as torchvision's ``vgg16().features`` (``features.N`` with the same ``N``), so
torchvision state dicts load without renaming, and the network is built only as deep as the deepest requested
tap: a content loss on ``relu2_2`` never pays for ``conv5_3``. The extractor takes RGB images in ``[0, 1]``
and applies the preprocessing its weights were trained with, so callers never need to know which weights it
has.
Loading weights is :func:`dynamicnet.losses.weights.load_vgg16`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Literal

import torch
from torch import Tensor, nn

Preprocessing = Literal["imagenet", "caffe_bgr"]

_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))  # (block, convs, channels)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, n_convs, _ in _BLOCKS:
        for i in range(1, n_convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


VGG16_LAYERS: tuple[str, ...] = _layer_names()
"""Layer names in the order of torchvision's ``vgg16().features``: a name's position is its ``features.N``."""
VGG16_LAYER_INDEX: MappingProxyType[str, int] = MappingProxyType({n: i for i, n in enumerate(VGG16_LAYERS)})
VGG16_CONVS: tuple[str, ...] = tuple(n for n in VGG16_LAYERS if n.startswith("conv"))
_CHANNELS = {block: channels for block, _, channels in _BLOCKS}


def _state_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    in_channels = 3
    for name in VGG16_CONVS:
        out_channels = _CHANNELS[int(name[4])]  # "conv3_2"[4] is the block
        index = VGG16_LAYER_INDEX[name]
        shapes[f"features.{index}.weight"] = (out_channels, in_channels, 3, 3)
        shapes[f"features.{index}.bias"] = (out_channels,)
        in_channels = out_channels
    return shapes


VGG16_STATE_SHAPES: MappingProxyType[str, tuple[int, ...]] = MappingProxyType(_state_shapes())
"""The full extractor's state dict, torchvision's ``features.N.weight/bias`` → shape."""

# The reference style-transfer loss (Johnson et al. 2016, as used by Dynamic-Net): content on relu2_2, style
# on four taps with equal weights.
REFERENCE_CONTENT_TAP = "relu2_2"
REFERENCE_STYLE_WEIGHTS: MappingProxyType[str, float] = MappingProxyType(
    {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}
)
REFERENCE_TAPS: tuple[str, ...] = tuple(REFERENCE_STYLE_WEIGHTS)

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, images in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # BGR, images in [0, 255]


class VGG16Features(nn.Module):
    """Frozen VGG16 ``features`` truncated after the deepest tap; ``forward`` returns ``{tap: features}``.

    Args:
        taps: layer names from :data:`VGG16_LAYERS` to return, e.g. ``("relu1_2", "relu2_2")``.
        preprocessing: what the weights expect. ``"imagenet"`` (torchvision): RGB normalised by the ImageNet
            mean/std. ``"caffe_bgr"`` (Caffe/Keras VGG, e.g. HED): BGR in ``[0, 255]`` minus the BGR mean.
        source: where the weights came from, for logs and provenance.

    The weights are randomly initialised here; use :func:`dynamicnet.losses.load_vgg16` for trained ones.
    Parameters never require gradients and the module stays in eval mode even under ``.train()``; gradients
    still flow to the input image, which is what perceptual losses need.
    """

    def __init__(
        self,
        taps: Sequence[str] = REFERENCE_TAPS,
        preprocessing: Preprocessing = "imagenet",
        source: str = "random init",
    ) -> None:
        super().__init__()
        unknown = [tap for tap in taps if tap not in VGG16_LAYER_INDEX]
        if not taps or unknown:
            choices = ", ".join(VGG16_LAYERS)
            raise ValueError(f"unknown VGG16 taps {unknown or list(taps)}; choose from {choices}")
        self.taps: tuple[str, ...] = tuple(dict.fromkeys(taps))
        self.source = source
        depth = max(VGG16_LAYER_INDEX[tap] for tap in self.taps) + 1
        layers: list[nn.Module] = []
        for index, name in enumerate(VGG16_LAYERS[:depth]):
            if name.startswith("conv"):
                out_channels, in_channels, _, _ = VGG16_STATE_SHAPES[f"features.{index}.weight"]
                layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
            elif name.startswith("relu"):
                layers.append(nn.ReLU())  # not in place: a conv tap must not be overwritten by the next ReLU
            else:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.requires_grad_(False)

        # Preprocessing as x * scale - offset per channel (after the RGB→BGR flip for Caffe weights).
        if preprocessing == "imagenet":
            scale = 1 / torch.tensor(IMAGENET_STD)
            offset = torch.tensor(IMAGENET_MEAN) * scale
        elif preprocessing == "caffe_bgr":
            scale = torch.full((3,), 255.0)
            offset = torch.tensor(CAFFE_MEAN_BGR)
        else:
            raise ValueError(f"unknown preprocessing {preprocessing!r}; expected 'imagenet' or 'caffe_bgr'")
        self.preprocessing: Preprocessing = preprocessing
        # Not persistent: the state dict stays exactly torchvision's ``features.N.weight/bias``.
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("offset", offset.view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:
        """Ignore ``mode``: a loss network must behave identically while the model around it trains."""
        return super().train(False)

    def preprocess(self, image: Tensor) -> Tensor:
        """Map an RGB ``(B, 3, H, W)`` image in ``[0, 1]`` to the input the weights expect (a new tensor)."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an RGB batch of shape (B, 3, H, W), got {tuple(image.shape)}")
        x = image.flip(1) if self.preprocessing == "caffe_bgr" else image  # RGB → BGR; flip copies
        return x * self.scale - self.offset

    def forward(self, image: Tensor, taps: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Return ``{tap: (B, C, H', W')}`` for an RGB ``(B, 3, H, W)`` image in ``[0, 1]``.

        ``taps`` picks a subset of the constructor's taps and stops after the deepest of them, e.g. to compute
        a content target on ``relu2_2`` without running the deeper style layers.
        """
        wanted = self.taps if taps is None else tuple(taps)
        if not wanted or not set(wanted) <= set(self.taps):
            raise ValueError(f"taps {list(wanted)} must be a non-empty subset of the extractor's {self.taps}")
        last = max(VGG16_LAYER_INDEX[tap] for tap in wanted)
        x = self.preprocess(image)
        out: dict[str, Tensor] = {}
        for name, layer in zip(VGG16_LAYERS[: last + 1], self.features):
            x = layer(x)
            if name in wanted:
                out[name] = x
        return out

    def extra_repr(self) -> str:
        return f"taps={self.taps}, preprocessing={self.preprocessing!r}, source={self.source!r}"
