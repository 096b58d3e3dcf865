"""Thin perceptual-loss modules and the style-target cache.

The modules only hold targets, taps and weights and call :mod:`dynamicnet.losses.functional`; the arithmetic
lives there, and the tests check each module against a composition of those functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynamicnet.losses.functional import content_loss, gram_matrix, style_loss, tv_loss
from dynamicnet.losses.vgg import REFERENCE_CONTENT_TAP, REFERENCE_STYLE_WEIGHTS, VGG16Features


class ContentLoss(nn.Module):
    """Content loss on one tap: ``content_loss(feats[tap], target_feats[tap])``."""

    def __init__(self, tap: str = REFERENCE_CONTENT_TAP) -> None:
        super().__init__()
        self.tap = tap

    def forward(self, feats: Mapping[str, Tensor], target_feats: Mapping[str, Tensor]) -> Tensor:
        return content_loss(feats[self.tap], target_feats[self.tap])

    def extra_repr(self) -> str:
        return f"tap={self.tap!r}"


class StyleLoss(nn.Module):
    """Style loss against fixed target Gram matrices: ``style_loss(feats, target_grams, weights)``.

    The targets are buffers, so they follow the module across ``.to(device)``; they are not persistent because
    they are recomputed from the style image (see :class:`StyleTargets`), never checkpointed.

    Args:
        target_grams: tap → Gram matrix ``(1, C, C)`` (broadcast over the batch) or ``(B, C, C)``; taps
            without a weight are dropped.
        weights: tap → layer weight.
    """

    def __init__(
        self, target_grams: Mapping[str, Tensor], weights: Mapping[str, float] = REFERENCE_STYLE_WEIGHTS
    ) -> None:
        super().__init__()
        missing = [tap for tap in weights if tap not in target_grams]
        if missing:
            raise ValueError(f"no target Gram matrix for style taps {missing}")
        self.weights = dict(weights)
        for tap in self.weights:
            self.register_buffer(f"gram_{tap}", target_grams[tap].detach(), persistent=False)

    @property
    def target_grams(self) -> dict[str, Tensor]:
        return {tap: getattr(self, f"gram_{tap}") for tap in self.weights}

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        return style_loss(feats, self.target_grams, self.weights)

    def extra_repr(self) -> str:
        return f"weights={self.weights}"


class PerceptualLoss(nn.Module):
    """The style-transfer objective of Johnson et al. (2016), as used by Dynamic-Net for style transfer.

    ``total = content_weight·content + style_weight·style + tv_weight·tv``, where the content term compares
    the output with the content image on ``content_tap`` and the style term compares the output's Gram
    matrices with the style's on the taps of ``style_layer_weights``.

    Args:
        extractor: a frozen VGG16 whose taps include ``content_tap`` and every style tap; it may be shared
            by several objectives (e.g. Dynamic-Net's main and tuning objectives).
        style_grams: tap → target Gram matrix, e.g. from :class:`StyleTargets`.
        content_weight, style_weight, tv_weight: the weights of the three terms; TV is skipped when 0.
        style_layer_weights: tap → weight inside the style term.
        content_tap: the tap of the content term.
    """

    def __init__(
        self,
        extractor: VGG16Features,
        style_grams: Mapping[str, Tensor],
        *,
        content_weight: float,
        style_weight: float,
        style_layer_weights: Mapping[str, float] = REFERENCE_STYLE_WEIGHTS,
        content_tap: str = REFERENCE_CONTENT_TAP,
        tv_weight: float = 0.0,
    ) -> None:
        super().__init__()
        missing = [tap for tap in (content_tap, *style_layer_weights) if tap not in extractor.taps]
        if missing:
            raise ValueError(f"the VGG16 extractor does not return taps {missing}; it has {extractor.taps}")
        self.extractor = extractor
        self.content = ContentLoss(content_tap)
        self.style = StyleLoss(style_grams, style_layer_weights)
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight

    def forward(self, output: Tensor, content_image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Return ``(total, {"content", "style"[, "tv"]})`` for RGB ``(B, 3, H, W)`` images in ``[0, 1]``.

        The components are unweighted, for logging; gradients flow to ``output`` only.
        """
        feats = self.extractor(output)
        with torch.no_grad():  # the content image is a fixed target
            target = self.extractor(content_image, taps=(self.content.tap,))
        components = {"content": self.content(feats, target), "style": self.style(feats)}
        total = self.content_weight * components["content"] + self.style_weight * components["style"]
        if self.tv_weight:
            components["tv"] = tv_loss(output)
            total = total + self.tv_weight * components["tv"]
        return total, components

    def extra_repr(self) -> str:
        weights = (self.content_weight, self.style_weight, self.tv_weight)
        return "content_weight={}, style_weight={}, tv_weight={}".format(*weights)


class StyleTargets:
    """Gram matrices of style images for one extractor, computed once per run and reused.

    An entry is keyed by the image's content (a digest of its bytes, not ``id()``, which Python reuses after
    garbage collection), shape, dtype, device and the requested size; the extractor fixes taps and weights.
    Share one instance between everything that needs the same style (objectives, phases, callbacks).
    """

    def __init__(self, extractor: VGG16Features) -> None:
        self.extractor = extractor
        self._grams: dict[tuple[object, ...], dict[str, Tensor]] = {}

    def __call__(self, image: Tensor, size: int | tuple[int, int] | None = None) -> dict[str, Tensor]:
        """Return ``{tap: (1, C, C)}`` for an RGB style image ``(3, H, W)`` or ``(1, 3, H, W)`` in ``[0, 1]``.

        Args:
            image: the style image, on the extractor's device.
            size: resize first: an ``int`` sets the shorter side (keeping the aspect ratio), ``(H, W)`` sets
                both; ``None`` keeps the image as is. Gram statistics depend on scale, so this matters.
        """
        batch = image if image.ndim == 4 else image.unsqueeze(0)  # (1, 3, H, W)
        key = (_digest(batch), tuple(batch.shape), batch.dtype, str(batch.device), size)
        if key not in self._grams:
            with torch.no_grad():
                feats = self.extractor(_resize(batch, size))
            self._grams[key] = {tap: gram_matrix(f) for tap, f in feats.items()}
        return dict(self._grams[key])


def _digest(image: Tensor) -> str:
    raw = image.detach().cpu().contiguous().reshape(-1).view(torch.uint8)  # the bytes, whatever the dtype
    return hashlib.sha256(raw.numpy()).hexdigest()


def _resize(batch: Tensor, size: int | tuple[int, int] | None) -> Tensor:
    if size is None:
        return batch
    if isinstance(size, int):
        h, w = batch.shape[-2:]
        size = (round(h * size / min(h, w)), round(w * size / min(h, w)))
    return F.interpolate(batch, size=size, mode="bilinear", antialias=True, align_corners=False)
