"""Invertible 1×1 convolution (Glow, :cite:`kingma2018glow`; book chapter 3).

A learned channel mixing :math:`y_{:,h,w} = W x_{:,h,w}` with :math:`W \\in \\mathbb R^{C\\times C}`,

.. math:: \\log|\\det J| = H W \\log|\\det W| .

:class:`InvConv1x1` stores :math:`W` directly (the only variant the official HCFlow uses; key
``permute.weight``, ``W[out, in]``).  :class:`InvConv1x1LU` stores its LU decomposition
:math:`W = P L (U + \\operatorname{diag}(\\sigma e^{\\log s}))`, which makes the log-determinant
:math:`H W \\sum \\log s` and the inverse cheap.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Flow

__all__ = ["InvConv1x1", "InvConv1x1LU", "random_rotation"]


def random_rotation(channels: int, generator: torch.Generator | None = None) -> Tensor:
    """An orthogonal matrix ``Q`` from the QR decomposition of a standard-normal matrix.

    As in the official code there is no sign fix, so ``det Q`` may be ``+1`` or ``-1``.  (The
    official code draws the matrix from numpy's global RNG; we use torch's.)
    """
    a = torch.randn(channels, channels, generator=generator, dtype=torch.float64)
    q, _ = torch.linalg.qr(a)
    return q.float().contiguous()  # (QR returns it column-major: fused optimisers want one layout)


class InvConv1x1(Flow):
    """Invertible 1×1 convolution with a dense weight ``W`` (``weight[out, in]``).

    Without autograd (evaluation, sampling), :math:`\\log|\\det W|` and :math:`W^{-1}` (computed
    in float64, as the official code does) are cached until the weight changes, instead of
    being recomputed on every call: one small LU per layer and call saved (measured by
    ``ci/benchmark.py``).  The cache key holds the weight's version counter, which every
    in-place update (an optimiser step, ``load_state_dict``, ``with torch.no_grad(): w.add_(…)``)
    increments, so a stale value is never used.  With autograd both are recomputed: their
    gradients flow to ``W``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.weight = nn.Parameter(random_rotation(channels))
        self._cache: dict[str, tuple[tuple, Tensor]] = {}

    def _cached(self, name: str, dtype: torch.dtype, compute: Callable[[], Tensor]) -> Tensor:
        """``compute()``, cached per ``(name, dtype)`` while autograd is off and ``W`` unchanged."""
        if torch.is_grad_enabled():
            return compute()
        w = self.weight
        key = (w._version, w.data_ptr(), w.device, dtype)
        hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self._cache[name] = (key, value)
        return value

    def log_abs_det(self, dtype: torch.dtype) -> Tensor:
        """:math:`\\log|\\det W|` in ``dtype``."""
        return self._cached("logdet", dtype, lambda: torch.linalg.slogdet(self.weight.to(dtype))[1])

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        c = self.channels
        y = F.conv2d(x, self.weight.to(x.dtype).view(c, c, 1, 1))
        logdet = (x.shape[2] * x.shape[3]) * self.log_abs_det(x.dtype)
        return y, logdet.expand(x.shape[0])

    def inverse_weight(self, dtype: torch.dtype) -> Tensor:
        """:math:`W^{-1}`, computed in float64 (as the official code does) and cast to ``dtype``."""
        return self._cached("inverse", dtype, lambda: torch.linalg.inv(self.weight.double()).to(dtype))

    def inverse(self, y: Tensor, cond: object = None) -> Tensor:
        c = self.channels
        return F.conv2d(y, self.inverse_weight(y.dtype).view(c, c, 1, 1))

    def extra_repr(self) -> str:
        return f"{self.channels}"


class InvConv1x1LU(Flow):
    """Invertible 1×1 convolution in LU form, :math:`W = P L (U + \\operatorname{diag}(\\sigma e^{\\log s}))`.

    ``P`` (a permutation) and ``σ`` (signs) are fixed buffers; ``L`` (unit lower triangular),
    ``U`` (strictly upper triangular) and ``log s`` are learned.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        w = random_rotation(channels).double()
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("p", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(torch.tril(lower, -1).float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(torch.abs(s)).float())

    def weight(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """Assemble :math:`W` from its factors."""
        mask = self.lower_mask.to(dtype)
        lower = self.lower.to(dtype) * mask + self.eye.to(dtype)
        upper = self.upper.to(dtype) * mask.T + torch.diag(self.sign_s.to(dtype) * torch.exp(self.log_s.to(dtype)))
        return self.p.to(dtype) @ lower @ upper

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        c = self.channels
        y = F.conv2d(x, self.weight(x.dtype).view(c, c, 1, 1))
        logdet = (x.shape[2] * x.shape[3]) * self.log_s.to(x.dtype).sum()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor, cond: object = None) -> Tensor:
        c = self.channels
        inv = torch.linalg.inv(self.weight(torch.float64)).to(y.dtype)
        return F.conv2d(y, inv.view(c, c, 1, 1))

    def extra_repr(self) -> str:
        return f"{self.channels}"
