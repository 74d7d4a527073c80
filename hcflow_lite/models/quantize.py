"""8-bit quantisation with a straight-through gradient (official ``Basic.Quantization``).

.. math:: Q(y) = \\operatorname{round}(255\\,\\operatorname{clamp}(y, 0, 1)) / 255,
          \\qquad \\frac{\\partial Q}{\\partial y} := 1

(the gradient is the identity, not even clipped by the clamp).  Book chapter 6.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["quantize"]


class _Quantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y: Tensor) -> Tensor:  # type: ignore[override]
        return torch.round(y.clamp(0, 1) * 255.0) / 255.0

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


def quantize(y: Tensor) -> Tensor:
    """:math:`Q(y)`, differentiable by the straight-through estimator."""
    return _Quantize.apply(y)
