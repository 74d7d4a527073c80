"""Densely connected blocks: IRN's coupling network and ESRGAN's RRDB (book chapters 3 and 5).

``DenseBlock`` (rescaling coupling network, growth :math:`g`):

.. math::
   x_1 = \\sigma(c_1(x)),\\; x_2 = \\sigma(c_2([x, x_1])),\\; \\dots,\\;
   \\text{out} = c_5([x, x_1, x_2, x_3, x_4])

with 3×3 convolutions :math:`c_j` and LeakyReLU :math:`\\sigma` (slope 0.2); no residual.
``ResidualDenseBlock`` is the same with output :math:`0.2\\,c_5(\\dots) + x`;
``RRDB`` chains three of them: :math:`0.2\\,\\mathrm{RDB}_3(\\mathrm{RDB}_2(\\mathrm{RDB}_1(x))) + x`
:cite:`wang2018esrgan`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["DenseBlock", "ResidualDenseBlock", "RRDB", "xavier_scaled_"]


def xavier_scaled_(conv: nn.Conv2d, scale: float = 0.1) -> None:
    """Xavier-normal weights times ``scale`` and zero bias (the official init of these blocks)."""
    nn.init.xavier_normal_(conv.weight)
    with torch.no_grad():
        conv.weight.mul_(scale)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class _Dense5(nn.Module):
    """Five densely connected 3×3 convolutions (the shared body of the two blocks below)."""

    def __init__(self, in_channels: int, out_channels: int, growth: int) -> None:
        super().__init__()
        for j in range(1, 5):
            setattr(self, f"conv{j}", nn.Conv2d(in_channels + (j - 1) * growth, growth, 3, padding=1))
        self.conv5 = nn.Conv2d(in_channels + 4 * growth, out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.2)

    def body(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return self.conv5(torch.cat(feats, 1))


class DenseBlock(_Dense5):
    """IRN's coupling network: ``conv1..4`` Xavier × 0.1, ``conv5`` zero (identity coupling at start)."""

    def __init__(self, in_channels: int, out_channels: int, growth: int = 32) -> None:
        super().__init__(in_channels, out_channels, growth)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            xavier_scaled_(conv)
        nn.init.zeros_(self.conv5.weight)
        nn.init.zeros_(self.conv5.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ResidualDenseBlock(_Dense5):
    """ESRGAN's residual dense block, ``0.2·conv5(...) + x``."""

    def __init__(self, channels: int = 64, growth: int = 32) -> None:
        super().__init__(channels, channels, growth)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            xavier_scaled_(conv)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs and a scaled skip connection."""

    def __init__(self, channels: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(channels, growth)
        self.rdb2 = ResidualDenseBlock(channels, growth)
        self.rdb3 = ResidualDenseBlock(channels, growth)

    def forward(self, x: Tensor) -> Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x
