"""Numerical parity with the official HCFlow code: every tensor of the parity fixtures.

The fixtures (``tests/fixtures/parity``, see its README) hold the inputs and outputs of the
official implementation for reduced SR ×4, face SR ×8 and rescaling ×4 networks.  Each tensor is
compared with what ``hcflow_lite`` computes from the same weights and inputs; tolerances are the
fixtures' own (1e-5; log-densities relative).  ``test_every_fixture_tensor_is_compared`` makes
sure no key is left out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite import losses
from hcflow_lite.data import imresize
from hcflow_lite.models import (
    build_model,
    config_from_official_options,
    export_official,
    load_official_state_dict,
    quantize,
)

FIXTURES = Path(__file__).parent / "fixtures" / "parity"
TASKS = {"sr_x4": 1234, "face_x8": 2345, "rescale_x4": 3456}
ATOL = 1e-5
RTOL = 1e-5

def load_io(task: str) -> dict[str, torch.Tensor]:
    return torch.load(FIXTURES / task / "io.pt", weights_only=True)


def make_case(task: str) -> tuple:
    io = load_io(task)
    model = hc.load_official(FIXTURES / task / "state_dict.pt", FIXTURES / task / "options.json")
    seed = TASKS[task]
    torch.manual_seed(seed + 14)  # the official forward was called right after this
    with torch.no_grad():
        if task == "rescale_x4":
            result = model.encode(io["hr"], trace=True)
        else:
            result = model.encode(io["hr"], io["lr"], trace=True)  # default dequantisation noise
    return task, io, model, result, set()


@pytest.fixture(scope="module", params=list(TASKS))
def case(request):
    return make_case(request.param)


def check(case: tuple, key: str, ours: torch.Tensor, kind: str = "abs") -> None:
    """Compare one fixture tensor: ``abs`` (images, latents), ``rel`` (log-densities), ``exact``."""
    task, io, *_, compared = case
    ref = io[key]
    ours = ours.detach().to(ref.dtype)
    assert ours.shape == ref.shape, f"{task}/{key}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    if kind == "exact":
        assert torch.equal(ours, ref), f"{task}/{key}: not bitwise equal, max diff {float((ours - ref).abs().max()):.3g}"
    elif kind == "rel":
        torch.testing.assert_close(ours, ref, rtol=RTOL, atol=0, msg=lambda m: f"{task}/{key}: {m}")
    elif kind == "scaled":  # relative to the tensor's max magnitude
        err = float((ours - ref).abs().max()) / max(float(ref.abs().max()), 1e-30)
        assert err <= RTOL, f"{task}/{key}: scaled error {err:.3g}"
    else:
        torch.testing.assert_close(ours, ref, rtol=0, atol=ATOL, msg=lambda m: f"{task}/{key}: {m}")
    compared.add(key)


def check_inputs(case) -> None:
    task, io, model, *_ = case
    scale = model.scale
    check(case, "lr_bicubic_float", imresize(io["hr"], 1 / scale))
    check(case, "lr", torch.round(io["lr_bicubic_float"].clamp(0, 1) * 255) / 255, "exact")
    check(case, "hr", io["hr"], "exact")


def check_forward(case) -> None:
    task, io, model, r, _ = case
    check(case, "fwd_y", r.lr)
    if task == "rescale_x4":
        check(case, "fwd_y_unclamped", r.lr_raw)
        check(case, "fwd_y_quant", quantize(r.lr), "exact")
        check(case, "fwd_z1", r.eps[0])
        check(case, "fwd_z2", r.eps[1])
        return
    check(case, "fwd_y_unquant", r.lr_raw)
    check(case, "fwd_y_quant", quantize(r.lr_raw), "exact")
    # the default dequantisation noise is drawn exactly as the official code draws it
    check(case, "fwd_dequant_noise", r.hr_input - io["hr"])
    check(case, "fwd_hr_dequant", r.hr_input)
    check(case, "fwd_logdet_init_const", r.dequant_logdet, "rel")
    check(case, "fwd_logdet_flow", r.objective, "rel")
    check(case, "fwd_logp_lr", r.log_lr, "rel")
    check(case, "fwd_nll", r.nll, "rel")
    # the NLL is the official normalisation: bits per HR pixel location, no factor 3
    h, w = io["hr"].shape[-2:]
    manual = (-(r.objective + r.log_lr) / (math.log(2) * h * w)).mean()
    torch.testing.assert_close(r.nll, manual)
    with torch.no_grad():  # the noise can also be passed explicitly
        r = model.encode(io["hr"], io["lr"], dequant_noise=io["fwd_dequant_noise"])
    torch.testing.assert_close(r.nll, io["fwd_nll"], rtol=RTOL, atol=0)


def check_levels(case) -> None:
    task, io, model, r, _ = case
    names = {
        "a": "a",
        "u": "u",
        "cond_feature": "feature",
        "z": "z",
        "prior_mean": "mean",
        "eps": "eps",
    }
    for level, tr in enumerate(r.levels):
        for key, attr in names.items():
            check(case, f"fwd_l{level}_{key}", getattr(tr, attr), "scaled")
        if task == "rescale_x4":
            check(case, f"fwd_l{level}_prior_logscale", tr.logs, "scaled")
        else:
            check(case, f"fwd_l{level}_prior_logs", tr.logs, "scaled")
            check(case, f"fwd_l{level}_logp", tr.logp, "rel")
            check(case, f"fwd_l{level}_logdet_in", tr.objective_in, "rel")
            check(case, f"fwd_l{level}_logdet_out", tr.objective_out, "rel")
    assert len(r.levels) == model.config.L


def check_reverse(case) -> None:
    task, io, model, r, _ = case
    L = model.config.L
    tau = float(io["rev_tau"])
    check(case, "rev_tau", torch.tensor(tau), "exact")
    check(case, "rev_lr_in", quantize(r.lr) if task == "rescale_x4" else io["lr"], "exact")
    eps = [io[f"rev_eps_l{level}"] for level in range(L)]
    with torch.no_grad():
        check(case, "rev_tau0", model.decode(io["rev_lr_in"], 0.0))
        check(case, "rev_fixed_latents", model.decode(io["rev_lr_in"], tau, eps=eps))
        torch.manual_seed(TASKS[task] + 16)  # same RNG stream as the official sampler
        check(case, "rev_seeded", model.decode(io["rev_lr_in"], tau))
        check(case, "rev_roundtrip", model.decode(r.lr_raw, 1.0, eps=r.eps))
    for level in range(L):
        check(case, f"rev_eps_l{level}", eps[level], "exact")


def check_losses(case) -> None:
    """The official loss values, computed by ``hcflow_lite.losses``."""
    task, io, model, r, _ = case
    with torch.no_grad():
        if task == "rescale_x4":
            check(case, "loss_lr_mse", losses.lr_l2_loss(r.lr, io["lr"]), "rel")
            check(case, "loss_z_meansq", losses.latent_l2_loss(r.eps), "rel")
            eps = [io[f"rev_eps_l{level}"] for level in range(model.config.L)]
            terms = losses.rescaling_losses(model, io["hr"], io["lr"], float(io["rev_tau"]), eps=eps)
            check(case, "loss_l1_hr_fixed_latents", terms.hr_l1, "rel")
            # the same forward pass feeds the LR and latent terms
            torch.testing.assert_close(terms.lr_l2, io["loss_lr_mse"], rtol=RTOL, atol=0)
            torch.testing.assert_close(terms.latent_l2, io["loss_z_meansq"], rtol=RTOL, atol=0)
        else:
            torch.manual_seed(TASKS[task] + 14)  # the official forward's dequantisation noise
            nll, _ = losses.nll_loss(model, io["hr"], io["lr"])
            check(case, "loss_nll", nll, "rel")
            l1, _ = losses.hr_pixel_loss(model, io["lr"], io["hr"], 0.0)
            check(case, "loss_l1_hr_tau0", l1, "rel")


GROUPS = [check_inputs, check_forward, check_levels, check_reverse, check_losses]


@pytest.mark.parametrize("group", GROUPS, ids=[g.__name__.removeprefix("check_") for g in GROUPS])
def test_parity(case, group) -> None:
    group(case)


@pytest.mark.parametrize("task", list(TASKS))
def test_every_fixture_tensor_is_compared(task: str) -> None:
    """All groups on a fresh case: no fixture key may be left uncompared."""
    case = make_case(task)
    for group in GROUPS:
        group(case)
    missing = set(case[1]) - case[-1]
    assert not missing, f"{task}: fixture tensors never compared: {sorted(missing)}"


def test_actnorm_data_dependent_init(case) -> None:
    """Our ActNorm init on the official init batch gives the official ActNorm parameters."""
    task, *_ = case
    init = torch.load(FIXTURES / task / "actnorm_init.pt", weights_only=True)
    model = build_model(config_from_official_options(FIXTURES / task / "options.json"))
    load_official_state_dict(model, init["state_dict_before_init"])
    model.train()
    with torch.no_grad():
        noise = init["init_flow_input"] - init["init_hr"]
        model.encode(init["init_hr"], init["init_lr"], dequant_noise=noise)
    after = export_official(model)
    assert len(init["actnorm_after_init"]) == len(model.actnorms()) * 2
    for key, ref in init["actnorm_after_init"].items():
        torch.testing.assert_close(after[key], ref, rtol=1e-5, atol=1e-5, msg=lambda m, k=key: f"{task}/{k}: {m}")
    assert all(bool(a.initialized) for a in model.actnorms())


@pytest.mark.parametrize("task", list(TASKS))
def test_paper_size_parameter_count_and_key_layout(task: str) -> None:
    ref = json.loads((FIXTURES / task / "state_keys_full.json").read_text())
    model = build_model(config_from_official_options(FIXTURES / "full_options" / f"{task}.json"))
    named = build_model(task)
    assert model.num_parameters() == ref["num_parameters"] == named.num_parameters()
    ours = [(k, list(v.shape)) for k, v in export_official(named).items()]
    assert sorted(ours) == sorted((k, list(s)) for k, s in ref["keys"])
    assert len(ours) == ref["num_keys"]
