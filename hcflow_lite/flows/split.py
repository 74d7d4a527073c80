"""Split: factor out part of the channels as a latent (multi-scale architecture; chapter 3).

``forward(x) → ((x_{0:S}, x_{S:C}), 0)``: the first ``S`` channels are kept and flow on, the
rest become the level's latent :math:`a_l`.  ``inverse`` concatenates them back.  A pure
re-indexing, so :math:`\\log|\\det J| = 0`.  In HCFlow, :math:`S = C/2` on every level but the
last, where :math:`S = 3`: those three channels *are* the LR image.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Flow, zeros_logdet

__all__ = ["Split"]


class Split(Flow):
    """Keep channels ``0..keep-1``, split off ``keep..C-1``."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def forward(self, x: Tensor, cond: object = None) -> tuple[tuple[Tensor, Tensor], Tensor]:
        if x.shape[1] <= self.keep:
            raise ValueError(f"cannot keep {self.keep} of {x.shape[1]} channels and split off the rest")
        return (x[:, : self.keep], x[:, self.keep :]), zeros_logdet(x)

    def inverse(self, y: tuple[Tensor, Tensor], cond: object = None) -> Tensor:
        kept, latent = y
        return torch.cat([kept, latent], 1)

    def extra_repr(self) -> str:
        return f"keep={self.keep}"
