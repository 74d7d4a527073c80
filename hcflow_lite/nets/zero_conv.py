"""The zero-initialised output convolution of Glow's coupling networks (book chapter 3).

.. math:: \\operatorname{ZeroConv}(x) = (W * x + b) \\odot e^{3\\,\\ell},

with :math:`W`, :math:`b` and the per-channel log-scale :math:`\\ell` (``logs``, shape
``[C_out, 1, 1]``) all starting at zero, so a coupling built on it starts as the identity and a
prior head built on it starts as :math:`\\mathcal N(0, I)`.  The factor 3 is Glow's
``logscale_factor``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ZeroConv2d"]


class ZeroConv2d(nn.Conv2d):
    """3×3 convolution (padding 1, with bias) whose output is scaled by ``exp(3·logs)``."""

    logscale_factor = 3.0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.logs = nn.Parameter(torch.zeros(out_channels, 1, 1))
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(x) * torch.exp(self.logs * self.logscale_factor)
