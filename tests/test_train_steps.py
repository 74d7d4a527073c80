"""The optimisation steps of one iteration (``hcflow_lite.train.steps``), checked step by step.

* the official HCFlow+ gradient leak: with ``official_grad_leak`` the NLL step of iteration 2
  sees the NLL gradient *plus* the clipped pixel gradient of iteration 1; by default only the
  NLL gradient (and HCFlow without a pixel step is the same either way);
* gradient clipping: element-wise ±5, then global norm 100, against an independent computation;
* the discriminator warm-up of HCFlow++: the flow does not change for ``d_init_iters`` iterations;
* the non-finite guard: a NaN loss or a NaN gradient skips the step and changes nothing.
"""

from __future__ import annotations

import copy

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite.train import LossConfig, OptimConfig, Recipe
from hcflow_lite.train.data import bicubic_lr
from hcflow_lite.train.steps import FlowObjectives


def init_model(name: str = "sr_x4-tiny", seed: int = 0) -> hc.HCFlow:
    torch.manual_seed(seed)
    model = hc.build_model(name).train()
    with torch.no_grad():
        hr = torch.rand(4, 3, 16, 16)
        model.encode(hr, bicubic_lr(hr, model.scale)) if model.config.task == "sr" else model.encode(hr)
    return model


def recipe_for(model: hc.HCFlow, **losses) -> Recipe:
    return Recipe(model, FlowObjectives(model), LossConfig(**losses), OptimConfig(learning_rate=1e-3), 32,
                  torch.device("cpu"))


def batch(seed: int, n: int = 2, size: int = 16, scale: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hr = torch.round(torch.rand(n, 3, size, size, generator=g) * 255) / 255
    return hr, bicubic_lr(hr, scale), torch.rand(hr.shape, generator=g) / 64


def record_clipping(recipe: Recipe) -> list[tuple[list[torch.Tensor], list[torch.Tensor]]]:
    """Wrap the clipping of ``recipe``: gradients before and after each clip, in call order."""
    calls = []
    original = recipe._clip

    def clip(params):
        params = list(params)
        before = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]
        norm = original(params)
        calls.append((before, [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]))
        return norm

    recipe._clip = clip  # type: ignore[method-assign]
    return calls


def run_two_iterations(leak: bool, pixel: float) -> tuple[Recipe, list]:
    model = init_model()
    recipe = recipe_for(model, nll=2e-3, pixel_hr=pixel, official_grad_leak=leak)
    calls = record_clipping(recipe)
    for it in (1, 2):
        hr, lr, noise = batch(it)
        res = recipe.iteration(it, hr, lr, noise, None)
        assert not res.skipped
    return recipe, calls


def test_official_hcflow_plus_gradient_leak_on_and_off() -> None:
    fixed, calls_fixed = run_two_iterations(leak=False, pixel=1.0)
    leaky, calls_leaky = run_two_iterations(leak=True, pixel=1.0)
    assert len(calls_fixed) == len(calls_leaky) == 4  # iteration 1: NLL, pixel; iteration 2: NLL, pixel
    # iteration 1 is the same in both modes
    for a, b in zip(calls_fixed[1][1], calls_leaky[1][1], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    pixel_grad_1 = calls_leaky[1][1]  # the clipped pixel gradient left behind by iteration 1
    assert sum(float(g.abs().sum()) for g in pixel_grad_1) > 0
    # iteration 2, NLL step: official = NLL gradient + leftover pixel gradient; ours = NLL gradient
    nll_fixed, nll_leaky = calls_fixed[2][0], calls_leaky[2][0]
    for f, lk, pg in zip(nll_fixed, nll_leaky, pixel_grad_1, strict=True):
        torch.testing.assert_close(lk, f + pg, rtol=1e-5, atol=1e-7)
    assert any(not torch.equal(f, lk) for f, lk in zip(nll_fixed, nll_leaky, strict=True))
    # … so the parameters after iteration 2 differ
    diff = max(float((p - q).detach().abs().max()) for p, q in zip(fixed.params, leaky.params, strict=True))
    assert diff > 1e-6
    # the carried gradients are what a checkpoint must keep to resume the official mode exactly
    carried = leaky.carried_grads()
    assert all(torch.equal(c, g) for c, g in zip(carried, calls_leaky[3][1], strict=True) if c is not None)


def test_without_a_pixel_step_both_modes_are_identical() -> None:
    fixed, _ = run_two_iterations(leak=False, pixel=0.0)
    leaky, _ = run_two_iterations(leak=True, pixel=0.0)
    for p, q in zip(fixed.params, leaky.params, strict=True):
        assert torch.equal(p, q)


def test_gradient_clipping_is_value_then_norm() -> None:
    model = init_model()
    recipe = recipe_for(model)
    g = torch.Generator().manual_seed(1)
    raw = [torch.randn(p.shape, generator=g) * 30 for p in recipe.params]
    for p, r in zip(recipe.params, raw, strict=True):
        p.grad = r.clone()
    norm = recipe._clip(recipe.params)
    ref = [r.double().clamp(-5, 5) for r in raw]  # element-wise ±5 …
    total = torch.sqrt(sum((r**2).sum() for r in ref))
    assert total > 100
    torch.testing.assert_close(norm.double(), total, rtol=1e-5, atol=0)
    ref = [r * (100 / (total + 1e-6)) for r in ref]  # … then the global norm to 100
    for p, r in zip(recipe.params, ref, strict=True):
        torch.testing.assert_close(p.grad.double(), r, rtol=1e-5, atol=1e-7)


def test_discriminator_warm_up_freezes_the_flow() -> None:
    model = init_model()
    recipe = Recipe(model, FlowObjectives(model),
                    LossConfig(nll=2e-3, pixel_hr=1.0, gan=0.5, discriminator="discriminator_vgg", discriminator_nf=4,
                               d_init_iters=2, temperature=0.9),
                    OptimConfig(learning_rate=1e-3, d_learning_rate=1e-3), 32, torch.device("cpu"))
    flow0 = copy.deepcopy(model.state_dict())
    d0 = copy.deepcopy(recipe.discriminator.state_dict())
    for it in (1, 2):
        hr, lr, noise = batch(it, size=32)
        eps = [torch.randn(2, 6, 16, 16), torch.randn(2, 21, 8, 8)]
        res = recipe.iteration(it, hr, lr, noise, eps)
        assert not res.generator_updated and set(res.values) == {"d_real", "d_fake"}
    for k, v in model.state_dict().items():
        assert torch.equal(v, flow0[k]), f"flow changed during the warm-up: {k}"
    assert any(not torch.equal(v, d0[k]) for k, v in recipe.discriminator.state_dict().items() if v.is_floating_point())
    hr, lr, noise = batch(3, size=32)
    res = recipe.iteration(3, hr, lr, noise, [torch.randn(2, 6, 16, 16), torch.randn(2, 21, 8, 8)])
    assert res.generator_updated and {"nll", "pixel_hr", "gan", "d_real", "d_fake"} <= set(res.values)
    assert any(not torch.equal(v, flow0[k]) for k, v in model.state_dict().items() if v.is_floating_point())


def test_a_nan_loss_or_gradient_skips_the_step_and_changes_nothing() -> None:
    model = init_model()
    recipe = recipe_for(model, nll=1.0)
    before = copy.deepcopy(model.state_dict())
    hr, lr, noise = batch(1)
    hr[0, 0, 0, 0] = float("nan")
    res = recipe.iteration(1, hr, lr, noise, None)
    assert res.skipped == ["nll"] and not res.generator_updated
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items() if v.is_floating_point())
    assert recipe.optimizer.state_dict()["state"] == {}  # Adam never saw the NaN
    # a finite loss whose gradient is not finite
    hr, lr, noise = batch(2)
    handle = recipe.params[0].register_hook(lambda g: torch.full_like(g, float("nan")))
    res = recipe.iteration(2, hr, lr, noise, None)
    handle.remove()
    assert res.skipped == ["nll_grad"] and all(p.grad is None for p in recipe.params)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items() if v.is_floating_point())
    res = recipe.iteration(3, hr, lr, noise, None)  # … and training goes on
    assert not res.skipped and res.generator_updated


def test_rescaling_step_and_recipe_errors() -> None:
    model = init_model("rescale_x4-tiny")
    recipe = recipe_for(model, nll=0.0, pixel_hr=1.0, pixel_lr=0.05, latent=1e-5, temperature=1.0)
    hr, lr, _ = batch(1)
    eps = [torch.randn(2, 6, 8, 8), torch.randn(2, 21, 4, 4)]
    before = [p.detach().clone() for p in recipe.params]
    res = recipe.iteration(1, hr, lr, None, eps)
    assert res.generator_updated and set(res.values) == {"pixel_hr", "pixel_lr", "latent", "loss", "batch_psnr"}
    assert res.values["loss"] == pytest.approx(res.values["pixel_hr"] + 0.05 * res.values["pixel_lr"] + 1e-5 * res.values["latent"])
    assert any(not torch.equal(a, b) for a, b in zip(before, recipe.params, strict=True))
    with pytest.raises(ValueError, match="no likelihood"):
        recipe_for(model, nll=1.0)
    with pytest.raises(ValueError, match="no perceptual or GAN"):
        recipe_for(model, nll=0.0, gan=0.5)
    with pytest.raises(ValueError, match="belong to the rescaling recipe"):
        recipe_for(init_model(), pixel_lr=0.05)


def test_the_recipes_adam_is_fused_and_updates_as_the_plain_adam() -> None:
    """The fused kernel (one pass over all parameters) against PyTorch's plain for-loop Adam,
    written step by step below as its documented update rule: same parameters after 5 steps,
    with weight decay and a gradient that changes each step; and its state-dict resumes the plain one."""
    from hcflow_lite.train.steps import adam

    model = init_model()
    recipe = recipe_for(model, nll=1.0)
    assert recipe.optimizer.defaults["fused"] is True
    transposed = torch.nn.Parameter(torch.randn(3, 3).t())  # a layout the fused kernel cannot take
    assert adam([transposed], 1e-3).defaults["fused"] is None
    params = [p for p in model.parameters() if p.requires_grad][:40]
    ref_params = [p.detach().clone().requires_grad_() for p in params]
    lr, betas, wd = 2e-3, (0.9, 0.99), 1e-4
    fused = adam(params, lr, betas, wd)
    plain = torch.optim.Adam(ref_params, lr=lr, betas=betas, weight_decay=wd, foreach=False)
    by_hand = [p.detach().clone().double() for p in params]
    m = [torch.zeros_like(p) for p in by_hand]
    v = [torch.zeros_like(p) for p in by_hand]
    g = torch.Generator().manual_seed(3)
    for step in range(1, 6):
        grads = [torch.randn(p.shape, generator=g) for p in params]
        for p, q, gr in zip(params, ref_params, grads):
            p.grad, q.grad = gr.clone(), gr.clone()
        fused.step()
        plain.step()
        for i, gr in enumerate(grads):  # the update rule (Kingma & Ba, L2 weight decay as torch's Adam)
            gd = gr.double() + wd * by_hand[i]
            m[i] = betas[0] * m[i] + (1 - betas[0]) * gd
            v[i] = betas[1] * v[i] + (1 - betas[1]) * gd.square()
            m_hat, v_hat = m[i] / (1 - betas[0] ** step), v[i] / (1 - betas[1] ** step)
            by_hand[i] = by_hand[i] - lr * m_hat / (v_hat.sqrt() + 1e-8)
    for p, q, h in zip(params, ref_params, by_hand):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(p.detach().double(), h, rtol=1e-5, atol=1e-6)
    resumed = torch.optim.Adam(ref_params, lr=lr, betas=betas, weight_decay=wd, foreach=False)
    resumed.load_state_dict(fused.state_dict())  # same state: exp_avg, exp_avg_sq, step
    for a, b in zip(resumed.state.values(), plain.state.values()):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"], rtol=1e-5, atol=1e-7)
        assert float(a["step"]) == float(b["step"]) == 5
