"""One Glow flow step (book chapter 3): ActNorm → permutation → coupling.

.. math:: \\text{forward: } x \\mapsto c(P(\\mathrm{AN}(x); u)), \\qquad
          \\text{inverse: } y \\mapsto \\mathrm{AN}^{-1}(P^{-1}(c^{-1}(y; u))),

log-determinants add.  The permutation is an invertible 1×1 convolution, or absent (the
rescaling model's main flow).  Only the coupling sees the conditioning ``u``.
"""

from __future__ import annotations

from torch import Tensor

from .actnorm import ActNorm
from .base import Flow

__all__ = ["FlowStep"]


class FlowStep(Flow):
    """``actnorm``, optional ``permute``, ``coupling`` (module names as in the state dict)."""

    def __init__(self, actnorm: ActNorm, permute: Flow | None, coupling: Flow) -> None:
        super().__init__()
        self.actnorm = actnorm
        self.permute = permute
        self.coupling = coupling

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, logdet = self.actnorm(x)
        if self.permute is not None:
            x, ld = self.permute(x)
            logdet = logdet + ld
        x, ld = self.coupling(x, cond)
        return x, logdet + ld

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        y = self.coupling.inverse(y, cond)
        if self.permute is not None:
            y = self.permute.inverse(y)
        return self.actnorm.inverse(y)



