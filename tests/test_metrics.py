"""Metrics against independent float64 references written here (numpy/scipy), and their errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from hcflow_lite.data import imresize, load_image
from hcflow_lite.metrics import (
    LPIPS,
    LPIPSUnavailableError,
    RunningDiversity,
    backbone_path,
    consistency,
    diversity,
    lr_psnr,
    psnr,
    rgb_to_y,
    ssim,
)

SET5 = Path(__file__).parent / "data" / "Set5"


# ---------------------------------------------------------------- independent references
def ref_8bit(x: torch.Tensor) -> np.ndarray:
    """H×W×3 float64 on 0–255, rounded like numpy's uint8 conversion in the official code."""
    return np.round(np.clip(x.double().numpy().transpose(1, 2, 0), 0, 1) * 255.0)


def ref_y(img255: np.ndarray, matlab_round: bool) -> np.ndarray:
    """BT.601 Y; MATLAB's uint8 result rounds the exact value (in integers: no float ties), halves up."""
    if matlab_round:
        n = img255.astype(np.int64) @ np.array([65481, 128553, 24966], dtype=np.int64)
        return ((n + 127500) // 255000 + 16).astype(np.float64)
    return img255 @ np.array([65.481, 128.553, 24.966]) / 255.0 + 16.0


def ref_psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))


def ref_ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    g = np.array([math.exp(-((i - 5) ** 2) / (2 * 1.5**2)) for i in range(11)])
    win = np.outer(g, g) / np.outer(g, g).sum()
    f = lambda x: convolve2d(x, win, mode="valid")  # noqa: E731 (symmetric window: conv = correlation)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = f(a), f(b)
    va, vb, cab = f(a * a) - ma**2, f(b * b) - mb**2, f(a * b) - ma * mb
    return float(np.mean(((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))))


def ref_metrics(x: torch.Tensor, y: torch.Tensor, crop: int, channel: str) -> tuple[float, float]:
    a, b = ref_8bit(x), ref_8bit(y)
    if channel != "rgb":
        a, b = ref_y(a, channel == "y_matlab")[..., None], ref_y(b, channel == "y_matlab")[..., None]
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    s = np.mean([ref_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[-1])])
    return ref_psnr(a, b), float(s)


def _pairs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 40, 52, generator=g)
    noisy = (clean + 0.05 * torch.randn(3, 40, 52, generator=g)).clamp(-0.1, 1.1)  # out of range: clamped
    hr = load_image(SET5 / "bird.png")
    up = imresize(load_image(SET5 / "LR_bicubic" / "X4" / "birdx4.png"), 4.0)
    return [("noise", noisy, clean), ("bird_bicubic", up, hr)]


# ---------------------------------------------------------------- PSNR / SSIM
@pytest.mark.parametrize("channel", ["rgb", "y_matlab", "y_float"])
@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_ssim_match_reference(channel: str, crop: int) -> None:
    for _, x, y in _pairs():
        kw = {"y_channel": channel != "rgb", "y_convention": "float" if channel == "y_float" else "matlab"}
        ref_p, ref_s = ref_metrics(x, y, crop, channel)
        assert abs(psnr(x, y, crop, **kw) - ref_p) < 1e-6
        assert abs(ssim(x, y, crop, **kw) - ref_s) < 1e-6


def test_batched_metrics_and_symmetry() -> None:
    (_, x, y), _ = _pairs()
    xb, yb = torch.stack([x, y]), torch.stack([y, y])
    p = psnr(xb, yb, 2)
    assert p.shape == (2,) and abs(float(p[0]) - psnr(x, y, 2)) < 1e-9 and math.isinf(float(p[1]))
    s = ssim(xb, yb, 2, True)
    assert abs(float(s[0]) - ssim(x, y, 2, True)) < 1e-12 and abs(float(s[1]) - 1) < 1e-12
    assert psnr(x, y) == psnr(y, x) and ssim(x, y) == ssim(y, x)
    assert math.isinf(psnr(x, x)) and ssim(x, x) == pytest.approx(1.0, abs=1e-12)


def test_eight_bit_rounding_is_applied() -> None:
    """Values within half a grey level are equal after the official 8-bit rounding."""
    x = torch.rand(3, 16, 16)
    x8 = (x * 255).round() / 255
    assert math.isinf(psnr(x8 + 0.4 / 255, x8))
    assert not math.isinf(psnr(x8 + 0.4 / 255, x8, quantize=False))


def test_rgb_to_y_values_and_input_untouched() -> None:
    x = torch.tensor([[[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 1.0]]])
    before = x.clone()
    y = rgb_to_y(x)
    assert torch.equal(x, before)  # the official helper multiplies a float input by 255 in place
    torch.testing.assert_close(y, torch.tensor([[16 / 255, 235 / 255]], dtype=torch.float64))
    r = torch.rand(2, 3, 5, 6)
    ref = ref_y(np.round(r.double().numpy().transpose(0, 2, 3, 1) * 255), True) / 255
    torch.testing.assert_close(rgb_to_y((r * 255).round() / 255, round_to_8bit=True), torch.from_numpy(ref))


def test_metric_input_errors() -> None:
    x = torch.rand(3, 20, 20)
    with pytest.raises(ValueError, match=r"differ in shape: \(3, 20, 20\) vs \(3, 20, 18\)"):
        psnr(x, x[..., :18])
    with pytest.raises(ValueError, match="RGB"):
        psnr(x[:1], x[:1])
    with pytest.raises(ValueError, match="crop_border=10 leaves nothing of a 20×20 image"):
        psnr(x, x, 10)
    with pytest.raises(ValueError, match="at least 11×11"):
        ssim(x, x, 5)
    with pytest.raises(TypeError, match="float"):
        psnr((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="y_convention"):
        psnr(x, x, y_channel=True, y_convention="bt709")  # type: ignore[arg-type]


# ---------------------------------------------------------------- diversity, LR-PSNR, consistency
def test_diversity_matches_numpy_and_streams() -> None:
    g = torch.Generator().manual_seed(1)
    samples = torch.rand(5, 3, 8, 9, generator=g)
    ref = np.mean(np.std(samples.double().numpy() * 255, axis=0, ddof=1))
    assert abs(diversity(samples) - ref) < 1e-9
    running = RunningDiversity()
    for s in samples:
        running.update(s)
    assert abs(running.value() - ref) < 1e-9
    assert math.isnan(diversity(samples[:1])) and math.isnan(RunningDiversity().value())
    batched = diversity(samples[:, None].expand(5, 2, 3, 8, 9))
    assert batched.shape == (2,) and abs(float(batched[1]) - ref) < 1e-9
    assert diversity(samples[:1].expand(4, 3, 8, 9)) == 0.0


def test_lr_psnr_and_consistency_match_reference() -> None:
    hr = load_image(SET5 / "head.png")
    lr = load_image(SET5 / "LR_bicubic" / "X4" / "headx4.png")
    gen_lr = (lr + 0.01 * torch.randn(lr.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert abs(lr_psnr(gen_lr, lr) - ref_psnr(ref_8bit(gen_lr), ref_8bit(lr))) < 1e-9
    sr = imresize(lr, 4.0).clamp(0, 1)
    # reference: MATLAB ×1/4 of the 8-bit GT and SR, compared unrounded (test_HCFlow.py's "bicHR")
    down = [imresize(torch.from_numpy(ref_8bit(t).transpose(2, 0, 1) / 255.0), 0.25).numpy() * 255 for t in (hr, sr)]
    assert abs(consistency(sr, hr, 4) - ref_psnr(down[0], down[1])) < 1e-9
    assert consistency(sr, hr, 4) > 40  # bicubic up then down is close to the LR
    with pytest.raises(ValueError, match="differ in shape"):
        lr_psnr(gen_lr[..., :-1], lr[..., :-1].transpose(-1, -2))


# ---------------------------------------------------------------- LPIPS: honest when offline
def _stand_in_alexnet(path: Path) -> None:
    """A tiny file with the right AlexNet state-dict layout (expanded tensors), NOT ImageNet weights."""
    shapes = {
        "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,), "features.3.weight": (192, 64, 5, 5),
        "features.3.bias": (192,), "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
        "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,), "features.10.weight": (256, 256, 3, 3),
        "features.10.bias": (256,), "classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
        "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,), "classifier.6.weight": (1000, 4096),
        "classifier.6.bias": (1000,),
    }
    g = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(s[-1], generator=g) * 0.05).expand(s) for k, s in shapes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def test_lpips_without_weights_says_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert backbone_path("alex") == expected
    with pytest.raises(LPIPSUnavailableError, match=r"alexnet-owt-7be5be79.pth.*TORCH_HOME.*random trunk"):
        LPIPS("alex")


def test_lpips_rejects_stand_in_weights_and_runs_with_them_unverified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lpips")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _stand_in_alexnet(backbone_path("alex"))
    with pytest.raises(LPIPSUnavailableError, match="is not the ImageNet alex checkpoint"):
        LPIPS("alex")
    metric = LPIPS("alex", verify=False)  # loads the cached file with no network: mechanics only
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    small = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    large = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert torch.all(metric(x, x) == 0)
    torch.testing.assert_close(metric(x, small), metric(small, x))
    assert torch.all(metric(x, large) > metric(x, small))
