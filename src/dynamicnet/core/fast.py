"""Fast α changes for a fixed input: rerun only what depends on α.

For an interactive slider the input stays the same while α moves. Everything in front of the first
insertion point does not depend on α, and neither does the first block's output ψ(z₁) (its input is z₁); both
are computed once. When the last insertion point feeds an affine layer (a convolution or linear map, with
padding) that ends the network, its contribution is exactly affine in that block's α:
``out(h + a·ψ(h)) = out(h) + a·(out(ψ(h)) − out(0))``; so moving only the last block's α is an
axpy over the output. Everything else reruns the tail from the first insertion point — exact, not an
approximation: results equal a full forward up to float rounding.

This works when the main network is an ``nn.Sequential`` whose insertion points are top-level children (the
style network is built that way). For any other network :class:`PreparedInput` falls back to full forwards,
so callers can always use it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .dynamic import AlphaLike, DynamicNet

_AFFINE = (nn.Conv2d, nn.Linear, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d, nn.Identity)


def is_affine(module: nn.Module) -> bool:
    """Whether ``module`` is made only of affine layers (convolutions, linear maps, padding)."""
    leaves = [m for m in module.modules() if not list(m.children())]
    return (
        bool(leaves)
        and all(isinstance(m, _AFFINE) for m in leaves)
        and (isinstance(module, nn.Sequential) or not list(module.children()))
    )


def split_at_first_block(net: DynamicNet) -> tuple[list[nn.Module], list[nn.Module]] | None:
    """The main network's children before and from its first insertion point, when it is an ``nn.Sequential``
    whose insertion points are top-level children (else None): the α-independent prefix and the tail."""
    main = net.main
    names = [n for n, _ in main.named_children()] if isinstance(main, nn.Sequential) else []
    if not names or not all(p in names for p in net.insertion_points):
        return None
    first = min(names.index(p) for p in net.insertion_points)
    children = list(main.children())
    return children[:first], children[first:]


class PreparedInput:
    """One input, prepared for many α. Call it with any α form :class:`DynamicNet` accepts.

    Example:
        >>> prepared = PreparedInput(net, x)      # runs the α-independent prefix once
        >>> y = prepared(0.3)                     # == net(x, alpha=0.3), reruns only the tail
    """

    def __init__(self, net: DynamicNet, x: torch.Tensor) -> None:
        self.net = net
        self.x = x
        self.fast = split_at_first_block(net) is not None  # the one rule for "the network can be split"
        # (key, h, out(h) or None until needed, {set: out(ψ(h)) − out(0)}) for the affine tail's last h
        self._cache_last: tuple[Any, torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]] | None = None
        if not self.fast:
            return
        names = [n for n, _ in net.main.named_children()]
        self._children = list(net.main.children())
        self._block_of = {names.index(p): i for i, p in enumerate(net.insertion_points)}
        self._first = min(self._block_of)
        last = max(self._block_of)
        self._affine_tail = last == len(names) - 1 and is_affine(self._children[last])
        with torch.no_grad():
            z = x
            for child in self._children[: self._first]:
                z = child(z)
        self._z_first = z  # (B, C, h, w) at the first insertion point
        self._psi_first: dict[str, torch.Tensor] = {}  # ψ_k(z₁) per set, computed on first use

    @torch.no_grad()
    def __call__(self, alpha: AlphaLike) -> torch.Tensor:
        coeffs = self.net.resolve_alpha(alpha)
        if not self.fast:
            full: torch.Tensor = self.net(self.x, alpha=alpha)
            return full
        first_block = self._block_of[self._first]
        h = self._z_first
        # When the only insertion point is the affine output layer, its block is handled below.
        only_affine = self._affine_tail and self._first == len(self._children) - 1
        for s, c in coeffs.items():
            if c[first_block] and not only_affine:
                if s not in self._psi_first:
                    self._psi_first[s] = self.net.block(s, first_block)(self._z_first)
                h = h + c[first_block] * self._psi_first[s]
        end = len(self._children) - (1 if self._affine_tail else 0)
        if self._affine_tail:
            last_block = self._block_of[end]
            # Everything but the last block's α decides h; reuse it when only that α moved.
            key = tuple((s, c[:last_block] + c[last_block + 1 :]) for s, c in sorted(coeffs.items()))
            if self._cache_last is not None and self._cache_last[0] == key:
                return self._affine_combine(coeffs, last_block)
        for idx in range(self._first, end):
            if idx != self._first and idx in self._block_of:
                i = self._block_of[idx]
                z = h
                for s, c in coeffs.items():
                    if c[i]:
                        h = h + c[i] * self.net.block(s, i)(z)
            h = self._children[idx](h)
        if not self._affine_tail:
            return h
        # A new h: finish it the ordinary way (one output layer), and keep h so that a following change of
        # the last α alone only needs the affine decomposition (computed on that first repeat).
        y = h
        for s, c in coeffs.items():
            if c[last_block]:
                y = y + c[last_block] * self.net.block(s, last_block)(h)
        self._cache_last = (key, h, None, {})
        out: torch.Tensor = self._children[end](y)
        return out

    def _affine_combine(self, coeffs: dict[str, tuple[float, ...]], block: int) -> torch.Tensor:
        """out(h) + Σ_k a_k·(out(ψ_k(h)) − out(0)), each term computed once per h."""
        assert self._cache_last is not None
        key, h, base, deltas = self._cache_last
        out = self._children[-1]
        if base is None:
            base = out(h)
            self._cache_last = (key, h, base, deltas)
        y = base
        for s, c in coeffs.items():
            if c[block]:
                if s not in deltas:
                    offset = out(torch.zeros_like(h[:1]))  # out(0): the bias, broadcast as the layer does
                    deltas[s] = out(self.net.block(s, block)(h)) - offset
                y = y + c[block] * deltas[s]
        return y
