"""Space-to-depth squeeze (RealNVP, :cite:`dinh2017realnvp`; book chapter 3).

``B×C×H×W → B×4C×H/2×W/2``: output channel :math:`4c + 2i + j` holds input channel :math:`c`
at rows :math:`2h+i` and columns :math:`2w+j` (channel-major, then the 2×2 offset in row-major
order, as the official ``SqueezeLayer``).  A permutation, so :math:`\\log|\\det J| = 0`.
"""

from __future__ import annotations

from torch import Tensor

from .base import Flow, zeros_logdet

__all__ = ["Squeeze", "squeeze2d", "unsqueeze2d"]


def squeeze2d(x: Tensor, factor: int = 2) -> Tensor:
    """Space-to-depth with channel order ``c·f² + i·f + j``."""
    b, c, h, w = x.shape
    if h % factor or w % factor:
        raise ValueError(f"squeeze needs H and W divisible by {factor}, got {h}×{w}")
    x = x.reshape(b, c, h // factor, factor, w // factor, factor)
    x = x.permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c * factor * factor, h // factor, w // factor)


def unsqueeze2d(y: Tensor, factor: int = 2) -> Tensor:
    """Depth-to-space, the inverse of :func:`squeeze2d`."""
    b, c, h, w = y.shape
    f2 = factor * factor
    if c % f2:
        raise ValueError(f"unsqueeze needs channels divisible by {f2}, got {c}")
    y = y.reshape(b, c // f2, factor, factor, h, w)
    y = y.permute(0, 1, 4, 2, 5, 3)
    return y.reshape(b, c // f2, h * factor, w * factor)


class Squeeze(Flow):
    """The squeeze layer: a volume-preserving permutation, log-det 0."""

    def __init__(self, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        return squeeze2d(x, self.factor), zeros_logdet(x)

    def inverse(self, y: Tensor, cond: object = None) -> Tensor:
        return unsqueeze2d(y, self.factor)
