"""Pure loss functions: perceptual (Gram, content, style, total variation) and adversarial.

Every function here is stateless and side-effect free: it never modifies its inputs and holds no targets or
weights. The modules in :mod:`dynamicnet.losses.perceptual` only store targets and weights and call these, so
the tests can check each module against a composition of these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

GanKind = Literal["bce", "hinge"]


def gram_matrix(feat: Tensor) -> Tensor:
    """Gram matrix of a feature map, normalised by ``C·H·W`` per sample (Gatys et al. 2016).

    The normalisation makes the style loss comparable across layers of different width and across image sizes,
    so one set of layer weights works for every tap and resolution.

    Args:
        feat: features of shape ``(B, C, H, W)``.

    Returns:
        ``(B, C, C)`` with ``G[b, i, j] = Σ_hw F[b, i, h, w]·F[b, j, h, w] / (C·H·W)``.
    """
    b, c, h, w = feat.shape
    flat = feat.reshape(b, c, h * w)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / (c * h * w)  # (B, C, C)


def content_loss(feat: Tensor, target: Tensor) -> Tensor:
    """Feature reconstruction loss: mean squared error between two feature maps of the same shape."""
    return F.mse_loss(feat, target)


def style_loss(feats: Mapping[str, Tensor], target_grams: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """Weighted sum over taps of the MSE between Gram matrices: ``Σ_l w_l · mean((G(F_l) − G_l^target)²)``.

    Only the taps named in ``weights`` are used, so ``feats`` may hold extra taps (e.g. the content tap).
    A target Gram with batch size 1 is broadcast over the batch: one style image styles every sample.

    Args:
        feats: tap name → features ``(B, C, H, W)`` of the image being optimised or generated.
        target_grams: tap name → Gram matrix ``(B, C, C)`` or ``(1, C, C)`` of the style image.
        weights: tap name → layer weight.
    """
    missing = [tap for tap in weights if tap not in feats or tap not in target_grams]
    if missing:
        raise KeyError(f"style taps {missing} are missing from the features or the target Gram matrices")
    total = feats[next(iter(weights))].new_zeros(())
    for tap, weight in weights.items():
        gram = gram_matrix(feats[tap])  # (B, C, C)
        total = total + weight * F.mse_loss(gram, target_grams[tap].expand_as(gram))
    return total


def tv_loss(img: Tensor) -> Tensor:
    """Anisotropic total variation: mean absolute difference between vertical plus horizontal neighbours.

    Means (not sums) keep the weight independent of the image size. ``img`` is ``(B, C, H, W)``.
    """
    dy = img[..., 1:, :] - img[..., :-1, :]  # (B, C, H-1, W)
    dx = img[..., :, 1:] - img[..., :, :-1]  # (B, C, H, W-1)
    return dy.abs().mean() + dx.abs().mean()


def gan_d_loss(real_logits: Tensor, fake_logits: Tensor, kind: GanKind = "bce") -> Tensor:
    """Discriminator loss on raw (pre-sigmoid) logits.

    ``"bce"``: ``−log D(x) − log(1 − D(G(z)))`` via BCE-with-logits, stable for large logits (DCGAN).
    ``"hinge"``: ``E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]`` (Lim & Ye 2017; Miyato et al. 2018).
    """
    if kind == "bce":
        real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return real + fake
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    raise ValueError(f"unknown GAN loss kind {kind!r}; expected 'bce' or 'hinge'")


def gan_g_loss(fake_logits: Tensor, kind: GanKind = "bce") -> Tensor:
    """Generator loss on raw logits of generated samples.

    ``"bce"`` is the non-saturating loss ``−log D(G(z))`` (Goodfellow et al. 2014): unlike minimising
    ``log(1 − D(G(z)))``, its gradient does not vanish while the discriminator confidently rejects the fakes
    early in training.
    ``"hinge"`` is ``−E[D(G(z))]``.
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss kind {kind!r}; expected 'bce' or 'hinge'")
