"""The contract every invertible layer of ``hcflow_lite`` follows (book chapter 1).

A flow layer is a bijection :math:`f` between tensors.  ``forward`` maps an input :math:`x` to
:math:`y = f(x)` and also returns, per sample, the log-determinant of its Jacobian

.. math:: \\log\\left|\\det \\frac{\\partial f(x)}{\\partial x}\\right|,

so that the change-of-variables formula :math:`\\log p_X(x) = \\log p_Y(f(x)) + \\log|\\det J_f(x)|`
can be accumulated layer by layer.  ``inverse`` maps :math:`y` back to :math:`x`.  Conditional
layers receive their conditioning tensor through the keyword ``cond``; it never changes the
Jacobian's shape, only its values.

Tensors are ``B×C×H×W``.  Layers whose output is two tensors (``Split``) return a tuple.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["Flow", "SequentialFlow", "zeros_logdet"]


def zeros_logdet(x: Tensor) -> Tensor:
    """A per-sample log-determinant of zero with the batch size, device and dtype of ``x``."""
    return x.new_zeros(x.shape[0])


class Flow(nn.Module):
    """Base class of the invertible layers.

    Subclasses implement

    * ``forward(x, cond=None) -> (y, logdet)`` with ``logdet`` of shape ``(B,)``;
    * ``inverse(y, cond=None) -> x``, the exact inverse of ``forward``.
    """

    def forward(self, x: Any, cond: Any = None) -> tuple[Any, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def inverse(self, y: Any, cond: Any = None) -> Any:  # pragma: no cover
        raise NotImplementedError


class SequentialFlow(nn.Sequential):
    """Compose flows: :math:`f = f_n \\circ \\dots \\circ f_1`, log-dets add up.

    ``cond`` is handed to every layer (conditional flow steps share one conditioning tensor).
    The inverse runs the layers' inverses in reverse order.
    """

    def forward(self, x: Tensor, cond: Any = None) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        logdet = zeros_logdet(x)
        for layer in self:
            x, ld = layer(x, cond)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: Tensor, cond: Any = None) -> Tensor:
        for layer in reversed(self):
            y = layer.inverse(y, cond)
        return y

