"""MATLAB-style bicubic resizing: the MATLAB LR files of Set5 and an independent float64 reference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hcflow_lite.data import imresize, load_image, resize_weights

SET5 = Path(__file__).parent / "data" / "Set5"
NAMES = ["baby", "bird", "butterfly", "head", "woman"]


# ---------------------------------------------------------------- independent reference (numpy)
def _keys_cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return np.where(a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1, np.where(a <= 2, -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2, 0.0))


def _matlab_matrix(n_in: int, scale: float) -> np.ndarray:
    """MATLAB imresize along one axis as a dense (n_out × n_in) matrix, written from its definition."""
    n_out = math.ceil(n_in * scale)
    width = 4.0 / scale if scale < 1 else 4.0
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # symmetric padding, 0-based
    m = np.zeros((n_out, n_in))
    for i in range(1, n_out + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        idx = np.arange(left, left + math.ceil(width) + 2)
        d = u - idx
        w = scale * _keys_cubic(scale * d) if scale < 1 else _keys_cubic(d)
        w = w / w.sum()
        for j, wj in zip(idx, w):
            m[i - 1, mirror[(j - 1) % (2 * n_in)]] += wj
    return m


def reference_imresize(img: np.ndarray, scale: float, uint8: bool = False) -> np.ndarray:
    """C×H×W float64 in [0, 1]; rows (H) first, then columns, as MATLAB."""
    mh, mw = _matlab_matrix(img.shape[1], scale), _matlab_matrix(img.shape[2], scale)
    x = np.round(img * 255) if uint8 else img
    x = np.einsum("oh,chw->cow", mh, x)
    if uint8:
        x = np.floor(np.clip(x, 0, 255) + 0.5)
    x = np.einsum("pw,chw->chp", mw, x)
    if uint8:
        x = np.floor(np.clip(x, 0, 255) + 0.5) / 255
    return x


# ---------------------------------------------------------------- the MATLAB LR files
@pytest.mark.parametrize("name", NAMES)
def test_set5_x4_matches_matlab_lr_files(name: str) -> None:
    """Rounded to 8 bits, our ×1/4 equals MATLAB's LR for ≥ 99.9 % of pixels, never off by > 1 level."""
    hr = load_image(SET5 / f"{name}.png")
    matlab = (load_image(SET5 / "LR_bicubic" / "X4" / f"{name}x4.png") * 255).round()
    ours = (imresize(hr, 1 / 4, uint8=True) * 255).round()
    assert ours.shape == matlab.shape
    diff = (ours - matlab).abs()
    assert diff.max() <= 1
    assert (diff == 0).double().mean() >= 0.999
    # without the rounding between the passes only ~90 % of pixels match (and some are 2 levels off):
    # the 8-bit mode is what reproduces MATLAB on uint8 images
    float_path = (imresize(hr, 1 / 4).clamp(0, 1) * 255).round()
    assert (float_path == matlab).double().mean() < 0.95


def test_set5_all_pixels_exact() -> None:
    """The 8-bit path (rounding between the two passes, as MATLAB on uint8) is exact on all of Set5."""
    total = equal = 0
    for name in NAMES:
        hr = load_image(SET5 / f"{name}.png")
        matlab = (load_image(SET5 / "LR_bicubic" / "X4" / f"{name}x4.png") * 255).round()
        ours = (imresize(hr[None], 1 / 4, uint8=True)[0] * 255).round()
        total += matlab.numel()
        equal += int((ours == matlab).sum())
    assert equal == total


# ---------------------------------------------------------------- independent float64 reference
@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 0.7, 1 / 8, 2.0, 3.5, 4.0])
def test_matches_reference_float64(scale: float) -> None:
    rng = np.random.default_rng(0)
    img = rng.random((3, 23, 18))
    ours = imresize(torch.from_numpy(img), scale).numpy()
    ref = reference_imresize(img, scale)
    assert ours.shape == ref.shape == (3, math.ceil(23 * scale), math.ceil(18 * scale))
    np.testing.assert_allclose(ours, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("scale", [1 / 4, 0.5, 3.0])
def test_uint8_mode_matches_reference(scale: float) -> None:
    rng = np.random.default_rng(1)
    img = np.round(rng.random((3, 20, 17)) * 255) / 255
    ours = imresize(torch.from_numpy(img).float(), scale, uint8=True).double().numpy()
    np.testing.assert_allclose(ours, reference_imresize(img, scale, uint8=True), atol=1e-6, rtol=0)


def test_batched_dtypes_and_gradient_path_agree() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 21, 26, dtype=torch.float64)
    batched = imresize(x, 0.3)
    single = torch.stack([imresize(x[i], 0.3) for i in range(2)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-14)
    torch.testing.assert_close(imresize(x.float(), 0.3).double(), batched, rtol=0, atol=1e-5)
    xg = x.clone().requires_grad_(True)
    with_grad = imresize(xg, 0.3)  # differentiable gather path
    torch.testing.assert_close(with_grad.detach(), batched, rtol=0, atol=1e-13)
    with_grad.sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    assert imresize(x, 0.3).dtype == torch.float64 and imresize(x.float(), 0.3).dtype == torch.float32


def test_weights_partition_unity_and_constants_are_kept() -> None:
    for n_in, scale in [(17, 0.25), (10, 3.0), (33, 0.6)]:
        w, idx = resize_weights(n_in, math.ceil(n_in * scale), scale)
        torch.testing.assert_close(w.sum(1), torch.ones(w.shape[0], dtype=torch.float64))
        assert idx.min() >= 0 and idx.max() < n_in
    c = torch.full((3, 19, 26), 0.37)
    torch.testing.assert_close(imresize(c, 0.25), torch.full((3, 5, 7), 0.37), rtol=0, atol=1e-6)


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="C×H×W"):
        imresize(torch.rand(5, 5), 0.5)
    with pytest.raises(ValueError, match="positive"):
        imresize(torch.rand(3, 5, 5), 0)
    with pytest.raises(TypeError, match="float"):
        imresize(torch.zeros(3, 5, 5, dtype=torch.uint8), 0.5)
