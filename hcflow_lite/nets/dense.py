"""Densely connected blocks: IRN's coupling network and ESRGAN's RRDB (book chapters 3 and 5).

``DenseBlock`` (rescaling coupling network, growth :math:`g`):

.. math::
   x_1 = \\sigma(c_1(x)),\\; x_2 = \\sigma(c_2([x, x_1])),\\; \\dots,\\;
   \\text{out} = c_5([x, x_1, x_2, x_3, x_4])

with 3×3 convolutions :math:`c_j` and LeakyReLU :math:`\\sigma` (slope 0.2); no residual.
``ResidualDenseBlock`` is the same with output :math:`0.2\\,c_5(\\dots) + x`;
``RRDB`` chains three of them: :math:`0.2\\,\\mathrm{RDB}_3(\\mathrm{RDB}_2(\\mathrm{RDB}_1(x))) + x`
:cite:`wang2018esrgan`.

Performance (measured by ``ci/benchmark.py``; the book's appendix *Performance*): the
LeakyReLUs run in place, as in the official code (one activation less per convolution to
allocate, and to keep for the backward pass in training).  Without autograd, the five
convolutions read one preallocated buffer ``[x | x_1 | x_2 | x_3 | x_4]`` that each writes its
own slice of, instead of concatenating every previous feature again for every convolution
(:math:`C + 4g` channels written per block instead of :math:`4C + 10g`).  With autograd the block
concatenates, because writing into a buffer that earlier convolutions saved for their backward
pass is an in-place change autograd forbids.  Both paths compute the same numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .precision import caller_autocast

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
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)  # in place, as the official blocks

    def body(self, x: Tensor) -> Tensor:
        """:math:`c_5([x, x_1, x_2, x_3, x_4])` with :math:`x_j = \\sigma(c_j([x, x_1, \\dots, x_{j-1}]))`."""
        if torch.is_grad_enabled():
            return self._body_concat(x)
        return self._body_buffer(x)

    def _body_concat(self, x: Tensor) -> Tensor:
        """The formula as written: concatenate all previous features for every convolution."""
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return self.conv5(torch.cat(feats, 1))

    def _body_buffer(self, x: Tensor) -> Tensor:
        """The same without autograd: one buffer ``[x | x_1 | … | x_4]``, each ``x_j`` written once."""
        x1 = self.lrelu(self.conv1(x))  # its dtype is the buffer's (bfloat16 under autocast)
        c, g = x.shape[1], x1.shape[1]
        channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        buf = torch.empty(
            (x.shape[0], c + 4 * g, *x.shape[2:]),
            dtype=x1.dtype,
            device=x.device,
            memory_format=torch.channels_last if channels_last else torch.contiguous_format,
        )
        buf[:, :c] = x
        buf[:, c : c + g] = x1
        end = c + g
        for conv in (self.conv2, self.conv3, self.conv4):
            out = buf[:, end : end + g]
            out.copy_(conv(buf[:, :end]))
            self.lrelu(out)  # in place, inside the buffer
            end += g
        return self.conv5(buf)


class DenseBlock(_Dense5):
    """IRN's coupling network: ``conv1..4`` Xavier × 0.1, ``conv5`` zero (identity coupling at start).

    ``low_precision=True`` (the rescaling model's couplings): inside a model called under
    ``torch.autocast``, run under the caller's autocast (:mod:`hcflow_lite.nets.precision`);
    the output is always in the input's dtype.
    """

    def __init__(self, in_channels: int, out_channels: int, growth: int = 32, low_precision: bool = False) -> None:
        super().__init__(in_channels, out_channels, growth)
        self.low_precision = low_precision
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            xavier_scaled_(conv)
        nn.init.zeros_(self.conv5.weight)
        nn.init.zeros_(self.conv5.bias)

    def forward(self, x: Tensor) -> Tensor:
        if not self.low_precision:
            return self.body(x)
        with caller_autocast():
            return self.body(x).to(x.dtype)


class ResidualDenseBlock(_Dense5):
    """ESRGAN's residual dense block, ``0.2·conv5(...) + x``."""

    def __init__(self, channels: int = 64, growth: int = 32) -> None:
        super().__init__(channels, channels, growth)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            xavier_scaled_(conv)

    def forward(self, x: Tensor) -> Tensor:
        return torch.add(x, self.body(x), alpha=0.2)  # x + 0.2·body(x) in one pass over memory


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs and a scaled skip connection."""

    def __init__(self, channels: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(channels, growth)
        self.rdb2 = ResidualDenseBlock(channels, growth)
        self.rdb3 = ResidualDenseBlock(channels, growth)

    def forward(self, x: Tensor) -> Tensor:
        return torch.add(x, self.rdb3(self.rdb2(self.rdb1(x))), alpha=0.2)  # x + 0.2·RDB₃(RDB₂(RDB₁(x)))
