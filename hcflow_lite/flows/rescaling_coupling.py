"""The "3-vs-rest" coupling of the rescaling HCFlow (``AffineCoupling3shift``; book chapter 5).

The first three channels after a Haar layer hold the low-frequency (LR-like) image.  Steps
alternate between two couplings, chosen by the flag ``lr_vs_others`` (True for even step index
:math:`k` within a level, False for odd :math:`k`):

* ``lr_vs_others=True`` (affine): :math:`z_1 = z_{0:3}`, :math:`z_2 = z_{3:C}`,
  :math:`h = \\mathrm{NN}(z_1)` with :math:`2(C-3)` channels, :math:`t = h_{0::2}`,
  :math:`\\log\\sigma = 0.318\\arctan(2 h_{1::2})`, :math:`z_2' = (z_2 + t)e^{\\log\\sigma}`,
  output :math:`[z_1 \\mid z_2']`, :math:`\\log|\\det J| = \\sum\\log\\sigma`.
* ``lr_vs_others=False`` (additive): the LR channels are updated from the rest,
  :math:`z_{0:3}' = z_{0:3} + \\mathrm{NN}(z_{3:C})` (3 output channels), output
  :math:`[z_{0:3}' \\mid z_{3:C}]`, :math:`\\log|\\det J| = 0`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Flow, zeros_logdet
from .coupling import SubnetFactory, soft_clamp

__all__ = ["LRCoupling"]


class LRCoupling(Flow):
    """Alternating "LR vs rest" coupling of the rescaling model.

    Args:
        channels: ``C`` (must exceed ``lr_channels``).
        subnet: coupling network constructor ``subnet(in, out)``.
        lr_vs_others: True → affine update of the rest from the LR channels; False → additive
            update of the LR channels from the rest.
        lr_channels: number of LR channels (3).
    """

    def __init__(self, channels: int, subnet: SubnetFactory, lr_vs_others: bool, lr_channels: int = 3) -> None:
        super().__init__()
        if channels <= lr_channels:
            raise ValueError(f"need more than {lr_channels} channels, got {channels}")
        self.channels = channels
        self.lr_channels = lr_channels
        self.lr_vs_others = lr_vs_others
        rest = channels - lr_channels
        self.net = subnet(lr_channels, 2 * rest) if lr_vs_others else subnet(rest, lr_channels)

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        lr, rest = x[:, : self.lr_channels], x[:, self.lr_channels :]
        if self.lr_vs_others:
            h = self.net(lr)
            logscale = soft_clamp(h[:, 1::2])
            rest = (rest + h[:, 0::2]) * torch.exp(logscale)
            return torch.cat([lr, rest], 1), logscale.flatten(1).sum(1)
        return torch.cat([lr + self.net(rest), rest], 1), zeros_logdet(x)

    def inverse(self, y: Tensor, cond: object = None) -> Tensor:
        lr, rest = y[:, : self.lr_channels], y[:, self.lr_channels :]
        if self.lr_vs_others:
            h = self.net(lr)
            rest = rest * torch.exp(-soft_clamp(h[:, 1::2])) - h[:, 0::2]
            return torch.cat([lr, rest], 1)
        return torch.cat([lr - self.net(rest), rest], 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, lr_vs_others={self.lr_vs_others}"
