"""The ablation cases of the paper's Table 1 (hcflow_lite.models.ablations).

Every case must stay an exact bijection with an exact log-determinant (checked against the
float64 autograd Jacobian on a tiny model with every parameter perturbed), the default case
must be the published model exactly, and each case must change exactly what its definition
says (checked against independent re-computations written here).
"""

from __future__ import annotations

import math

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite.flows import gaussian_log_prob
from hcflow_lite.models import ABLATIONS, HCFlowAblation, HCFlowConfig, build_ablation
from hcflow_lite.testing import jacobian_logdet, perturb_parameters

CASES = [c for c in ABLATIONS if c != "none"]


def tiny(case: str, base: str = "sr_x4-tiny", seed: int = 0, dtype: torch.dtype = torch.float64) -> hc.HCFlow:
    """A tiny model of ``case``: ActNorms initialised on random data, every parameter perturbed."""
    torch.manual_seed(seed)
    model = build_ablation(base, case)
    s = model.scale
    model.train()
    with torch.no_grad():
        model.encode(torch.rand(2, 3, 2 * s, 2 * s))
    perturb_parameters(model, 0.02, torch.Generator().manual_seed(seed))
    return model.eval().to(dtype)


@pytest.mark.parametrize(("case", "base"), [(c, "sr_x4-tiny") for c in ABLATIONS] + [(c, "face_x8-tiny") for c in CASES])
def test_logdet_matches_autograd(case: str, base: str) -> None:
    """log|det J| of x ↦ (ŷ, z_0, …, z_{L-1}) for a fixed condition y* equals the returned log-det."""
    model = tiny(case, base)
    s = model.scale
    x = torch.rand(1, 3, s, s, dtype=torch.float64)
    y_star = torch.rand(1, 3, 1, 1, dtype=torch.float64)  # the external condition, held fixed
    zero = torch.zeros_like(x)
    L = model.config.L

    def f(t: torch.Tensor):
        r = model.encode(t, y_star, dequant_noise=zero)
        return (r.lr_raw, *r.z[:L])

    with torch.no_grad():
        r = model.encode(x, y_star, dequant_noise=zero)
    torch.testing.assert_close(r.logdet, jacobian_logdet(f, x), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("case", ABLATIONS)
def test_round_trip_float64(case: str) -> None:
    model = tiny(case)
    s = model.scale
    hr = torch.rand(2, 3, 2 * s, 3 * s, dtype=torch.float64) * 0.8 + 0.1
    zero = torch.zeros_like(hr)
    with torch.no_grad():
        first = model.encode(hr, dequant_noise=zero)
        # decoding conditions on its LR input: encode with y* = ŷ so that both sides see the same condition
        condition = torch.rand_like(first.lr) if case == "no_lr_in_latent" else first.lr_raw
        r = model.encode(hr, condition, dequant_noise=zero)
        back = model.decode(condition, 1.0, eps=r.eps)
    torch.testing.assert_close(back, hr, rtol=0, atol=1e-10)
    assert len(r.eps) == model.config.L + (case == "no_lr_in_latent")


def test_default_case_is_the_published_model() -> None:
    """``none`` builds HCFlowSR; the ablation class with ``none`` computes exactly the same."""
    cfg = hc.get_model_config("sr_x4-tiny")
    assert type(build_ablation(cfg, "none")) is hc.HCFlowSR
    assert type(hc.build_model(cfg)) is hc.HCFlowSR
    ref = tiny("none", dtype=torch.float32)
    same = HCFlowAblation(cfg)
    same.load_state_dict(ref.state_dict())
    same.mark_initialized(True)
    same.eval()
    hr = torch.rand(2, 3, 16, 12)
    noise = torch.rand(hr.shape) / 64
    with torch.no_grad():
        a, b = ref.encode(hr, dequant_noise=noise), same.encode(hr, dequant_noise=noise)
        for x, y in zip([a.lr_raw, a.logdet, a.nll, *a.z, *a.eps], [b.lr_raw, b.logdet, b.nll, *b.z, *b.eps]):
            assert torch.equal(x, y)
        lr = torch.rand(2, 3, 4, 3)
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        assert torch.equal(ref.decode(lr, 0.9, generator=g1), same.decode(lr, 0.9, generator=g2))


def test_external_prior_conditions_the_encoding_on_y_star_only() -> None:
    ref = tiny("none")
    ext = tiny("external_prior")
    ext.load_state_dict(ref.state_dict())  # same weights: the two differ only in the condition
    hr = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    zero = torch.zeros_like(hr)
    with torch.no_grad():
        own = ref.encode(hr, dequant_noise=zero)
        # with y* = ŷ the two models compute the same thing ...
        same = ext.encode(hr, own.lr_raw, dequant_noise=zero)
        torch.testing.assert_close(same.nll, ref.encode(hr, own.lr_raw, dequant_noise=zero).nll, rtol=1e-12, atol=0)
        # ... with another y* the latents' prior moves, the flow itself does not
        other = ext.encode(hr, own.lr_raw + 0.05, dequant_noise=zero)
        assert torch.equal(other.lr_raw, own.lr_raw)
        assert not torch.allclose(other.eps[1], own.eps[1])
        lr = torch.rand(1, 3, 4, 4, dtype=torch.float64)
        assert torch.equal(ext.decode(lr, 0.0), ref.decode(lr, 0.0))  # SR is unchanged


def test_no_conditional_prior_is_a_standard_normal() -> None:
    model = tiny("no_conditional_prior")
    hr = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        r = model.encode(hr, dequant_noise=torch.zeros_like(hr))
    for z, e in zip(r.z, r.eps):
        assert torch.equal(z, e)  # μ = 0, σ = 1
    # log N(z; 0, I) summed over elements, computed independently
    ref = sum(-0.5 * (z**2 + math.log(2 * math.pi)).flatten(1).sum(1) for z in r.z)
    torch.testing.assert_close(r.log_prior, ref, rtol=1e-12, atol=1e-9)
    for level in model.levels:  # no conditioning network is left
        assert sum(p.numel() for p in level.cond.extractor.parameters()) == 0
        assert sum(p.numel() for p in level.cond.prior.parameters()) == 0


def test_single_scale_ignores_the_levels_own_channels() -> None:
    model = tiny("single_scale", "face_x8-tiny")
    L, F = model.config.L, model.config.feature_channels
    features = [None, torch.rand(1, F, 4, 4, dtype=torch.float64), torch.rand(1, F, 2, 2, dtype=torch.float64)]
    for level in range(L - 1):
        kept_a = torch.rand(1, model.config.level_channels()[level][1], 2 ** (L - level), 2 ** (L - level))
        u = model.cond_input(level, kept_a, features)
        assert torch.equal(u, model.cond_input(level, torch.rand_like(kept_a), features))
        k = 2 ** (L - 1 - level)
        assert torch.equal(u, features[-1].repeat_interleave(k, 2).repeat_interleave(k, 3))  # up(h_{L-1}) only
        assert model.levels[level].cond.extractor.conv_first.in_channels == F
    # the published model's level 0 sees y_0 and the features of both coarser levels
    ref = tiny("none", "face_x8-tiny")
    assert ref.levels[0].cond.extractor.conv_first.in_channels == 6 + 2 * F


def test_no_lr_in_latent_models_the_lr_with_a_conditional_prior() -> None:
    model = tiny("no_lr_in_latent")
    hr = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    y_star = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    zero = torch.zeros_like(hr)
    with torch.no_grad():
        r = model.encode(hr, y_star, dequant_noise=zero)
        h = model.levels[-1].cond.extractor(y_star)
        out = model.lr_prior(h)
        mean, logs = out[:, 0::2], out[:, 1::2]
        # the LR term is the conditional prior of ŷ (not the narrow Gaussian around y*)
        log_lr = gaussian_log_prob(r.lr_raw, mean, logs)
        torch.testing.assert_close(r.log_lr, log_lr, rtol=1e-12, atol=1e-9)
        nll = (-(r.objective + log_lr) / (math.log(2) * 16 * 16)).mean()
        torch.testing.assert_close(r.nll, nll, rtol=1e-12, atol=0)
        narrow = gaussian_log_prob(hc.models.quantize(r.lr_raw), y_star, -6.0)
        assert not torch.allclose(r.log_lr, narrow)
        # SR at τ = 0 starts from the prior mean of ŷ, not from y*
        torch.testing.assert_close(model.decode(y_star, 0.0, eps=[torch.zeros_like(e) for e in r.eps]),
                                   model.decode(y_star, 0.0))
        n = model.sample(y_star, 3, 0.8, generator=torch.Generator().manual_seed(0))
        assert n.shape == (3, 2, 3, 16, 16) and float(n.std(0).mean()) > 0


def test_checkpoint_keeps_the_case(tmp_path) -> None:
    model = tiny("single_scale", dtype=torch.float32)
    path = hc.save_checkpoint(model, tmp_path / "m.pt")
    back = hc.load_checkpoint(path)
    assert isinstance(back, HCFlowAblation) and back.case == "single_scale"
    lr = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        assert torch.equal(back.decode(lr, 0.0), model.decode(lr, 0.0))
    # the published model's checkpoints carry no ablation key (older versions read them)
    assert "ablation" not in hc.build_model("sr_x4-tiny").config.to_dict()


def test_bad_cases_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown ablation"):
        build_ablation("sr_x4-tiny", "no_flow")
    with pytest.raises(ValueError, match="SR model"):
        HCFlowConfig(task="rescaling", quant=None, ablation="single_scale")
    model = tiny("no_lr_in_latent", dtype=torch.float32)
    with pytest.raises(ValueError, match="expected"):
        model.encode(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 5, 5))
    with pytest.raises(ValueError, match="eps must hold"):
        model.decode(torch.rand(1, 3, 4, 4), 0.0, eps=[torch.zeros(1)])


def test_training_engine_trains_a_case(tmp_path) -> None:
    """``--set model.ablation=…`` reaches the model; the run's last.pt is that case."""
    from hcflow_lite.train import load_config, train

    cfg = load_config("sr_x4-smoke", ["model.ablation=no_lr_in_latent", "data.train=synthetic", "data.val=null",
                                      "data.synthetic_images=4", "data.batch_size=2", "data.patch_size=16",
                                      "schedule.iterations=2", "checkpoint.every=2", "log.progress=false"])
    result = train(cfg, tmp_path / "run")
    model = hc.load_checkpoint(result.last_checkpoint)
    assert isinstance(model, HCFlowAblation) and model.case == "no_lr_in_latent"
    assert result.nonfinite_steps == 0


def test_committed_results_file_is_complete(tmp_path) -> None:
    """book/_data/ablations_lite.json (what chapter 12 shows) holds every case and says which run made it."""
    from pathlib import Path

    from hcflow_lite.ablation_study import STUDIES, load_ablation_results

    path = Path(__file__).resolve().parents[1] / "book" / "_data" / "ablations_lite.json"
    results = load_ablation_results(path)
    assert [r["case"] for r in results["cases"]] == list(ABLATIONS)
    assert results["profile"] == "lite" and results["study"]["train_config"] == STUDIES["lite"].train_config
    assert all(r["iterations"] == results["study"]["iterations"] for r in results["cases"])
    assert results["reduced"] == (results["study"]["iterations"] != STUDIES["lite"].iterations)
    for key in ("command", "date", "commit", "machine"):
        assert results[key], key
    for r in results["cases"]:
        assert {run["temperature"] for run in r["runs"]} == set(results["evaluation"]["temperatures"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not an ablation results file"):
        load_ablation_results(bad)
    with pytest.raises(FileNotFoundError, match="reproduce ablations-lite"):
        load_ablation_results(tmp_path / "missing.json")


@pytest.mark.parametrize("case", ["no_lr_in_latent", "external_prior"])
def test_ablation_keeps_its_flow_and_lr_prior_in_float32_under_autocast(case: str) -> None:
    """As HCFlowSR: under bfloat16 autocast the features may be bfloat16, the densities are float32."""
    model = tiny(case, dtype=torch.float32)
    hr = torch.rand(2, 3, 16, 16)
    y_star = model.default_lr(hr)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        r = model.encode(hr, y_star, dequant_noise=torch.zeros_like(hr), trace=True)
        sr = model.decode(y_star, 0.0)
        draws = model.sample(y_star, 2, 0.8, generator=torch.Generator().manual_seed(0))
    assert r.nll.dtype == torch.float32 and sr.dtype == torch.float32 and draws.dtype == torch.float32
    if case == "no_lr_in_latent":
        with torch.no_grad():  # the LR prior on the (autocast-made) coarsest features, in float32
            h = model.lr_prior(r.levels[-1].feature.float())
        log_lr = gaussian_log_prob(r.lr_raw, h[:, 0::2], h[:, 1::2])
        torch.testing.assert_close(r.log_lr, log_lr, rtol=1e-5, atol=1e-4)
