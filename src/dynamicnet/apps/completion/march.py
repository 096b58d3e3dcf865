"""The marching prefill: a hole filled from its rim inwards by coherence transport (Bornemann & März, 2007).

The hole is filled one ring of pixels at a time, in the order of the distance to the known region (as in
Telea's fast-marching inpainting, 2004, which ``cv2.inpaint(…, INPAINT_TELEA)`` implements). Each pixel p of a
ring becomes the weighted mean of the known (or already filled) pixels q within ``MARCH_RADIUS``, with

    w(p, q) = exp(−κ · coh(p) · ((q − p) · g(p))²) / |q − p| / (1 + ring(p) − ring(q)),

where g(p) is the direction across the strongest edge near p and coh(p) ∈ [0, 1] how clear that edge is (both
from the structure tensor of the known image around the hole, smoothed at ``MARCH_SIGMA`` and integrated over
``MARCH_RHO`` px). Along a clear edge the weights reach only along it, so edges run on into the hole instead of
being averaged away; where there is no edge the weights are isotropic. Measured on held-out 128² crops with a
64² hole it fills better than OpenCV's Telea and Navier–Stokes inpainting on SSIM and VGG distance
(docs/completion.md); its parameters were chosen on crops of training photos.

:func:`march_fill` computes only the front pixels (a 64² hole: tens of milliseconds on a CPU);
:func:`march_fill_static` computes the same as a fixed graph (a fixed number of rings over the whole image, no
data-dependent indexing), which is what an ONNX export needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MARCH_RADIUS = 3  # neighbourhood a filled pixel averages over (OpenCV's example radius for Telea's method)
MARCH_RINGS = 64  # rings a static (exported) graph marches before push-pull takes the rest: holes ≤ 128 px deep
MARCH_ANISOTROPY = 15.0  # κ: how narrowly a clear edge steers the weights along itself
MARCH_SIGMA = 1.0  # px: smoothing of the known image before its gradients
MARCH_RHO = 4.0  # px: the structure tensor's integration scale
_TINY = 1e-9  # an isotropic share, so that a pixel with known neighbours never has all-zero weights


def _offsets(radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(dy, dx) of every neighbour q − p within ``radius`` (the centre excluded)."""
    oy, ox = torch.meshgrid(torch.arange(-radius, radius + 1), torch.arange(-radius, radius + 1), indexing="ij")
    keep = (oy**2 + ox**2 <= radius**2) & ((oy != 0) | (ox != 0))
    return oy[keep].float(), ox[keep].float()


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, 1, H, W)`` with replicated borders."""
    half = math.ceil(2 * sigma)
    g = torch.exp(-(torch.arange(-half, half + 1, dtype=x.dtype, device=x.device) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    x = F.pad(x, (half, half, half, half), mode="replicate")
    return F.conv2d(F.conv2d(x, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))


def edge_field(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The structure of the known image around each pixel: ``(coh, gy, gx)``, each ``(B, 1, H, W)``.

    Gradients of the known image smoothed by normalised convolution (only where the smoothing saw no hole
    pixel, and not on the image's border), summed over the colour channels into a structure tensor, integrated
    with a Gaussian window of ``MARCH_RHO`` px (zero outside the image). Its leading eigenvector (gy, gx) is the
    direction across the edge; coh = ((λ1 − λ2) / (λ1 + λ2))², 0 where nothing is known nearby.
    """
    b, c, h, w = image.shape
    known = (mask <= 0.5).to(image.dtype)
    weight = _blur(known, MARCH_SIGMA)
    smooth = _blur((image * known).reshape(b * c, 1, h, w), MARCH_SIGMA).view(b, c, h, w) / weight.clamp_min(1e-6)
    full = weight > 0.999
    ok = torch.zeros_like(full)
    ok[..., 1:-1, 1:-1] = (
        full[..., 1:-1, 1:-1] & full[..., 2:, 1:-1] & full[..., :-2, 1:-1] & full[..., 1:-1, 2:] & full[..., 1:-1, :-2]
    )
    gy, gx = torch.zeros_like(smooth), torch.zeros_like(smooth)
    gy[..., 1:-1, :] = (smooth[..., 2:, :] - smooth[..., :-2, :]) / 2
    gx[..., :, 1:-1] = (smooth[..., :, 2:] - smooth[..., :, :-2]) / 2
    tensor = torch.stack([(gy * gy).sum(1), (gy * gx).sum(1), (gx * gx).sum(1)], 1) * ok  # (B, 3, H, W)
    half = math.ceil(2 * MARCH_RHO)
    r = torch.arange(-half, half + 1, dtype=image.dtype, device=image.device)
    window = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * MARCH_RHO**2))
    tensor = F.conv2d(tensor.reshape(b * 3, 1, h, w), window[None, None], padding=half).view(b, 3, h, w)
    yy, yx, xx = tensor[:, :1], tensor[:, 1:2], tensor[:, 2:]
    spread = ((yy - xx) ** 2 / 4 + yx**2).sqrt()
    lead = (yy + xx) / 2 + spread
    coh = (2 * spread / (yy + xx).clamp_min(1e-12)) ** 2
    vy, vx = yx, lead - yy  # eigenvector of the leading eigenvalue
    flat = vy.abs() + vx.abs() < 1e-12  # already diagonal (or nothing known): the axis of the larger entry
    vy = torch.where(flat, (yy >= xx).to(image.dtype), vy)
    vx = torch.where(flat, (yy < xx).to(image.dtype), vx)
    norm = (vy**2 + vx**2).sqrt().clamp_min(1e-12)
    return coh, vy / norm, vx / norm


def _weights(
    known: torch.Tensor,
    ring_q: torch.Tensor,
    ring: int,
    coh: torch.Tensor,
    gy: torch.Tensor,
    gx: torch.Tensor,
    oy: torch.Tensor,
    ox: torch.Tensor,
) -> torch.Tensor:
    """w(p, q) of the module docstring; every argument broadcasts (``oy``/``ox`` over the neighbours)."""
    steer = torch.exp(-MARCH_ANISOTROPY * coh * (oy * gy + ox * gx) ** 2) / (oy**2 + ox**2).sqrt()
    return known * (steer / (1 + ring - ring_q) + _TINY)


def march_fill(image: torch.Tensor, mask: torch.Tensor, radius: int = MARCH_RADIUS) -> torch.Tensor:
    """``image`` ``(B, C, H, W)`` with the hole of ``mask`` ``(B, 1, H, W)`` (1 = hole) filled by marching
    (module docstring); known pixels are returned unchanged. An image with no known pixel gets push-pull's fill
    (its mean colour)."""
    from .model import PUSH_PULL_LEVELS, push_pull

    b, c, h, w = image.shape
    r = radius
    hp, wp = h + 2 * r, w + 2 * r
    coh, gy, gx = (F.pad(t, (r, r, r, r)).reshape(-1) for t in edge_field(image, mask))
    hole = F.pad(mask > 0.5, (r, r, r, r), value=False)  # the padding is neither known nor to be filled
    inside = F.pad(torch.ones_like(mask, dtype=torch.bool), (r, r, r, r), value=False)
    values = F.pad(image * (mask <= 0.5), (r, r, r, r)).transpose(0, 1).reshape(c, -1).clone()
    known = (inside & ~hole).reshape(-1).clone()
    todo = hole.reshape(-1).clone()
    ring_of = torch.zeros(known.numel(), dtype=image.dtype, device=image.device)
    oy, ox = (o.to(image) for o in _offsets(r))
    offsets = (oy * wp + ox).long()
    eight = torch.tensor([-wp - 1, -wp, -wp + 1, -1, 1, wp - 1, wp, wp + 1], device=image.device)
    ring = 0
    while bool(todo.any()):
        ring += 1
        candidates = todo.nonzero().flatten()
        front = candidates[known[candidates[:, None] + eight].any(1)]
        if front.numel() == 0:  # an image of the batch without a known pixel
            break
        q = front[:, None] + offsets  # (N, K)
        p = front[:, None]
        weights = _weights(known[q].to(image.dtype), ring_of[q], ring, coh[p], gy[p], gx[p], oy, ox)
        values[:, front] = (values[:, q] * weights).sum(2) / weights.sum(1)
        ring_of[front], known[front], todo[front] = float(ring), True, False
    filled = values.view(c, b, hp, wp).transpose(0, 1)[..., r : r + h, r : r + w]
    rest = todo.view(b, 1, hp, wp)[..., r : r + h, r : r + w]
    if bool(rest.any()):
        now = (~rest).to(image.dtype)
        filled = torch.where(rest, push_pull(filled * now, now, PUSH_PULL_LEVELS), filled)
    return torch.where(mask > 0.5, filled, image)


def march_fill_static(
    image: torch.Tensor, mask: torch.Tensor, radius: int = MARCH_RADIUS, rings: int = MARCH_RINGS
) -> torch.Tensor:
    """:func:`march_fill` as a fixed graph: ``rings`` rings, each computed at every pixel from shifted copies
    of the image (no data-dependent indexing or loop, so it exports to ONNX); what is still unknown after
    ``rings`` rings is filled by push-pull. Equal to :func:`march_fill` (to float rounding) for holes at most
    ``rings`` px deep; slower, so the eager pipeline uses :func:`march_fill`."""
    from .model import PUSH_PULL_LEVELS, push_pull

    b, c, h, w = image.shape
    r = radius
    coh, gy, gx = edge_field(image, mask)
    oys, oxs = _offsets(r)
    k = 2 * r + 1
    taps = ((oys + r) * k + oxs + r).long().to(image.device)  # the disc's places in a k × k patch

    def shifted(x: torch.Tensor) -> torch.Tensor:  # (B, N, H, W) → (B, N, K, H, W): x at q = p + (dy, dx)
        patches = F.unfold(x, k, padding=r).view(x.shape[0], x.shape[1], k * k, h, w)  # zero outside the image
        return patches.index_select(2, taps)

    oy = oys.to(image).view(1, 1, -1, 1, 1)
    ox = oxs.to(image).view(1, 1, -1, 1, 1)
    known = (mask <= 0.5).to(image.dtype)  # shifted() pads with 0: q outside the image is never known
    values = image * known
    ring_of = torch.zeros_like(known)
    for ring in range(1, rings + 1):
        front = (F.max_pool2d(known, 3, 1, 1) > 0.5) & (known < 0.5)
        weights = _weights(
            shifted(known), shifted(ring_of), ring, coh[:, :, None], gy[:, :, None], gx[:, :, None], oy, ox
        )  # (B, 1, K, H, W)
        mean = (shifted(values) * weights).sum(2) / weights.sum(2).clamp_min(1e-30)
        values = torch.where(front, mean, values)
        ring_of = torch.where(front, torch.full_like(ring_of, float(ring)), ring_of)
        known = torch.where(front, torch.ones_like(known), known)
    values = torch.where(known > 0.5, values, push_pull(values * known, known, PUSH_PULL_LEVELS))
    return torch.where(mask > 0.5, values, image)


__all__ = ["MARCH_RADIUS", "MARCH_RINGS", "edge_field", "march_fill", "march_fill_static"]
