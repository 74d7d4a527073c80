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
import torch.nn.functional as F
from torch import Tensor, nn

from ..flows.actnorm import ActNorm
from .precision import caller_autocast, caller_autocast_active
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

    def forward(self, x: Tensor, low_precision_channels: int = 0) -> Tensor:  # type: ignore[override]
        """``ActNorm(W * x)``; see :class:`FCN` for ``low_precision_channels``."""
        k = low_precision_channels
        if k and caller_autocast_active():
            # W * x = W[:, :-k] * x[:, :-k] + W[:, -k:] * x[:, -k:]: the flow variables' part in
            # float32, the features' part (most of the FLOPs) under the caller's autocast
            w, pad = self.weight, self.padding
            y = F.conv2d(x[:, :-k], w[:, :-k], padding=pad)
            with caller_autocast():
                y = y + F.conv2d(x[:, -k:], w[:, -k:], padding=pad).to(y.dtype)
        else:
            y = super().forward(x)
        return self.actnorm(y)[0]


class FCN(nn.Module):
    """``conv3×3 → ActNorm → ReLU → conv1×1 → ActNorm → ReLU → ZeroConv3×3``.

    Mixed precision, inside a model called under ``torch.autocast``
    (:mod:`hcflow_lite.nets.precision`); the output is always in the input's dtype:

    * ``low_precision=True`` (the rescaling model's conditional couplings): all of it runs
      under the caller's autocast;
    * ``feature_channels=F`` (the SR model's conditional couplings, whose input is
      :math:`[z_1 \\mid h]` with features :math:`h` of ``F`` channels): the part of the first
      convolution that reads :math:`h` runs under the caller's autocast, everything else in
      float32.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 64,
        low_precision: bool = False,
        feature_channels: int = 0,
    ) -> None:
        super().__init__()
        if not 0 <= feature_channels < in_channels:
            raise ValueError(f"feature_channels must be in [0, {in_channels}), got {feature_channels}")
        self.low_precision = low_precision
        self.feature_channels = feature_channels
        self.conv1 = ConvActNorm(in_channels, hidden_channels, 3)
        self.conv2 = ConvActNorm(hidden_channels, hidden_channels, 1)
        self.conv3 = ZeroConv2d(hidden_channels, out_channels)
        self.relu = nn.ReLU()

    def _net(self, x: Tensor) -> Tensor:
        h = self.conv1(x, self.feature_channels)
        return self.conv3(self.relu(self.conv2(self.relu(h))))

    def forward(self, x: Tensor) -> Tensor:
        if not self.low_precision:
            return self._net(x)
        with caller_autocast():
            return self._net(x).to(x.dtype)
