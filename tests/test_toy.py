"""Toy densities, the 2-D flow, the training loop, the digits loader and the Part I figures."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from hcflow_lite import flows, toy, viz
from hcflow_lite.testing import assert_invertible, jacobian_logdet, perturb_parameters

matplotlib.use("Agg")


def grid_integral(log_prob, lo: float, hi: float, n: int = 600) -> float:
    """Midpoint-rule integral of exp(log_prob) over [lo, hi]² (float64)."""
    h = (hi - lo) / n
    centres = lo + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    gy, gx = torch.meshgrid(centres, centres, indexing="ij")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    return float(torch.exp(log_prob(pts)).sum() * h * h)


def test_samplers_are_reproducible_and_shaped() -> None:
    for name in toy.TOY_DENSITIES:
        a = toy.sample_toy(name, 500, torch.Generator().manual_seed(3))
        b = toy.sample_toy(name, 500, torch.Generator().manual_seed(3))
        assert a.shape == (500, 2) and torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown toy density"):
        toy.sample_toy("spiral", 10)


def test_two_moons_lie_on_two_half_circles() -> None:
    x = toy.two_moons(4000, noise=0.0, generator=torch.Generator().manual_seed(0))
    raw = x / 1.5 + torch.tensor([0.5, 0.25])  # undo the centring and scaling
    upper = (raw - torch.tensor([0.0, 0.0])).norm(dim=1)
    lower = (raw - torch.tensor([1.0, 0.5])).norm(dim=1)
    on_upper = (upper - 1).abs() < 1e-5
    on_lower = (lower - 1).abs() < 1e-5
    assert bool((on_upper | on_lower).all())
    assert bool((raw[on_upper, 1] >= -1e-6).all()) and bool((raw[on_lower, 1] <= 0.5 + 1e-6).all())
    assert 0.45 < float(on_upper.float().mean()) < 0.55


def test_ring_log_prob_matches_an_independent_mixture_and_integrates_to_one() -> None:
    x = torch.randn(50, 2, dtype=torch.float64) * 2
    k, radius, std = 8, 2.0, 0.2
    ref = torch.zeros(50, dtype=torch.float64)
    for j in range(k):
        mu = torch.tensor(
            [radius * math.cos(2 * math.pi * j / k), radius * math.sin(2 * math.pi * j / k)], dtype=torch.float64
        )
        ref += torch.exp(-((x - mu) ** 2).sum(1) / (2 * std**2)) / (2 * math.pi * std**2) / k
    torch.testing.assert_close(toy.ring_log_prob(x), torch.log(ref))
    assert grid_integral(toy.ring_log_prob, -3.5, 3.5) == pytest.approx(1.0, abs=1e-4)
    samples = toy.ring_of_gaussians(20000, generator=torch.Generator().manual_seed(1))
    assert samples.norm(dim=1).mean().item() == pytest.approx(radius, abs=0.02)


def test_checkerboard_samples_fill_the_dark_squares_uniformly() -> None:
    x = toy.checkerboard(40000, generator=torch.Generator().manual_seed(0)).double()
    assert bool(torch.isfinite(toy.checkerboard_log_prob(x)).all())
    cells = (torch.floor(x[:, 0]) + 2) * 4 + (torch.floor(x[:, 1]) + 2)
    counts = torch.bincount(cells.long(), minlength=16).double()
    dark = counts[counts > 0]
    assert len(dark) == 8
    assert float((dark / len(x) - 1 / 8).abs().max()) < 0.01
    assert grid_integral(toy.checkerboard_log_prob, -2.5, 2.5, n=500) == pytest.approx(1.0, abs=1e-6)


def perturbed_flow(**kwargs) -> toy.Flow2D:
    torch.manual_seed(0)
    flow = toy.build_flow_2d(**kwargs)
    flow(torch.randn(64, 2) * 1.5 + 0.3)  # ActNorm data-dependent initialisation
    return perturb_parameters(flow.eval(), std=0.2, generator=torch.Generator().manual_seed(1)).double()


@pytest.mark.parametrize("coupling", ["affine", "additive"])
@pytest.mark.parametrize("permutation", ["swap", "invconv"])
def test_flow2d_is_invertible_and_its_density_is_the_change_of_variables(coupling: str, permutation: str) -> None:
    flow = perturbed_flow(steps=3, hidden=16, coupling=coupling, permutation=permutation)
    x = torch.randn(6, 2, dtype=torch.float64)
    assert_invertible(flow, x)
    with torch.no_grad():
        z, logdet = flow(x)
        logp = flow.log_prob(x)
    torch.testing.assert_close(logdet, jacobian_logdet(lambda v: flow(v)[0], x))
    ref = -0.5 * (z**2).sum(1) - math.log(2 * math.pi) + jacobian_logdet(lambda v: flow(v)[0], x)
    torch.testing.assert_close(logp, ref)
    # the density integrates to one
    assert grid_integral(lambda p: flow.log_prob(p).detach(), -9, 9, n=500) == pytest.approx(1.0, abs=2e-3)


def test_flow2d_sampling_inverts_the_flow() -> None:
    flow = perturbed_flow(steps=2, hidden=8)
    x = flow.sample(5, temperature=0.5, generator=torch.Generator().manual_seed(2))
    eps = torch.randn(5, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        z, _ = flow(x)
    torch.testing.assert_close(z, 0.5 * eps)
    mean = flow.sample(3, temperature=0.0)
    torch.testing.assert_close(mean, mean[:1].expand(3, 2))
    with pytest.raises(ValueError, match="B×2"):
        flow(torch.zeros(3, 3, dtype=torch.float64))


def test_swap_and_mlp_subnet() -> None:
    swap = toy.swap_permutation(2)
    y, logdet = swap(torch.tensor([[1.0, 2.0]]).view(1, 2, 1, 1))
    assert y.flatten().tolist() == [2.0, 1.0] and logdet.item() == 0.0
    assert not swap.weight.requires_grad
    coupling = flows.AffineCoupling(4, toy.mlp_subnet(8))
    x = torch.randn(3, 4, 1, 1)
    y, logdet = coupling(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(3))  # zero-initialised output layer
    with pytest.raises(ValueError, match="B×C×1×1"):
        toy.MLP(2, 2)(torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError):
        toy.build_flow_2d(coupling="spline")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        toy.build_flow_2d(permutation="random")  # type: ignore[arg-type]


def test_fit_recovers_the_maximum_likelihood_gaussian() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data = torch.tensor([0.5, -1.0]) + torch.randn(1000, 2, generator=gen) @ torch.tensor([[1.0, 0.0], [0.9, 0.5]]).T
    flow = toy.Flow2D([flows.ActNorm(2), flows.InvConv1x1(2)])
    losses = toy.fit(flow, data, steps=400, batch_size=len(data), learning_rate=0.05)
    assert len(losses) == 400 and losses[-1] < losses[0]
    actnorm, conv = flow.flow
    a = torch.diag(torch.exp(-actnorm.logs.detach().flatten())) @ torch.linalg.inv(conv.weight.detach())
    torch.testing.assert_close(-actnorm.bias.detach().flatten(), data.mean(0), atol=2e-3, rtol=0)
    torch.testing.assert_close(a @ a.T, torch.cov(data.T, correction=0), atol=5e-3, rtol=0)


def test_fit_stops_on_a_non_finite_loss() -> None:
    flow = toy.build_flow_2d(steps=1, hidden=4)
    with pytest.raises(FloatingPointError, match="step 0"):
        toy.fit(flow, torch.randn(10, 2), steps=3, loss_fn=lambda m, x: m.log_prob(x).mean() * float("nan"))
    with pytest.raises(ValueError):
        toy.fit(flow, torch.randn(10, 2), steps=0)


def test_load_digits() -> None:
    images, labels = toy.load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.int64
    assert int(images.min()) == 0 and int(images.max()) == 16
    assert sorted(labels.unique().tolist()) == list(range(10))


def test_viz_part1_figures() -> None:
    import matplotlib.pyplot as plt

    fig = viz.plot_points_2d(torch.randn(100, 2), title="points")
    assert fig.axes[0].get_xlabel() == "$x_1$"
    fig = viz.plot_density_2d(lambda p: -0.5 * (p**2).sum(1), n=20, colorbar=True)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (20, 20)
    assert float(image.max()) == pytest.approx(
        math.exp(-((3 / 19) ** 2)), rel=1e-5
    )  # grid points nearest 0: (±3/19, ±3/19)
    fig = viz.plot_matrix(torch.eye(3))
    assert fig.axes[0].images[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError):
        viz.plot_points_2d(torch.zeros(3, 3))
    plt.close("all")


def test_image_grid_places_each_image() -> None:
    images = torch.arange(5.0).view(5, 1, 1, 1).expand(5, 1, 2, 3)
    grid = viz.image_grid(images, nrow=2, padding=1, pad_value=-1)
    assert grid.shape == (1, 3 * 3 + 1, 2 * 4 + 1)
    for k in range(5):
        r, q = divmod(k, 2)
        top, left = 1 + 3 * r, 1 + 4 * q
        assert bool((grid[0, top : top + 2, left : left + 3] == k).all())
    assert float(grid[0, 0, 0]) == -1 and float(grid[0, 7, 5]) == -1  # padding and the empty cell
