"""Haar downsampling (IRN, :cite:`xiao2020irn`; used by the rescaling HCFlow; book chapter 3).

For each input channel and each 2×2 block :math:`\\begin{smallmatrix}p_{00}&p_{01}\\\\p_{10}&p_{11}\\end{smallmatrix}`:

.. math::
   LL = \\tfrac14(p_{00}+p_{01}+p_{10}+p_{11}),\\quad
   H_1 = \\tfrac14(p_{00}-p_{01}+p_{10}-p_{11}),\\quad
   H_2 = \\tfrac14(p_{00}+p_{01}-p_{10}-p_{11}),\\quad
   H_3 = \\tfrac14(p_{00}-p_{01}-p_{10}+p_{11}).

Output channels are *filter-major*: ``[LL of all C | H1 of all C | H2 | H3]``, so after the first
Haar layer channels 0–2 are the 2×2 box averages of R, G, B.

Each block is mapped by :math:`M/4` with :math:`M^\\top M = 4I`, hence the inverse is
:math:`M^\\top` (no factor) and :math:`\\log|\\det J| = \\log(1/16)` per block, i.e.
:math:`-C H W \\log 2` per sample.  The official code computes but never adds this value (the
rescaling model has no likelihood); this layer returns the true value and the HCFlow rescaling
model ignores it, as the official one does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Flow

__all__ = ["HaarDownsampling", "haar_filters"]


def haar_filters(channels: int) -> Tensor:
    """The ±1 Haar filters, shape ``[4C, 1, 2, 2]`` (the 4×1×2×2 block repeated ``C`` times)."""
    w = torch.ones(4, 1, 2, 2)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = -1  # left column minus right column
    w[2, 0, 1, 0] = w[2, 0, 1, 1] = -1  # top row minus bottom row
    w[3, 0, 1, 0] = w[3, 0, 0, 1] = -1  # diagonal
    return torch.cat([w] * channels, 0)


class HaarDownsampling(Flow):
    """Haar wavelet downsampling ``B×C×H×W → B×4C×H/2×W/2`` with filter-major channel order.

    The filters are a frozen ``nn.Parameter`` named ``haar_weights`` (as in the official
    ``state_dict``), so they are counted among the parameters but never train.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.haar_weights = nn.Parameter(haar_filters(channels), requires_grad=False)

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Haar downsampling needs even H and W, got {h}×{w}")
        out = F.conv2d(x, self.haar_weights.to(x.dtype), stride=2, groups=c) / 4.0
        out = out.reshape(b, c, 4, h // 2, w // 2).transpose(1, 2).reshape(b, 4 * c, h // 2, w // 2)
        logdet = x.new_full((b,), -c * h * w * math.log(2.0))
        return out, logdet

    def inverse(self, y: Tensor, cond: object = None) -> Tensor:
        b, c4, h, w = y.shape
        c = c4 // 4
        out = y.reshape(b, 4, c, h, w).transpose(1, 2).reshape(b, c4, h, w)
        return F.conv_transpose2d(out, self.haar_weights.to(y.dtype), stride=2, groups=c)
