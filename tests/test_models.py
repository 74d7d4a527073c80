"""The HCFlow networks: whole-model log-determinant, API behaviour, checkpoints, errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite.models import CheckpointMismatchError, export_official, read_state_dict
from hcflow_lite.testing import jacobian_logdet, perturb_parameters

FIXTURES = Path(__file__).parent / "fixtures" / "parity"
TINY = ["sr_x4-tiny", "face_x8-tiny", "rescale_x4-tiny"]


def tiny_model(name: str, seed: int = 0, dtype: torch.dtype = torch.float32) -> hc.HCFlow:
    """A tiny model, ActNorms initialised on random data, every parameter perturbed."""
    torch.manual_seed(seed)
    model = hc.build_model(name)
    s = model.scale
    hr = torch.rand(2, 3, 2 * s, 2 * s)
    model.train()
    with torch.no_grad():
        model.encode(hr)
    perturb_parameters(model, 0.01, torch.Generator().manual_seed(seed))
    return model.eval().to(dtype)


@pytest.mark.parametrize("name", TINY)
def test_whole_model_logdet_matches_autograd(name: str) -> None:
    """log|det J| of x ↦ (ŷ, z_0, …, z_{L-1}) equals the returned log-det (float64)."""
    model = tiny_model(name, dtype=torch.float64)
    s = model.scale
    x = torch.rand(1, 3, s, s, dtype=torch.float64)
    zero = torch.zeros_like(x)

    def f(t: torch.Tensor):
        r = model.encode(t, dequant_noise=zero) if model.config.task == "sr" else model.encode(t)
        return (r.lr_raw, *r.z)

    with torch.no_grad():
        r = model.encode(x, dequant_noise=zero) if model.config.task == "sr" else model.encode(x)
    ref = jacobian_logdet(f, x)
    if model.config.task == "rescaling":
        # the rescaling model ignores the Haar log-det (as the official code): add it back
        # (level l: C/4 input channels of size (s/2^l)², log-det −log 2 per input element)
        channels_in = [c // 4 for c, _, _ in model.config.level_channels()]
        ref = ref - sum(-ci * (s // 2**lvl) ** 2 * math.log(2.0) for lvl, ci in enumerate(channels_in))
    torch.testing.assert_close(r.logdet, ref, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", TINY)
def test_encode_decode_round_trip_float64(name: str) -> None:
    model = tiny_model(name, dtype=torch.float64)
    s = model.scale
    hr = torch.rand(2, 3, 2 * s, 4 * s, dtype=torch.float64) * 0.8 + 0.1
    with torch.no_grad():
        r = model.encode(hr, dequant_noise=torch.zeros_like(hr)) if model.config.task == "sr" else model.encode(hr)
        back = model.decode(r.lr_raw, 1.0, eps=r.eps)
    torch.testing.assert_close(back, hr, rtol=0, atol=1e-10)
    assert [tuple(e.shape) for e in r.eps] == [tuple(z.shape) for z in r.z]
    assert r.eps[0].shape[-1] == 2 * s  # level 0 is the finest: HR/2


@pytest.mark.parametrize("name", TINY)
def test_decode_shapes_temperature_and_generator(name: str) -> None:
    model = tiny_model(name)
    lr = torch.rand(2, 3, 5, 7)  # any LR size works for decoding
    with torch.no_grad():
        sr0 = model.decode(lr, 0.0)
        assert sr0.shape == (2, 3, 5 * model.scale, 7 * model.scale)
        assert 0 <= float(sr0.min()) and float(sr0.max()) <= 1
        torch.testing.assert_close(model.decode(lr, 0.0), sr0)  # τ = 0 is deterministic
        a = model.decode(lr, 0.8, generator=torch.Generator().manual_seed(1))
        b = model.decode(lr, 0.8, generator=torch.Generator().manual_seed(1))
        c = model.decode(lr, 0.8, generator=torch.Generator().manual_seed(2))
        torch.testing.assert_close(a, b)
        assert float((a - c).abs().max()) > 1e-4
        # per-level temperature: zeros everywhere equals τ = 0
        torch.testing.assert_close(model.decode(lr, [0.0] * model.config.L), sr0)
        with pytest.raises(ValueError, match="per-level temperature"):
            model.decode(lr, [0.5])


@pytest.mark.parametrize("name", TINY)
def test_sample_shares_coarse_features_and_matches_decode(name: str) -> None:
    model = tiny_model(name)
    lr = torch.rand(2, 3, 4, 4)
    with torch.no_grad():
        samples = model.sample(lr, n=3, temperature=0.7, generator=torch.Generator().manual_seed(5), chunk=3)
        assert samples.shape == (3, 2, 3, 4 * model.scale, 4 * model.scale)
        # the same draws through decode on the repeated batch give the same images
        ref = model.decode(lr.repeat(3, 1, 1, 1), 0.7, generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(samples.reshape(6, *samples.shape[2:]), ref, rtol=0, atol=1e-5)
        assert float(samples.std(0).mean()) > 0


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("chunk", [None, 1, 2])
def test_sample_in_chunks_draws_sample_after_sample(name: str, chunk: int | None) -> None:
    """Chunks of c samples: each chunk is decode on the c-times repeated batch, the generator shared in order.

    On the CPU ``chunk=None`` is one sample at a time (the official code's order of draws).
    """
    model = tiny_model(name)
    lr = torch.rand(2, 3, 4, 4)
    with torch.no_grad():
        samples = model.sample(lr, n=3, temperature=0.7, generator=torch.Generator().manual_seed(5), chunk=chunk)
        g = torch.Generator().manual_seed(5)
        sizes = [1, 1, 1] if chunk in (None, 1) else [2, 1]
        ref = torch.cat([model.decode(lr.repeat(c, 1, 1, 1), 0.7, generator=g).reshape(c, *lr.shape[:1], 3,
                                                                                         *samples.shape[3:])
                         for c in sizes])
    assert samples.shape == (3, 2, 3, 4 * model.scale, 4 * model.scale)
    torch.testing.assert_close(samples, ref, rtol=0, atol=1e-5)
    assert not torch.allclose(samples[0], samples[1])
    # with autograd (the samples cannot be written into one result tensor): the same samples
    graded = model.sample(lr, n=3, temperature=0.7, generator=torch.Generator().manual_seed(5), chunk=chunk)
    assert graded.requires_grad
    torch.testing.assert_close(graded.detach(), samples, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="chunk"):
        model.sample(lr, 2, 0.7, chunk=0)


def test_eps_with_wrong_shape_is_rejected() -> None:
    model = tiny_model("sr_x4-tiny")
    lr = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="eps"):
        model.decode(lr, 1.0, eps=[torch.zeros(1, 6, 8, 8), torch.zeros(1, 21, 3, 3)])


def test_odd_sizes_padding_for_inference_and_error_for_training() -> None:
    model = tiny_model("rescale_x4-tiny")
    hr = torch.rand(1, 3, 18, 23)
    with pytest.raises(ValueError, match="not divisible by 2\\^L = 4"):
        model.encode(hr)
    with torch.no_grad():
        r = model.encode(hr, pad=True)
        assert r.lr.shape[-2:] == (5, 6)
        back = model.decode(r.lr_raw, 1.0, eps=r.eps)[..., :18, :23]
    torch.testing.assert_close(back, hr, atol=1e-5, rtol=0)
    model.train()
    with pytest.raises(ValueError, match="inference only"):
        model.encode(hr, pad=True)


def test_sr_encode_without_lr_uses_matlab_bicubic() -> None:
    from hcflow_lite.data import imresize

    model = tiny_model("sr_x4-tiny")
    hr = torch.rand(1, 3, 16, 16)
    noise = torch.rand_like(hr) / 64
    lr = torch.round(imresize(hr, 0.25).clamp(0, 1) * 255) / 255
    with torch.no_grad():
        a = model.encode(hr, dequant_noise=noise)
        b = model.encode(hr, lr, dequant_noise=noise)
    torch.testing.assert_close(a.nll, b.nll)


def test_load_official_errors_name_the_keys(tmp_path: Path) -> None:
    sd = read_state_dict(FIXTURES / "sr_x4" / "state_dict.pt")
    options = FIXTURES / "sr_x4" / "options.json"
    # a `module.` prefix (DataParallel) is stripped
    model = hc.load_official({f"module.{k}": v for k, v in sd.items()}, options)
    assert not model.training and all(a._initialized for a in model.actnorms())
    broken = dict(sd)
    del broken["flow.layers.1.actnorm.bias"]
    broken["flow.extra.weight"] = torch.zeros(1)
    broken["flow.layers.2.permute.weight"] = torch.zeros(5, 5)
    with pytest.raises(CheckpointMismatchError) as e:
        hc.load_official(broken, options)
    msg = str(e.value)
    assert "missing keys: flow.layers.1.actnorm.bias" in msg
    assert "unexpected keys: flow.extra.weight" in msg
    assert "flow.layers.2.permute.weight (5, 5) (model: (12, 12))" in msg
    # a checkpoint of another task
    with pytest.raises(CheckpointMismatchError, match="does not fit the sr model"):
        hc.load_official(FIXTURES / "rescale_x4" / "state_dict.pt", options)
    # a corrupt file
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="cannot read checkpoint"):
        hc.load_official(bad, options)
    with pytest.raises(FileNotFoundError):
        hc.load_official(tmp_path / "missing.pth", options)


def test_load_official_refuses_pickled_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"flow.layers.1.actnorm.bias": Evil()}, path)
    with pytest.raises(CheckpointMismatchError, match="cannot read checkpoint"):
        hc.load_official(path, FIXTURES / "sr_x4" / "options.json")


def test_options_from_yaml_and_errors(tmp_path: Path) -> None:
    import json

    import yaml

    opts = json.loads((FIXTURES / "sr_x4" / "options.json").read_text())
    yml = tmp_path / "opt.yml"
    yml.write_text(yaml.safe_dump(opts))
    model = hc.load_official(FIXTURES / "sr_x4" / "state_dict.pt", yml)
    assert model.config.K == (3, 3) and model.config.P == (2, 2) and model.config.quant == 64
    opts["network_G"]["flowDownsampler"]["L"] = 3
    with pytest.raises(ValueError, match="scale 4 does not match L=3"):
        hc.load_official(FIXTURES / "sr_x4" / "state_dict.pt", opts)


def test_own_checkpoint_round_trip_and_export(tmp_path: Path) -> None:
    model = tiny_model("face_x8-tiny")
    path = hc.save_checkpoint(model, tmp_path / "m.pt", meta={"note": "test"})
    loaded = hc.load_checkpoint(path)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert loaded.config == model.config
    lr = torch.rand(1, 3, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decode(lr, 0.0), model.decode(lr, 0.0))
    # export to the official layout and load it back through load_official
    official = export_official(model)
    assert all(k.startswith("flow.") for k in official)
    with pytest.raises(CheckpointMismatchError, match="official HCFlow checkpoint"):
        torch.save(official, tmp_path / "off.pth")
        hc.load_checkpoint(tmp_path / "off.pth")
    with pytest.raises(CheckpointMismatchError, match="hcflow_lite checkpoint"):
        hc.load_official(path, FIXTURES / "face_x8" / "options.json")
    with pytest.raises(CheckpointMismatchError, match="rescaling model is needed"):
        hc.load_checkpoint(path, expect_task="rescaling")


def test_paper_configs() -> None:
    sr = hc.get_model_config("sr_x4")
    face = hc.get_model_config("face_x8")
    resc = hc.get_model_config("rescale_x4")
    assert (sr.L, sr.K, sr.P, sr.rrdb_nb, sr.rrdb_nf, sr.rrdb_gc, sr.quant) == (2, (13, 13), (13, 13), (7, 7), 64, 32, 64)
    assert (face.L, face.K, face.P, face.rrdb_nb, face.quant) == (3, (13, 13, 13), (13, 13, 13), (5, 5), 256)
    assert (resc.L, resc.K, resc.P, resc.rrdb_nb, resc.rrdb_gc, resc.hidden_channels) == (2, (8, 8), (6, 6), (2, 1), 16, 32)
    with pytest.raises(KeyError, match="unknown model config"):
        hc.get_model_config("sr_x3")
