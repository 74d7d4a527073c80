"""Affine and additive coupling layers (NICE, RealNVP, Glow; book chapter 2).

The input :math:`z` (``C`` channels, ``C`` may be odd) is split **by halves**,
:math:`z_1 = z_{0:\\lfloor C/2\\rfloor}`, :math:`z_2 = z_{\\lfloor C/2\\rfloor:C}`.  A network
:math:`\\mathrm{NN}` reads :math:`z_1` (and the conditioning :math:`u`, if any, as
:math:`[z_1 \\mid u]`) and outputs :math:`h` with :math:`2(C-\\lfloor C/2\\rfloor)` channels, split
**interleaved**: shift :math:`t = h_{0::2}`, raw scale :math:`s = h_{1::2}`.  Then

.. math::
   \\log\\sigma = 0.318\\,\\arctan(2s), \\qquad
   z_2' = (z_2 + t)\\, e^{\\log\\sigma}, \\qquad
   \\log|\\det J| = \\textstyle\\sum_{c,h,w} \\log\\sigma,

and the output is :math:`[z_1 \\mid z_2']`.  The shift comes *before* the scale (Glow's
convention) and the soft clamp :math:`0.318\\arctan(2s)` bounds the log-scale to about
:math:`\\pm 0.4995` (the constant is the official one, close to but not exactly :math:`1/\\pi`).
The Jacobian is block-triangular, so its determinant is the product of the diagonal scales.

:class:`AdditiveCoupling` (NICE, :cite:`dinh2015nice`) is the volume-preserving special case
:math:`z_2' = z_2 + t` with :math:`\\log|\\det J| = 0`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .base import Flow, zeros_logdet

__all__ = ["AffineCoupling", "AdditiveCoupling", "soft_clamp", "SubnetFactory"]

SubnetFactory = Callable[[int, int], nn.Module]
"""``subnet(in_channels, out_channels) -> nn.Module``, the coupling network constructor."""


def soft_clamp(s: Tensor) -> Tensor:
    """The official bounded log-scale :math:`0.318\\arctan(2s)` (about :math:`\\pm 0.4995`)."""
    return 0.318 * torch.atan(2.0 * s)


def _net_input(z1: Tensor, cond: Tensor | None) -> Tensor:
    return z1 if cond is None else torch.cat([z1, cond], 1)


class AffineCoupling(Flow):
    """Affine coupling, optionally conditional (``cond_channels > 0``).

    Args:
        channels: ``C``, channels of the input.
        subnet: constructor of the coupling network, called as
            ``subnet(⌊C/2⌋ + cond_channels, 2·(C − ⌊C/2⌋))``.
        cond_channels: channels of the conditioning tensor ``u`` (0: unconditional).
        clamp: maps the raw scale to the log-scale (default :func:`soft_clamp`).
    """

    def __init__(
        self,
        channels: int,
        subnet: SubnetFactory,
        cond_channels: int = 0,
        clamp: Callable[[Tensor], Tensor] = soft_clamp,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.cond_channels = cond_channels
        self.split = channels // 2
        self.net = subnet(self.split + cond_channels, 2 * (channels - self.split))
        self.clamp = clamp

    def _shift_logscale(self, z1: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        self._check_cond(cond)
        h = self.net(_net_input(z1, cond))
        return h[:, 0::2], self.clamp(h[:, 1::2])

    def _check_cond(self, cond: Tensor | None) -> None:
        if (cond is None) != (self.cond_channels == 0):
            raise ValueError(
                f"this coupling expects {'no conditioning' if self.cond_channels == 0 else 'cond'}"
                f" ({self.cond_channels} channels), got {'None' if cond is None else tuple(cond.shape)}"
            )

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z1, z2 = x[:, : self.split], x[:, self.split :]
        shift, logscale = self._shift_logscale(z1, cond)
        z2 = (z2 + shift) * torch.exp(logscale)
        return torch.cat([z1, z2], 1), logscale.flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        z1, z2 = y[:, : self.split], y[:, self.split :]
        shift, logscale = self._shift_logscale(z1, cond)
        z2 = z2 * torch.exp(-logscale) - shift
        return torch.cat([z1, z2], 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, cond_channels={self.cond_channels}"


class AdditiveCoupling(Flow):
    """NICE's additive coupling :math:`z_2' = z_2 + \\mathrm{NN}([z_1 \\mid u])`, log-det 0.

    ``subnet`` is called as ``subnet(⌊C/2⌋ + cond_channels, C − ⌊C/2⌋)``.
    """

    def __init__(self, channels: int, subnet: SubnetFactory, cond_channels: int = 0) -> None:
        super().__init__()
        self.channels = channels
        self.cond_channels = cond_channels
        self.split = channels // 2
        self.net = subnet(self.split + cond_channels, channels - self.split)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z1, z2 = x[:, : self.split], x[:, self.split :]
        return torch.cat([z1, z2 + self.net(_net_input(z1, cond))], 1), zeros_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        z1, z2 = y[:, : self.split], y[:, self.split :]
        return torch.cat([z1, z2 - self.net(_net_input(z1, cond))], 1)
