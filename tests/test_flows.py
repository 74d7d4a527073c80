"""Generic tests over every invertible layer: round trip and autograd log-determinant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from hcflow_lite import flows
from hcflow_lite.nets import FCN, DenseBlock
from hcflow_lite.testing import assert_invertible, jacobian_logdet, perturb_parameters


def fcn(hidden: int = 8) -> Callable[[int, int], nn.Module]:
    return lambda cin, cout: FCN(cin, cout, hidden)


def dense(growth: int = 4) -> Callable[[int, int], nn.Module]:
    return lambda cin, cout: DenseBlock(cin, cout, growth)


@dataclass
class Case:
    """A layer factory, the input channels, whether it is conditional, and a readable id."""

    name: str
    make: Callable[[int], nn.Module]
    channels: int
    cond: str | None = None  # None, "tensor" (feature map u) or "gaussian" (mean, logs)
    even_hw: bool = True


COND_CH = 5

CASES = [
    Case("actnorm", lambda c: flows.ActNorm(c), 21),
    Case("invconv", lambda c: flows.InvConv1x1(c), 21),
    Case("invconv_lu", lambda c: flows.InvConv1x1LU(c), 45),
    Case("squeeze", lambda c: flows.Squeeze(), 3),
    Case("haar", lambda c: flows.HaarDownsampling(c), 3),
    Case("affine", lambda c: flows.AffineCoupling(c, fcn()), 21),
    Case("affine_even", lambda c: flows.AffineCoupling(c, fcn()), 12),
    Case("affine_cond", lambda c: flows.AffineCoupling(c, fcn(), cond_channels=COND_CH), 45, cond="tensor"),
    Case("additive", lambda c: flows.AdditiveCoupling(c, fcn()), 21),
    Case("lr_coupling_affine", lambda c: flows.LRCoupling(c, dense(), lr_vs_others=True), 12),
    Case("lr_coupling_additive", lambda c: flows.LRCoupling(c, dense(), lr_vs_others=False), 21),
    Case("split", lambda c: flows.Split(3), 21),
    Case("gaussian", lambda c: flows.DiagonalGaussian(), 21, cond="gaussian"),
    Case(
        "flow_step",
        lambda c: flows.FlowStep(flows.ActNorm(c), flows.InvConv1x1(c), flows.AffineCoupling(c, fcn())),
        21,
    ),
    Case(
        "flow_step_cond",
        lambda c: flows.FlowStep(
            flows.ActNorm(c), flows.InvConv1x1(c), flows.AffineCoupling(c, fcn(), cond_channels=COND_CH)
        ),
        6,
        cond="tensor",
    ),
    Case(
        "sequential",
        lambda c: flows.SequentialFlow(
            flows.Squeeze(),
            flows.ActNorm(4 * c),
            flows.InvConv1x1LU(4 * c),
            flows.LRCoupling(4 * c, dense(), lr_vs_others=True),
            flows.AffineCoupling(4 * c, fcn()),
        ),
        3,
    ),
]


def build(case: Case, dtype: torch.dtype, seed: int = 0) -> tuple[nn.Module, torch.Tensor, Any]:
    """The layer with random non-identity parameters, a random input and its conditioning."""
    torch.manual_seed(seed)
    layer = case.make(case.channels)
    # ActNorm data-dependent init on a random batch, then every parameter moves off its init.
    init_x = torch.randn(3, case.channels, 4, 4) * 2 + 0.5
    layer.train()
    with torch.no_grad():
        layer(init_x, make_cond(case, init_x))
    layer.eval()
    perturb_parameters(layer, std=0.05, generator=torch.Generator().manual_seed(seed + 1))
    layer = layer.to(dtype)
    x = torch.randn(2, case.channels, 4, 4, dtype=dtype)
    return layer, x, make_cond(case, x)


def make_cond(case: Case, x: torch.Tensor) -> Any:
    g = torch.Generator().manual_seed(99)
    b, c, h, w = x.shape
    if case.cond == "tensor":
        return torch.randn(b, COND_CH, h, w, generator=g).to(x.dtype)
    if case.cond == "gaussian":
        return torch.randn(b, c, h, w, generator=g).to(x.dtype), 0.3 * torch.randn(b, c, h, w, generator=g).to(x.dtype)
    return None


IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_round_trip(case: Case, dtype: torch.dtype) -> None:
    layer, x, cond = build(case, dtype)
    assert_invertible(layer, x, cond)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_logdet_matches_autograd_jacobian(case: Case) -> None:
    layer, x, cond = build(case, torch.float64, seed=3)
    with torch.no_grad():
        _, logdet = layer(x, cond)
    per_sample_cond = [None] * x.shape[0]
    if cond is not None:
        per_sample_cond = [
            tuple(t[b : b + 1] for t in cond) if isinstance(cond, tuple) else cond[b : b + 1] for b in range(x.shape[0])
        ]
    reference = torch.stack(
        [jacobian_logdet(lambda t, c=c: layer(t, c)[0], x[b : b + 1])[0] for b, c in enumerate(per_sample_cond)]
    )
    torch.testing.assert_close(logdet, reference, rtol=1e-9, atol=1e-9)
    # the layers really transform their input (no identity can pass by accident)
    if not isinstance(layer, (flows.Squeeze, flows.Split)):
        assert (reference.abs() > 1e-3).any() or case.name.startswith(("additive", "lr_coupling_additive"))


def test_actnorm_init_gives_zero_mean_unit_variance() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 7, 5, 6) * torch.linspace(0.1, 5, 7).view(1, 7, 1, 1) + torch.linspace(-3, 3, 7).view(1, 7, 1, 1)
    layer = flows.ActNorm(7).train()
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(7), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), unbiased=False), torch.ones(7), atol=1e-4, rtol=0)
    # initialised once: a second batch does not re-initialise
    bias = layer.bias.detach().clone()
    layer(x * 3 + 1)
    torch.testing.assert_close(layer.bias.detach(), bias)
    assert bool(layer.initialized)


def test_actnorm_eval_mode_does_not_initialise() -> None:
    layer = flows.ActNorm(3).eval()
    x = torch.randn(2, 3, 4, 4)
    y, logdet = layer(x)
    torch.testing.assert_close(y, x)
    assert not bool(layer.initialized) and float(logdet.abs().max()) == 0.0


def test_actnorm_initialized_flag_survives_state_dict() -> None:
    a = flows.ActNorm(3).train()
    a(torch.randn(2, 3, 4, 4))
    b = flows.ActNorm(3).train()
    b.load_state_dict(a.state_dict())
    bias = b.bias.detach().clone()
    b(torch.randn(2, 3, 4, 4) + 10)
    torch.testing.assert_close(b.bias.detach(), bias)


def test_squeeze_channel_order() -> None:
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    y, _ = flows.Squeeze()(x)
    # output channel 4c + 2i + j holds x[c, 2h+i, 2w+j]
    for c in range(2):
        for i in range(2):
            for j in range(2):
                torch.testing.assert_close(y[0, 4 * c + 2 * i + j], x[0, c, i::2, j::2])


def test_haar_values_and_filter_major_order() -> None:
    x = torch.rand(1, 3, 2, 2, dtype=torch.float64)
    y, _ = flows.HaarDownsampling(3)(x)
    p00, p01, p10, p11 = x[0, :, 0, 0], x[0, :, 0, 1], x[0, :, 1, 0], x[0, :, 1, 1]
    torch.testing.assert_close(y[0, 0:3, 0, 0], (p00 + p01 + p10 + p11) / 4)
    torch.testing.assert_close(y[0, 3:6, 0, 0], (p00 - p01 + p10 - p11) / 4)
    torch.testing.assert_close(y[0, 6:9, 0, 0], (p00 + p01 - p10 - p11) / 4)
    torch.testing.assert_close(y[0, 9:12, 0, 0], (p00 - p01 - p10 + p11) / 4)


def test_coupling_splits_by_halves_and_reads_interleaved_output() -> None:
    """Only z[⌊C/2⌋:] changes; shift = h[0::2] is added before scaling by exp(clamp(h[1::2]))."""

    class Const(nn.Module):
        def __init__(self, out: torch.Tensor) -> None:
            super().__init__()
            self.out = out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out.expand(x.shape[0], -1, x.shape[2], x.shape[3])

    h = torch.tensor([0.5, 0.2, -1.0, 0.7, 2.0, -0.3]).view(1, 6, 1, 1)  # shift, s, shift, s, ...
    layer = flows.AffineCoupling(5, lambda cin, cout: Const(h))  # ⌊5/2⌋ = 2 kept, 3 transformed
    x = torch.randn(1, 5, 1, 1)
    y, logdet = layer(x)
    torch.testing.assert_close(y[:, :2], x[:, :2])
    shift, s = h[:, 0::2], h[:, 1::2]
    logscale = 0.318 * torch.atan(2 * s)
    torch.testing.assert_close(y[:, 2:], (x[:, 2:] + shift) * torch.exp(logscale))
    torch.testing.assert_close(logdet, logscale.sum().view(1))


def test_gaussian_log_prob_against_torch_distributions() -> None:
    x, mean, logs = torch.randn(3, 2, 4, 4, dtype=torch.float64), torch.randn(3, 2, 4, 4, dtype=torch.float64), torch.randn(3, 2, 4, 4, dtype=torch.float64)
    ref = torch.distributions.Normal(mean, logs.exp()).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(flows.gaussian_log_prob(x, mean, logs), ref)


def test_gaussian_sample_temperature_zero_is_mean() -> None:
    mean, logs = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(flows.gaussian_sample(mean, logs, 0.0), mean)
    eps = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(flows.gaussian_sample(mean, logs, 0.5, eps=eps), mean + logs.exp() * 0.5 * eps)


def test_invconv_inverse_cache_follows_weight_updates() -> None:
    layer = flows.InvConv1x1(4).eval()
    x = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        y, _ = layer(x)
        assert_invertible(layer, x)
        layer.weight.add_(0.3 * torch.randn(4, 4))  # an optimiser step
        y, _ = layer(x)
        torch.testing.assert_close(layer.inverse(y), x, atol=1e-5, rtol=0)


def test_coupling_rejects_missing_condition() -> None:
    layer = flows.AffineCoupling(6, fcn(), cond_channels=4)
    with pytest.raises(ValueError, match="cond"):
        layer(torch.randn(1, 6, 4, 4))
