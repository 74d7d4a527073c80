"""Mixed precision: under ``torch.autocast(…, torch.bfloat16)`` only the networks change.

The models open and close autocast themselves: the RRDB feature extractors and the conditional
couplings' sub-networks run in bfloat16 (and, in the rescaling model, which has no
log-determinant or log-density in its objective, the main flow's coupling sub-networks too);
the invertible layers, every log-determinant, log-density and inverse stay float32.  Checked on
photographs (crops of scikit-image's astronaut and coffee) with non-trivial weights (the parity
fixtures' perturbed official networks, perturbed ``-lite`` models and the paper-size SR network
set up as ``ci/benchmark.py`` does): the NLL stays within 0.1 % and the τ = 0 super-resolution
within 0.05 dB PSNR of float32; the rescaling model's LR, upscaling and latents stay as close.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

import hcflow_lite as hc
from hcflow_lite.data import imresize
from hcflow_lite.models import quantize
from hcflow_lite.nets.dense import _Dense5
from hcflow_lite.testing import perturb_parameters

FIXTURES = Path(__file__).parent / "fixtures" / "parity"
BF16 = dict(device_type="cpu", dtype=torch.bfloat16)


def photos(size: int) -> torch.Tensor:
    """Two ``size×size`` crops of real photographs, in [0, 1]."""
    crops = [data.astronaut()[30 : 30 + size, 180 : 180 + size], data.coffee()[100 : 100 + size, 250 : 250 + size]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255)


def fixture_model(task: str) -> hc.HCFlow:
    return hc.load_official(FIXTURES / task / "state_dict.pt", FIXTURES / task / "options.json")


def lite_model(name: str, hr: torch.Tensor, perturbation: float = 0.01) -> hc.HCFlow:
    torch.manual_seed(0)
    model = hc.build_model(name).train()
    with torch.no_grad():
        model.encode(hr)  # data-dependent ActNorm initialisation on the photographs
    perturb_parameters(model, perturbation, torch.Generator().manual_seed(0))
    return model.eval()


def sr_model(kind: str, name: str, hr: torch.Tensor) -> hc.HCFlow:
    if kind == "fixture":
        return fixture_model(name)
    # the paper-size network (23 M parameters) as the benchmark sets it up: 0.01 overflows its
    # 26-step flow untrained, 0.001 moves every coupling and prior away from the identity
    return lite_model(name, hr, 0.001 if kind == "paper" else 0.01)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) of the 8-bit images, as the official evaluation."""
    mse = float(((a.clamp(0, 1) * 255).round().double() - (b * 255).round().double()).square().mean())
    return 20 * math.log10(255 / math.sqrt(mse))


def lr_of(hr: torch.Tensor, scale: int) -> torch.Tensor:
    return torch.round(imresize(hr, 1 / scale).clamp(0, 1) * 255) / 255


SR_MODELS = [("fixture", "sr_x4"), ("fixture", "face_x8"), ("lite", "sr_x4-lite"), ("paper", "sr_x4")]


@pytest.mark.parametrize(("kind", "name"), SR_MODELS, ids=[f"{k}-{n}" for k, n in SR_MODELS])
def test_bfloat16_sr_nll_and_tau0_psnr_stay_close_to_float32(kind: str, name: str) -> None:
    hr = photos(64)
    model = sr_model(kind, name, hr)
    lr = lr_of(hr, model.scale)
    noise = torch.rand(hr.shape, generator=torch.Generator().manual_seed(1)) / model.config.quant
    with torch.no_grad():
        # the NLL against the network's own LR: against the bicubic LR an untrained network's
        # NLL is all LR mismatch (computed by the float32 flow alone) and would hide the priors
        own_lr = model.encode(hr, lr, dequant_noise=noise).lr
        ref = model.encode(hr, own_lr, dequant_noise=noise)
        sr_ref = model.decode(lr, 0.0)
        with torch.autocast(**BF16):
            low = model.encode(hr, own_lr, dequant_noise=noise)
            sr_low = model.decode(lr, 0.0)
    assert low.nll.dtype == torch.float32 and sr_low.dtype == torch.float32
    rel = abs(float(low.nll) / float(ref.nll) - 1)
    assert rel < 1e-3, f"NLL {float(low.nll):.5f} vs float32 {float(ref.nll):.5f}: {100 * rel:.3f} %"
    # the priors did change (bfloat16 really ran), but not the images beyond 0.05 dB
    assert float((low.log_prior - ref.log_prior).abs().max()) > 0
    gap = abs(psnr(sr_low, hr) - psnr(sr_ref, hr))
    assert gap < 0.05, f"τ=0 PSNR {psnr(sr_low, hr):.3f} dB vs float32 {psnr(sr_ref, hr):.3f} dB"
    torch.testing.assert_close(low.lr, ref.lr, rtol=0, atol=0)  # the LR comes from the float32 flow alone


@pytest.mark.parametrize("name", ["sr_x4-lite", "face_x8-lite"])
def test_bfloat16_round_trip_stays_within_an_8bit_level(name: str) -> None:
    """encode → decode with the encoded latents: ~1e-5 in float32.  Under bfloat16 autocast the
    conditional couplings' networks read their inputs rounded to bfloat16, and on the way back a
    few of those inputs (float32 rounding away from the forward's) round to the neighbouring
    bfloat16 value; the 26 steps carry that on: ~5e-3 at the worst pixel (1.3 8-bit levels),
    ~3e-4 on average.  (Exact invertibility: use float32.)"""
    hr = photos(32)
    model = lite_model(name, hr)
    noise = torch.zeros_like(hr)
    errors = []
    for low in (False, True):
        with torch.no_grad(), torch.autocast(**BF16, enabled=low):
            r = model.encode(hr, dequant_noise=noise)
            errors.append((model.decode(r.lr_raw, 1.0, eps=r.eps) - hr).abs())
    assert float(errors[0].max()) < 1e-4
    assert 0 < float(errors[1].max()) < 8e-3 and float(errors[1].mean()) < 1e-3, (errors[1].max(), errors[1].mean())


@pytest.mark.parametrize("kind", ["fixture", "lite"])
def test_bfloat16_rescaling_stays_close_to_float32(kind: str) -> None:
    """Rescaling runs its coupling sub-networks in bfloat16 too: LR, upscaling and latents stay put."""
    hr = photos(64)
    model = fixture_model("rescale_x4") if kind == "fixture" else lite_model("rescale_x4-lite", hr)
    lr_bicubic = lr_of(hr, 4)
    out = {}
    with torch.no_grad():
        for low in (False, True):
            with torch.autocast(**BF16, enabled=low):
                r = model.encode(hr)
                up0 = model.decode(quantize(r.lr), 0.0)
                up1 = model.decode(quantize(r.lr), 1.0, generator=torch.Generator().manual_seed(0))
                back = model.decode(r.lr_raw, 1.0, eps=r.eps)  # round trip with its own latents
            out[low] = (r, up0, up1, back)
    (ref, ref0, ref1, ref_back), (low, low0, low1, low_back) = out[False], out[True]
    assert float((low.lr - ref.lr).abs().max()) > 0  # the couplings' sub-networks did run in bfloat16
    assert psnr(low.lr, ref.lr) > 50  # the stored LR image: within a fraction of an 8-bit level
    assert abs(psnr(low.lr, lr_bicubic) - psnr(ref.lr, lr_bicubic)) < 0.05
    assert abs(psnr(low0, hr) - psnr(ref0, hr)) < 0.05  # upscaling at τ = 0 and τ = 1
    assert abs(psnr(low1, hr) - psnr(ref1, hr)) < 0.05
    for e_low, e_ref in zip(low.eps, ref.eps):  # standardised latents: within 1 % of their spread
        assert float((e_low - e_ref).abs().mean()) < 0.01 * float(e_ref.std())
    # still invertible: float32 ~1e-7; in bfloat16 an input that rounds differently on the way back
    # changes a sub-network's output by one bfloat16 step, so ~1e-4..1e-3 (a fraction of an 8-bit level)
    assert float((ref_back - hr).abs().max()) < 1e-5
    assert float((low_back - hr).abs().max()) < 2e-3


@pytest.mark.parametrize("name", ["sr_x4-tiny", "face_x8-tiny", "rescale_x4-tiny"])
def test_which_convolutions_run_under_autocast(name: str) -> None:
    """The feature extractors' RRDBs and the conditional couplings' networks; rescaling: also the
    main flow's coupling networks.  Outputs float32."""
    model = lite_model(name, torch.rand(2, 3, 16, 16))
    seen: dict[str, set[bool]] = {}
    # convolution modules, and the dense blocks, which run their five convolutions themselves
    units = {n: m for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, _Dense5))}
    units = {n: m for n, m in units.items() if not any(n.startswith(d + ".") and isinstance(units[d], _Dense5) for d in units)}
    hooks = [
        m.register_forward_pre_hook(lambda mod, args, n=n: seen.setdefault(n, set()).add(torch.is_autocast_enabled("cpu")))
        for n, m in units.items()
    ]
    hr = torch.rand(2, 3, 16, 16)
    lr = torch.rand(2, 3, 16 // model.scale, 16 // model.scale)
    try:
        with torch.autocast(**BF16):
            with torch.no_grad():
                r = model.encode(hr)
                outs = [model.decode(lr, 0.7), model.sample(lr, 2, 0.7), *r.eps, *r.z, r.logdet, r.lr]
            model.train()
            r = model.encode(hr)  # with autograd (training) too
            outs += [r.logdet, *r.eps, model.decode(lr, 0.0)]
    finally:
        for h in hooks:
            h.remove()
    assert all(t.dtype == torch.float32 for t in outs)
    assert set(seen) == set(units)  # every one ran

    def low_precision(n: str) -> bool:
        # conv_first and trunk_conv: float32, so that the RRDBs' skip paths are, and what enters
        # the features undamped; the conditional couplings' networks: bfloat16; the main flow's
        # couplings: only in rescaling (the SR main flow makes the LR that the NLL compares)
        extractor = ".cond.extractor." in n and not n.endswith((".conv_first", ".trunk_conv"))
        coupling_net = ".coupling.net." in n and (".cond.steps." in n or model.config.task == "rescaling")
        return extractor or coupling_net

    wrong = {n: on for n, on in seen.items() if on != {low_precision(n)}}
    assert not wrong, wrong
    assert any(low_precision(n) for n in seen) and not all(low_precision(n) for n in seen)


def test_training_step_under_autocast_gives_float32_gradients_close_to_float32() -> None:
    hr = photos(32)
    model = lite_model("sr_x4-lite", hr).train()
    model.mark_initialized()
    lr = lr_of(hr, 4)
    noise = torch.rand(hr.shape, generator=torch.Generator().manual_seed(2)) / 64

    def grads(autocast: bool) -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        with torch.autocast(**BF16, enabled=autocast):
            nll = model.encode(hr, lr, dequant_noise=noise).nll
            l1 = (model.decode(lr, 0.0) - hr).abs().mean()
        (nll + l1).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    g32, g16 = grads(False), grads(True)
    assert g16.dtype == torch.float32 and torch.isfinite(g16).all() and g16.shape == g32.shape
    cos = float(torch.nn.functional.cosine_similarity(g16.double(), g32.double(), dim=0))
    assert cos > 0.999, f"cosine similarity of the bfloat16 and float32 gradients: {cos:.5f}"
