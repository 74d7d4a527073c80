"""The performance shortcuts compute what the plain formulas compute.

* dense blocks: the buffered forward (no autograd) and the memory-saving autograd function
  (values and gradients, gradcheck) against the plain formula and an independent float64
  evaluation of it, NCHW and channels-last inputs, float32 and bfloat16 autocast;
* the feature extractor: channels-last inside, plain float32 NCHW out, same values;
* the 1×1 convolution's cached :math:`W^{-1}` and :math:`\\log|\\det W|`: reused while ``W`` is
  unchanged, recomputed after an optimiser step or a ``load_state_dict``, never used with
  autograd;
* ``model.sample`` (coarsest features computed once) against ``decode`` of the repeated batch;
* ``ci/benchmark.py``: the official option dict it builds describes our configuration, and its
  workers run end to end on a tiny model (no timing is asserted: performance is measured by the
  script, never by tests).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import hcflow_lite as hc
from hcflow_lite.flows import InvConv1x1
from hcflow_lite.models import config_from_official_options
from hcflow_lite.models.conditional import FeatureExtractor
from hcflow_lite.nets import RRDB, DenseBlock, ResidualDenseBlock
from hcflow_lite.testing import perturb_parameters

ROOT = Path(__file__).resolve().parents[1]


def dense_formula_f64(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``conv5([x, x1, …, x4])``, ``x_j = lrelu(conv_j([x, x1, …, x_{j-1}]))``, in float64."""
    feats = [x.double()]
    convs = [block.conv1, block.conv2, block.conv3, block.conv4, block.conv5]
    for j, conv in enumerate(convs):
        out = F.conv2d(torch.cat(feats, 1), conv.weight.double(), conv.bias.double(), padding=1)
        if j < 4:
            out = torch.where(out >= 0, out, 0.2 * out)
        feats.append(out)
    return feats[-1]


def perturbed(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    return perturb_parameters(module, 0.05, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
def test_dense_block_paths_match_the_formula(channels_last: bool, batch: int) -> None:
    """Buffered forward (no autograd) and the memory-saving autograd function: values and gradients."""
    torch.manual_seed(0)
    block = perturbed(DenseBlock(5, 7, growth=4))  # conv5 starts at zero: perturb it
    x = torch.randn(batch, 5, 9, 11)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ref = dense_formula_f64(block, x)
    with torch.no_grad():
        buffered = block(x)
    x_fast, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    fast = block(x_fast)
    plain = block.body_reference(x_ref)
    for out in (buffered, fast, plain):
        assert out.dtype == torch.float32 and out.shape == (batch, 7, 9, 11)
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(buffered, fast.detach(), rtol=0, atol=0)
    # gradients of a non-trivial loss w.r.t. the input and every weight and bias
    w = torch.randn_like(fast)
    grads_fast = torch.autograd.grad((fast * w).sum(), [x_fast, *block.parameters()])
    grads_ref = torch.autograd.grad((plain * w).sum(), [x_ref, *block.parameters()])
    for a, b in zip(grads_fast, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_dense_block_autograd_function_passes_gradcheck() -> None:
    torch.manual_seed(6)
    block = perturbed(ResidualDenseBlock(3, 2)).double()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    params = [p for p in block.parameters()]
    assert torch.autograd.gradcheck(lambda t, *ps: block(t), (x, *params), eps=1e-6, atol=1e-6)


def test_residual_blocks_match_the_formula() -> None:
    torch.manual_seed(1)
    rdb = perturbed(ResidualDenseBlock(6, 3))
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(rdb(x).double(), x.double() + 0.2 * dense_formula_f64(rdb, x), rtol=1e-5, atol=1e-6)
        rrdb = perturbed(RRDB(6, 3))
        ref = x.double()
        for r in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3):
            ref = ref + 0.2 * dense_formula_f64(r, ref.float())
        torch.testing.assert_close(rrdb(x).double(), x.double() + 0.2 * ref, rtol=1e-5, atol=1e-5)


def test_dense_block_paths_under_bfloat16_autocast() -> None:
    torch.manual_seed(2)
    block = perturbed(ResidualDenseBlock(8, 4))
    # inside the feature extractor the blocks see bfloat16 channels-last tensors
    x = torch.randn(1, 8, 10, 10).bfloat16().contiguous(memory_format=torch.channels_last)
    xg = x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with torch.no_grad():
            buffered = block(x)
        fast = block(xg)
        plain = torch.add(x, block.body_reference(x), alpha=0.2)
    assert buffered.dtype == fast.dtype == torch.bfloat16
    torch.testing.assert_close(buffered, fast.detach(), rtol=0, atol=0)
    torch.testing.assert_close(fast.detach().float(), plain.float(), rtol=0, atol=0)
    fast.float().square().sum().backward()
    assert xg.grad is not None and xg.grad.dtype == torch.bfloat16
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in block.parameters())


@pytest.mark.parametrize("dual", [True, False])
def test_feature_extractor_layout_is_internal(dual: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(3)
    ext = perturbed(FeatureExtractor(5, nf=8, gc=4, nb=(1, 1), dual=dual))
    u = torch.randn(2, 5, 12, 12)
    with torch.no_grad():
        fast = ext(u)
        monkeypatch.setattr(FeatureExtractor, "channels_last", False)
        plain = ext(u)
    assert fast.dtype == torch.float32 and fast.is_contiguous()
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert ext(u).dtype == torch.float32  # back to the input's dtype for the flow


def test_feature_extractor_layout_in_bfloat16_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """With autograd under a model's bfloat16 autocast the extractor works in NHWC (faster
    backward convolutions): the same features and gradients as NCHW, up to bfloat16 rounding."""
    from hcflow_lite.nets.precision import float32_flow

    torch.manual_seed(4)
    ext = perturbed(FeatureExtractor(5, nf=8, gc=4, nb=(1, 1), dual=True))
    u = torch.randn(2, 5, 12, 12)
    seen = []
    hook = ext.trunk0.register_forward_pre_hook(lambda m, a: seen.append(a[0].is_contiguous()))
    results = []
    for channels_last in (True, False):
        monkeypatch.setattr(FeatureExtractor, "channels_last", channels_last)
        ext.zero_grad(set_to_none=True)
        ug = u.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16), float32_flow("cpu"):
            h = ext(ug)
        (h * torch.linspace(-1, 1, h.numel()).view_as(h)).sum().backward()
        grads = torch.cat([ug.grad.flatten()] + [p.grad.flatten() for p in ext.parameters()])
        results.append((h.detach(), grads))
    hook.remove()
    assert seen == [False, True]  # NHWC (not NCHW-contiguous) inside, then NCHW with the switch off
    (h_cl, g_cl), (h_nchw, g_nchw) = results
    assert h_cl.dtype == torch.float32 and h_cl.is_contiguous()
    torch.testing.assert_close(h_cl, h_nchw, rtol=2e-2, atol=2e-2)
    cos = torch.nn.functional.cosine_similarity(g_cl.double(), g_nchw.double(), dim=0)
    assert float(cos) > 0.999


def test_invconv_caches_are_reused_and_invalidated_by_an_optimiser_step() -> None:
    torch.manual_seed(4)
    layer = InvConv1x1(6)
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    y = torch.randn(2, 6, 3, 3)
    with torch.no_grad():
        inv1 = layer.inverse_weight(torch.float32)
        assert layer.inverse_weight(torch.float32) is inv1  # cached
        ld1 = layer(y)[1]
    torch.testing.assert_close(inv1.double(), torch.linalg.inv(layer.weight.detach().double()), rtol=0, atol=1e-6)
    # with autograd the inverse is recomputed and carries a gradient to W
    layer.inverse(y).square().sum().backward()
    assert layer.weight.grad is not None and float(layer.weight.grad.abs().sum()) > 0
    opt.step()  # changes W in place
    with torch.no_grad():
        inv2 = layer.inverse_weight(torch.float32)
        ld2 = layer(y)[1]
        x = layer.inverse(layer(y)[0])
    w = layer.weight.detach().double()
    assert float((inv2 - inv1).abs().max()) > 1e-3
    torch.testing.assert_close(inv2.double(), torch.linalg.inv(w), rtol=0, atol=1e-6)
    torch.testing.assert_close(ld2.double(), 9 * torch.linalg.slogdet(w)[1].expand(2), rtol=1e-6, atol=1e-6)
    assert float((ld2 - ld1).abs().max()) > 1e-4
    torch.testing.assert_close(x, y, rtol=0, atol=1e-5)
    # a load_state_dict writes W in place too
    other = InvConv1x1(6)
    layer.load_state_dict(other.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(layer.inverse_weight(torch.float32), torch.linalg.inv(other.weight.double()).float())


def test_sample_equals_decode_of_the_repeated_batch_paper_layout() -> None:
    """Shared coarsest features (computed once) give what decoding every sample computes."""
    torch.manual_seed(5)
    model = hc.build_model("sr_x4-tiny").train()
    with torch.no_grad():
        model.encode(torch.rand(2, 3, 16, 16))
    perturb_parameters(model, 0.01, torch.Generator().manual_seed(5))
    model.eval()
    lr = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        s = model.sample(lr, 4, 0.8, generator=torch.Generator().manual_seed(9), chunk=4)
        d = model.decode(lr.repeat(4, 1, 1, 1), 0.8, generator=torch.Generator().manual_seed(9))
        s0 = model.sample(lr, 2, 0.0)
        d0 = model.decode(lr, 0.0)
    torch.testing.assert_close(s.reshape(4, 3, 24, 20), d, rtol=0, atol=1e-5)
    torch.testing.assert_close(s0[0], d0, rtol=0, atol=1e-5)
    torch.testing.assert_close(s0[1], d0, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- ci/benchmark.py
def load_benchmark():
    spec = importlib.util.spec_from_file_location("hcflow_benchmark", ROOT / "ci" / "benchmark.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["sr_x4", "face_x8", "rescale_x4", "sr_x4-lite", "rescale_x4-tiny"])
def test_benchmark_builds_the_official_options_of_our_config(name: str) -> None:
    bench = load_benchmark()
    cfg = hc.get_model_config(name)
    back = config_from_official_options(bench.official_options(cfg, 160))
    assert back.replace(name=cfg.name) == cfg
    if "-" not in name:  # paper size: every option we write is the one the official repository ships
        shipped = json.loads((ROOT / "tests/fixtures/parity/full_options" / f"{name}.json").read_text())
        ours = bench.official_options(cfg, 160)
        fd, shipped_fd = ours["network_G"]["flowDownsampler"], shipped["network_G"]["flowDownsampler"]
        for key in set(fd) & set(shipped_fd) - {"splitOff"}:
            assert fd[key] == shipped_fd[key], key
        for key in set(fd["splitOff"]) & set(shipped_fd["splitOff"]):
            assert fd["splitOff"][key] == shipped_fd["splitOff"][key], key
        assert ours["scale"] == shipped["scale"] and ours.get("quant") == shipped.get("quant")


def test_benchmark_workers_run_on_a_tiny_model() -> None:
    """The timing worker's structure and its equivalence checks (ours only; nothing timed)."""
    bench = load_benchmark()
    spec = {
        "kind": "timing", "variant": "hcflow+", "dtypes": ["float32", "bfloat16"], "paths": ["train"],
        "size": 16, "batch": 1, "threads": torch.get_num_threads(), "device": "cpu", "samples": 2,
        "seed": 0, "model_size": "tiny", "official": None, "repeats": 1, "warmup": 0,
    }  # fmt: skip
    res = bench.timing_worker(spec)
    entry = res["paths"]["train"]["impls"]
    assert set(entry) == {"ours/float32", "ours/bfloat16"}
    assert entry["ours/float32"]["flops"] > 0 and len(entry["ours/float32"]["times_s"]) == 1
    assert res["checks"]["ours/float32"]["nll_rel_diff"] == 0.0
    assert res["checks"]["ours/bfloat16"]["finite"]
    report = {
        "command": "test", "meta": {"date": "-", "device_name": "cpu", "torch": torch.__version__, "loadavg_start": None, "loadavg_end": None},
        "args": {"samples": 2, "dtypes": ["float32", "bfloat16"], "official": None, "threads": 1, "batch": 1, "size": 16, "repeats": 1, "warmup": 0, "device": "cpu"},
        "results": {"hcflow+": res}, "machine": {},
    }  # fmt: skip
    table = bench.markdown(report)
    assert "SR ×4 HCFlow+" in table and "one training iteration" in table
