"""``hcflow_lite.losses`` against independent references.

The official loss values themselves are checked in ``tests/test_parity.py::check_losses``;
here: the VGG19 layout (torchvision's), loading its weights from the hub cache, the clear
errors, the discriminator's layout and size, the GAN formulas, and the gradient paths of the
rescaling objective.
"""

from __future__ import annotations

import math

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite import losses
from hcflow_lite.losses.perceptual import VGG19Features
from hcflow_lite.testing import perturb_parameters


def tiny(name: str, seed: int = 0) -> hc.HCFlow:
    torch.manual_seed(seed)
    model = hc.build_model(name)
    s = model.scale
    model.train()
    with torch.no_grad():
        model.encode(torch.rand(2, 3, 2 * s, 2 * s))
    perturb_parameters(model, 0.02, torch.Generator().manual_seed(seed))
    return model


# ----------------------------------------------------------------------------- perceptual
def test_vgg_layout_equals_torchvision_features_up_to_conv5_4() -> None:
    tv_vgg = pytest.importorskip("torchvision.models.vgg")
    ref = tv_vgg.make_layers(tv_vgg.cfgs["E"], batch_norm=False)[:35]
    ours = VGG19Features(weights="random")
    # the same keys and shapes: torchvision's state dict loads into ours one to one
    ref_state = {f"features.{k}": v for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {k: tuple(v.shape) for k, v in ref_state.items()}
    ours.load_state_dict(ref_state)
    assert isinstance(ref[-1], torch.nn.Conv2d) and ref[-1].out_channels == 512  # conv5_4, before its ReLU
    x = torch.rand(2, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref((x - mean) / std))
    assert (ours(x) < 0).any(), "features must be taken before the last ReLU"


def test_vgg_weights_load_from_the_torch_hub_cache(tmp_path, monkeypatch) -> None:
    source = VGG19Features(weights="random")
    state = {k: torch.randn_like(v) for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(1)  # the full torchvision file has more keys
    ckpt = tmp_path / "hub" / "checkpoints" / losses.VGG19_FILE
    ckpt.parent.mkdir(parents=True)
    torch.save(state, ckpt)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert losses.default_vgg19_path() == ckpt
    vgg = VGG19Features()
    assert not vgg.is_random and losses.RANDOM_VGG_LABEL not in vgg.label
    for k, v in vgg.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training  # always frozen and in eval mode


def test_missing_vgg_weights_give_a_clear_error_unless_random_is_allowed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="VGG19 ImageNet weights not found.*vgg19-dcbb9e9d.pth"):
        VGG19Features()
    with pytest.warns(UserWarning, match="random-weight VGG"):
        vgg = VGG19Features(allow_random=True)
    assert vgg.is_random and vgg.label == "random-weight VGG, not the paper's perceptual loss"
    bad = tmp_path / "bad.pth"
    torch.save({"something": torch.zeros(1)}, bad)
    with pytest.raises(OSError, match="not torchvision's VGG19"):
        VGG19Features(weights_path=bad)
    bad.write_bytes(b"not a torch file")
    with pytest.raises(OSError, match="cannot read VGG19 weights"):
        VGG19Features(weights_path=bad)


def test_perceptual_loss_is_l1_of_features_and_only_the_sample_gets_gradients() -> None:
    vgg = VGG19Features(weights="random", layer=8)  # up to conv2_2: fast
    loss = losses.PerceptualLoss(vgg)
    x = torch.rand(1, 3, 16, 16)
    x_hat = torch.rand(1, 3, 16, 16, requires_grad=True)
    value = loss(x_hat, x)
    with torch.no_grad():
        ref = (vgg(x_hat) - vgg(x)).abs().mean()
    torch.testing.assert_close(value, ref)
    value.backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    assert torch.equal(loss(x, x), torch.zeros(()))


# ----------------------------------------------------------------------------- discriminator
def _vgg_d_parameters(nf: int, side: int) -> int:
    """ESRGAN's VGG discriminator, counted by hand from its layer list."""
    widths = [nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf]
    n, c = 0, 3
    for i, w in enumerate(widths):
        n += c * w * 9 + (w if i == 0 else 0)  # 3×3 conv (bias only in the first)
        n += 0 if i == 0 else 2 * w  # its BatchNorm
        n += w * w * 16 + 2 * w  # 4×4 stride-2 conv + BatchNorm
        c = w
    return n + (8 * nf * side * side * 100 + 100) + (100 + 1)


def test_discriminator_vgg_160_layout() -> None:
    d = losses.build_discriminator("discriminator_vgg_160")
    assert d.linear1.in_features == 512 * 5 * 5 and d.linear2.out_features == 1
    assert sum(p.numel() for p in d.parameters()) == _vgg_d_parameters(64, 5)
    names = [k for k, _ in d.named_parameters()]
    assert names[:4] == ["conv0_0.weight", "conv0_0.bias", "conv0_1.weight", "bn0_1.weight"]
    assert "bn0_0.weight" not in names and "conv1_0.bias" not in names
    assert isinstance(d.lrelu, torch.nn.LeakyReLU) and d.lrelu.negative_slope == 0.2
    small = losses.DiscriminatorVGG(nf=8, patch_size=64)
    assert sum(p.numel() for p in small.parameters()) == _vgg_d_parameters(8, 2)
    assert small(torch.rand(3, 3, 64, 64)).shape == (3, 1)
    with pytest.raises(ValueError, match="expects B×3×64×64"):
        small(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="takes 160×160 patches"):
        losses.build_discriminator("discriminator_vgg_160", patch_size=64)
    with pytest.raises(ValueError, match="divisible by 32"):
        losses.DiscriminatorVGG(patch_size=40)


# ----------------------------------------------------------------------------- GAN
def test_gan_losses_match_the_formulas_in_float64() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(5, 1, generator=g, dtype=torch.float64)
    fake = torch.randn(5, 1, generator=g, dtype=torch.float64)

    def bce(logit: torch.Tensor, t: float) -> torch.Tensor:  # −t log σ(l) − (1−t) log(1−σ(l))
        p = 1 / (1 + torch.exp(-logit))
        return (-(t * torch.log(p)) - (1 - t) * torch.log(1 - p)).mean()

    torch.testing.assert_close(losses.generator_loss(fake), bce(fake, 1.0))
    d_real, d_fake = losses.discriminator_loss(real, fake)
    torch.testing.assert_close(d_real, bce(real, 1.0))
    torch.testing.assert_close(d_fake, bce(fake, 0.0))
    torch.testing.assert_close(losses.generator_loss(fake, gan_type="lsgan"), ((fake - 1) ** 2).mean())
    torch.testing.assert_close(losses.generator_loss(fake, gan_type="wgan"), -fake.mean())
    ra = (bce(real - fake.mean(), 0.0) + bce(fake - real.mean(), 1.0)) / 2
    torch.testing.assert_close(losses.generator_loss(fake, real, gan_type="ragan"), ra)
    r, f = losses.discriminator_loss(real, fake, gan_type="ragan")
    torch.testing.assert_close(r + f, (bce(real - fake.mean(), 1.0) + bce(fake - real.mean(), 0.0)) / 2)
    with pytest.raises(ValueError, match="gan_type"):
        losses.generator_loss(fake, gan_type="hinge")


# ----------------------------------------------------------------------------- pixel, NLL, rescaling
def test_hr_pixel_loss_and_nll_loss() -> None:
    model = tiny("sr_x4-tiny").eval()
    hr = torch.rand(2, 3, 8, 8)
    lr = torch.rand(2, 3, 2, 2)
    l1, x_hat = losses.hr_pixel_loss(model, lr, hr)
    with torch.no_grad():
        ref = model.decode(lr, 0.0)
    torch.testing.assert_close(x_hat, ref)
    torch.testing.assert_close(l1, (ref.double() - hr.double()).abs().mean().float())
    l2, _ = losses.hr_pixel_loss(model, lr, hr, criterion="l2")
    torch.testing.assert_close(l2, (ref - hr).pow(2).mean())
    noise = torch.rand_like(hr) / 64
    nll, r = losses.nll_loss(model, hr, lr, dequant_noise=noise)
    torch.testing.assert_close(nll, model.encode(hr, lr, dequant_noise=noise).nll)
    assert r.log_lr is not None
    with pytest.raises(ValueError, match="only for the SR model"):
        losses.nll_loss(tiny("rescale_x4-tiny"), hr, lr)
    with pytest.raises(ValueError, match="needs the rescaling model"):
        losses.rescaling_losses(model, hr, lr)


def test_rescaling_objective_terms_and_gradient_paths() -> None:
    model = tiny("rescale_x4-tiny").train()
    model.mark_initialized(True)
    hr = torch.rand(2, 3, 8, 8)
    lr = torch.rand(2, 3, 2, 2)
    eps = [torch.randn(2, 6, 4, 4), torch.randn(2, 21, 2, 2)]
    terms = losses.rescaling_losses(model, hr, lr, 1.0, eps=eps)
    with torch.no_grad():
        enc = model.encode(hr)
        x_hat = model.decode(torch.round(enc.lr_raw.clamp(0, 1) * 255) / 255, 1.0, eps=eps)
    torch.testing.assert_close(terms.lr_l2, ((enc.lr_raw.clamp(0, 1) - lr) ** 2).mean())
    n = sum(e.numel() for e in enc.eps)
    torch.testing.assert_close(terms.latent_l2, sum((e**2).sum() for e in enc.eps) / n)  # one mean over both levels
    torch.testing.assert_close(terms.hr_l1, (x_hat - hr).abs().mean())
    w = terms.weighted()
    assert math.isclose(float(w["pixel_lr"].detach()), 0.05 * float(terms.lr_l2.detach()), rel_tol=1e-6)
    assert math.isclose(float(w["latent"].detach()), 1e-5 * float(terms.latent_l2.detach()), rel_tol=1e-6)
    # the reconstruction's gradient reaches the generated LR through the straight-through quantiser
    y = enc.lr_raw.detach().clamp(0.05, 0.95).requires_grad_(True)
    out = model.decode(losses.rescaling.quantize(y), 1.0, eps=eps)
    (out - hr).abs().mean().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    # the LR term's gradient is blocked where the clamp saturates
    y_raw = torch.tensor([[-0.5, 0.5, 1.5]], requires_grad=True)
    losses.lr_l2_loss(y_raw.clamp(0, 1), torch.full((1, 3), 0.2)).backward()
    assert y_raw.grad is not None and y_raw.grad[0, 0] == 0 and y_raw.grad[0, 2] == 0 and y_raw.grad[0, 1] != 0


def test_paper_loss_weights() -> None:
    w = losses.PAPER_LOSS_WEIGHTS
    assert (w["hcflow"].nll, w["hcflow"].pixel_hr) == (1.0, 0.0)
    assert (w["hcflow+"].nll, w["hcflow+"].pixel_hr, w["hcflow+"].gan) == (2e-3, 1.0, 0.0)
    assert (w["hcflow++"].perceptual, w["hcflow++"].gan) == (5e-2, 5e-1)
    assert (w["rescaling"].pixel_hr, w["rescaling"].pixel_lr, w["rescaling"].latent) == (1.0, 5e-2, 1e-5)
