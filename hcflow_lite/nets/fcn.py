"""The coupling network of the SR flow steps (``FCN`` in the official code; book chapter 3).

.. math::
   h = \\operatorname{ZeroConv}_{3\\times3}\\Big(\\operatorname{ReLU}\\big(\\operatorname{AN}_2(
       W_2 * \\operatorname{ReLU}(\\operatorname{AN}_1(W_1 * x)))\\big)\\Big)

:math:`W_1` is a bias-free 3×3 convolution, :math:`W_2` a bias-free 1×1 convolution, each
followed by its own :class:`~hcflow_lite.flows.ActNorm` (data-dependently initialised like every
ActNorm; its log-determinant is not used, this network need not be invertible).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..flows.actnorm import ActNorm
from .precision import caller_autocast
from .zero_conv import ZeroConv2d

__all__ = ["ConvActNorm", "FCN"]


class ConvActNorm(nn.Conv2d):
    """A bias-free convolution followed by an ActNorm (state-dict keys ``weight``, ``actnorm.*``).

    Weights start as Xavier-normal × 0.1, as in the official code.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.actnorm = ActNorm(out_channels)
        nn.init.xavier_normal_(self.weight)
        with torch.no_grad():
            self.weight.mul_(0.1)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """``ActNorm(W * x)`` (the ActNorm's log-determinant is dropped)."""
        return self.actnorm(super().forward(x))[0]


class FCN(nn.Module):
    """``conv3×3 → ActNorm → ReLU → conv1×1 → ActNorm → ReLU → ZeroConv3×3``.

    Mixed precision, inside a model called under ``torch.autocast``
    (:mod:`hcflow_lite.nets.precision`): with ``low_precision=True`` (the conditional couplings
    of both models) it runs under the caller's autocast and returns its output in the input's
    dtype; otherwise (the SR model's main-flow couplings, which make the LR image) in float32.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, low_precision: bool = False) -> None:
        super().__init__()
        self.low_precision = low_precision
        self.conv1 = ConvActNorm(in_channels, hidden_channels, 3)
        self.conv2 = ConvActNorm(hidden_channels, hidden_channels, 1)
        self.conv3 = ZeroConv2d(hidden_channels, out_channels)
        self.relu = nn.ReLU()

    def _net(self, x: Tensor) -> Tensor:
        return self.conv3(self.relu(self.conv2(self.relu(self.conv1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        if not self.low_precision:
            return self._net(x)
        with caller_autocast():
            return self._net(x).to(x.dtype)
