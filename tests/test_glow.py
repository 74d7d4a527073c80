"""The small multi-scale Glow of chapter 3: bijection, log-det, normalised density, sampling, bits/dim."""

from __future__ import annotations

import math

import pytest
import torch

from hcflow_lite import toy
from hcflow_lite.flows import ActNorm
from hcflow_lite.models.glow import Glow, GlowConfig, bits_per_dim, dequantize
from hcflow_lite.testing import assert_invertible, jacobian_logdet, perturb_parameters


def tiny(seed: int = 0, **kwargs) -> Glow:
    """A tiny Glow, ActNorms initialised on random images, every parameter perturbed, float64."""
    torch.manual_seed(seed)
    cfg = dict(in_channels=1, image_size=4, L=2, K=2, hidden_channels=8)
    cfg.update(kwargs)
    model = Glow(GlowConfig(**cfg))
    model.initialize(torch.rand(32, cfg["in_channels"], cfg["image_size"], cfg["image_size"]))
    return perturb_parameters(model.eval(), std=0.05, generator=torch.Generator().manual_seed(seed)).double()


def test_config_shapes_and_errors() -> None:
    cfg = GlowConfig(in_channels=3, image_size=16, L=3, K=1)
    shapes = cfg.level_shapes()
    assert shapes == [((12, 8, 8), (6, 8, 8)), ((24, 4, 4), (12, 4, 4)), ((48, 2, 2), (48, 2, 2))]
    assert sum(math.prod(z) for _, z in shapes) == cfg.num_dims == 3 * 16 * 16
    with pytest.raises(ValueError, match="divisible"):
        GlowConfig(image_size=12, L=3)
    with pytest.raises(ValueError):
        GlowConfig(K=0)
    with pytest.raises(TypeError):
        Glow(GlowConfig(), K=2)


@pytest.mark.parametrize("kwargs", [dict(), dict(lu=True), dict(in_channels=3, L=1), dict(image_size=8, L=3, K=1)])
def test_round_trip_and_logdet_match_autograd(kwargs: dict) -> None:
    model = tiny(**kwargs)
    c, s = model.config.in_channels, model.config.image_size
    x = torch.rand(2, c, s, s, dtype=torch.float64)
    assert_invertible(model, x)
    with torch.no_grad():
        zs, logdet = model(x)
    assert [tuple(z.shape[1:]) for z in zs] == [z for _, z in model.config.level_shapes()]
    torch.testing.assert_close(logdet, jacobian_logdet(lambda v: model(v)[0], x), rtol=1e-8, atol=1e-8)


def test_density_integrates_to_one_one_level() -> None:
    """L = 1 on 1×2×2 images: a 4-D density, integrated on a grid (midpoint rule)."""
    model = tiny(image_size=2, L=1, K=2)
    with torch.no_grad():
        model.top_mean.normal_(0, 0.3)
        model.top_logs.normal_(0, 0.2)
    n, lo, hi = 30, -3.0, 4.0
    h = (hi - lo) / n
    centres = lo + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    grid = torch.cartesian_prod(centres, centres, centres, centres).view(-1, 1, 2, 2)
    with torch.no_grad():
        total = sum(float(torch.exp(model.log_prob(chunk)).sum()) for chunk in grid.split(65536)) * h**4
    assert total == pytest.approx(1.0, abs=2e-3)


def test_log_prob_equals_change_of_variables_of_the_sampler() -> None:
    """log p(x) from the encoder equals log N(ε) − log|det ∂x/∂ε| of the sampler x = S(ε) (τ = 1),
    which runs the priors and the flow in the other direction (autograd Jacobian, float64)."""
    model = tiny(image_size=4, L=2, K=2)
    shapes = [z for _, z in model.config.level_shapes()]
    sizes = [math.prod(z) for z in shapes]
    eps = torch.randn(1, sum(sizes), dtype=torch.float64)
    sampler = Glow.sample.__wrapped__  # the sampler without its no_grad wrapper, for autograd

    def sample_from(flat: torch.Tensor) -> torch.Tensor:
        parts = [p.view(1, *z) for p, z in zip(flat.split(sizes, dim=1), shapes)]
        return sampler(model, 1, 1.0, None, parts).flatten(1)

    x = sample_from(eps).view(1, 1, 4, 4)
    jac = torch.autograd.functional.jacobian(lambda e: sample_from(e)[0], eps)[:, 0, :]
    expected = -0.5 * (eps**2).sum() - 0.5 * eps.numel() * math.log(2 * math.pi) - torch.linalg.slogdet(jac)[1]
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x)[0], expected, rtol=1e-8, atol=1e-8)


def test_sampling_temperature_and_eps() -> None:
    model = tiny()
    shapes = [z for _, z in model.config.level_shapes()]
    eps = [torch.randn(3, *z, dtype=torch.float64) for z in shapes]
    a = model.sample(3, 0.7, eps=eps)
    b = model.sample(3, 0.7, eps=eps)
    assert torch.equal(a, b) and a.shape == (3, 1, 4, 4)
    mean = model.sample(3, 0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(mean, mean[:1].expand_as(mean))
    assert not torch.allclose(model.sample(3, 1.0, eps=eps), mean)
    with pytest.raises(ValueError, match="eps"):
        model.sample(2, 1.0, eps=eps)
    with pytest.raises(ValueError):
        model.sample(0)


def test_bad_inputs() -> None:
    model = tiny()
    with pytest.raises(ValueError, match="B×1×4×4"):
        model(torch.rand(2, 3, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="latents"):
        model.inverse([torch.zeros(1, 2, 2, 2)])


def test_initialize_normalises_the_first_actnorm() -> None:
    torch.manual_seed(0)
    model = Glow(GlowConfig(in_channels=1, image_size=4, L=2, K=2, hidden_channels=8))
    x = torch.rand(64, 1, 4, 4) * 0.3 + 0.2
    model.initialize(x)
    assert all(bool(m.initialized) for m in model.modules() if isinstance(m, ActNorm))
    first = model.levels[0].steps[0].actnorm
    with torch.no_grad():
        out, _ = first(model.levels[0].squeeze(x - 0.5)[0])
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.pow(2).mean((0, 2, 3)), torch.ones(4), atol=1e-4, rtol=0)


def test_dequantize_boxes_and_errors() -> None:
    k = torch.randint(0, 17, (4000,), generator=torch.Generator().manual_seed(0))
    one_sided = dequantize(k, 17, generator=torch.Generator().manual_seed(1))
    centred = dequantize(k, 17, centered=True, generator=torch.Generator().manual_seed(1))
    assert bool(((one_sided >= k / 17) & (one_sided < (k + 1) / 17)).all())
    assert bool(((centred >= (k - 0.5) / 17) & (centred < (k + 0.5) / 17)).all())
    assert float((one_sided - k / 17).mean()) == pytest.approx(0.5 / 17, abs=2e-3)
    assert float((centred - k / 17).mean()) == pytest.approx(0.0, abs=2e-3)
    with pytest.raises(ValueError, match="0..16"):
        dequantize(torch.tensor([17]), 17)
    with pytest.raises(ValueError, match="integer"):
        dequantize(torch.tensor([0.5]), 17)


def test_bits_per_dim_of_a_uniform_and_a_known_density() -> None:
    assert bits_per_dim(torch.zeros(2), 64, 17).tolist() == pytest.approx([math.log2(17)] * 2)
    # a density of 2^D on [0, 1/2)^D: every dimension costs log2(n) - 1 bits
    d = 10
    assert float(bits_per_dim(torch.tensor(d * math.log(2.0)), d, 256)) == pytest.approx(7.0)


def test_a_few_training_steps_on_digits_lower_the_bits_per_dim() -> None:
    digits, _ = toy.load_digits()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = Glow(GlowConfig(in_channels=1, image_size=8, L=2, K=1, hidden_channels=8))
    model.initialize(dequantize(digits[:256], 17, generator=gen))
    before = float(model.bits_per_dim(digits[:512], 17, generator=gen).mean().detach())
    toy.fit(
        model,
        digits,
        steps=40,
        batch_size=128,
        learning_rate=5e-3,
        loss_fn=lambda m, k: m.bits_per_dim(k, 17, generator=gen).mean(),
        generator=gen,
    )
    with torch.no_grad():
        after = float(model.bits_per_dim(digits[:512], 17, generator=gen).mean())
    assert after < before - 0.3 and after < math.log2(17)
