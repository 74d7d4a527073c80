"""Densely connected blocks: IRN's coupling network and ESRGAN's RRDB (book chapters 3 and 5).

``DenseBlock`` (rescaling coupling network, growth :math:`g`):

.. math::
   x_1 = \\sigma(c_1(x)),\\; x_2 = \\sigma(c_2([x, x_1])),\\; \\dots,\\;
   \\text{out} = c_5([x, x_1, x_2, x_3, x_4])

with 3×3 convolutions :math:`c_j` and LeakyReLU :math:`\\sigma` (slope 0.2); no residual.
``ResidualDenseBlock`` is the same with output :math:`0.2\\,c_5(\\dots) + x`;
``RRDB`` chains three of them: :math:`0.2\\,\\mathrm{RDB}_3(\\mathrm{RDB}_2(\\mathrm{RDB}_1(x))) + x`
:cite:`wang2018esrgan`.

Performance (measured by ``ci/benchmark.py``; the book's appendix *Performance*): the five
convolutions of a block read one buffer ``[x | x_1 | x_2 | x_3 | x_4]`` that each writes its own
slice of, instead of concatenating all previous features again for every convolution
(:math:`C + 4g` channels written per block instead of :math:`4C + 10g`), and the LeakyReLUs run in
place inside it.  With autograd a plain buffer would not do (autograd forbids writing into a
tensor that earlier convolutions saved for their backward pass), so the block is one
:class:`torch.autograd.Function` that keeps only the buffer for its backward pass, where the
concatenating formula keeps every concatenation: about 4× less activation memory in the RRDBs
(the "memory-efficient DenseNet" of Pleiss et al., 2017).  Its backward pass is the chain rule
of the formula written out; ``tests/test_perf_equivalence.py`` checks values and gradients
against the plain formula, :meth:`_Dense5.body_reference`.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .precision import autocast_state, caller_autocast

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

    def convs(self) -> tuple[nn.Conv2d, ...]:
        return (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5)

    def body(self, x: Tensor) -> Tensor:
        """:math:`c_5([x, x_1, x_2, x_3, x_4])` with :math:`x_j = \\sigma(c_j([x, x_1, \\dots, x_{j-1}]))`.

        Under autocast the input, weights and biases are cast to its dtype inside the block (one
        autograd node for the block instead of one per cast); the gradients come back in the
        dtypes of ``x`` and of the parameters.
        """
        params = [t for conv in self.convs() for t in (conv.weight, conv.bias)]
        enabled, dtype = autocast_state(x.device.type)
        target = dtype if enabled and dtype != params[0].dtype else params[0].dtype
        if not torch.is_grad_enabled():
            return _dense_forward(x.to(target), *[t.to(target) for t in params])[1]
        return _DenseFunction.apply(x, target, *params)

    def body_reference(self, x: Tensor) -> Tensor:
        """The formula as written, with concatenations and autograd (the reference of the tests)."""
        feats = [x]
        for conv in self.convs()[:4]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), NEGATIVE_SLOPE))
        return self.conv5(torch.cat(feats, 1))


NEGATIVE_SLOPE = 0.2  #: of every LeakyReLU in these blocks


def _dense_forward(x: Tensor, *params: Tensor) -> tuple[Tensor, Tensor]:
    """``(buffer, out)``: the buffer ``[x | x_1 | … | x_4]`` filled slice by slice, ``out = c_5(buffer)``."""
    w, b = params[0::2], params[1::2]
    c, g = x.shape[1], w[0].shape[0]
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    buf = torch.empty(
        (x.shape[0], c + 4 * g, *x.shape[2:]),
        dtype=x.dtype,
        device=x.device,
        memory_format=torch.channels_last if channels_last else torch.contiguous_format,
    )
    buf[:, :c] = x
    end = c
    # inputs and weights already share a dtype: autocast (when on) must not cast them again
    off = torch.autocast(x.device.type, enabled=False) if autocast_state(x.device.type)[0] else contextlib.nullcontext()
    with off:
        for j in range(4):
            out = buf[:, end : end + g]
            out.copy_(F.conv2d(buf[:, :end], w[j], b[j], padding=1))
            F.leaky_relu_(out, NEGATIVE_SLOPE)  # in place, inside the buffer
            end += g
        return buf, F.conv2d(buf, w[4], b[4], padding=1)


def _conv_backward(grad: Tensor, inp: Tensor, weight: Tensor, mask: tuple[bool, bool, bool]) -> tuple:
    """Gradients of ``conv2d(inp, weight, bias, padding=1)`` w.r.t. input, weight and bias."""
    return torch.ops.aten.convolution_backward(
        grad, inp, weight, [weight.shape[0]], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, list(mask)
    )


class _DenseFunction(torch.autograd.Function):
    """The five densely connected convolutions with one buffer, keeping only it for the backward pass.

    Backward, with :math:`B = [x | x_1 | … | x_4]` and :math:`G` its gradient (zero at first):
    :math:`c_5` adds its input gradient to all of :math:`G`; then for :math:`j = 4, …, 1` the
    gradient of :math:`x_j` (complete, since only later convolutions read it) goes through the
    LeakyReLU (slope 1 where :math:`x_j > 0`, else 0.2: the sign of the output is the sign of the
    input) and :math:`c_j`, which adds its input gradient to :math:`G` over the channels it read.
    """

    @staticmethod
    def forward(ctx, x: Tensor, dtype: torch.dtype, *params: Tensor) -> Tensor:  # type: ignore[override]
        # computed in ``dtype`` (autocast's, when on); the backward pass returns its gradients in
        # ``dtype`` and autograd casts them to the dtypes of ``x`` and of the parameters
        params = tuple(t.to(dtype) for t in params)
        buf, out = _dense_forward(x.to(dtype), *params)
        ctx.save_for_backward(buf, *params[0::2])
        ctx.in_channels = x.shape[1]
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple:  # type: ignore[override]
        buf, *weights = ctx.saved_tensors
        c, g = ctx.in_channels, weights[0].shape[0]
        needs = ctx.needs_input_grad  # (x, dtype, w1, b1, …, w5, b5)
        grads: list[Tensor | None] = [None] * 10
        # c_5 read the whole buffer: its input gradient starts the buffer's gradient G
        grad_buf, grads[8], grads[9] = _conv_backward(grad_out, buf, weights[4], (True, needs[10], needs[11]))
        for j in (3, 2, 1, 0):
            start = c + j * g
            x_j, grad_j = buf[:, start : start + g], grad_buf[:, start : start + g]
            # LeakyReLU backward from its output (``self_is_result``), one fused kernel
            grad_pre = torch.ops.aten.leaky_relu_backward(grad_j, x_j, NEGATIVE_SLOPE, True)
            mask = (j > 0 or needs[0], needs[2 + 2 * j], needs[3 + 2 * j])
            gi, grads[2 * j], grads[2 * j + 1] = _conv_backward(grad_pre, buf[:, :start], weights[j], mask)
            if gi is not None:
                grad_buf[:, :start] += gi
        return (grad_buf[:, :c] if needs[0] else None, None, *grads)


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
        # x + 0.2·RDB₃(RDB₂(RDB₁(x))).  Under autocast the three RDBs run in its dtype (inputs
        # cast once here), while the skip connection keeps x's dtype (float32 in the models)
        enabled, dtype = autocast_state(x.device.type)
        inner = x.to(dtype) if enabled and x.is_floating_point() else x
        return torch.add(x, self.rdb3(self.rdb2(self.rdb1(inner))), alpha=0.2)
