"""PSNR and SSIM on RGB and on Y in one pass (what the evaluator reports for every SR sample).

:func:`image_metrics` gives exactly :func:`~hcflow_lite.metrics.psnr` and
:func:`~hcflow_lite.metrics.ssim` with and without ``y_channel``, but rounds each image to
8 bits and computes its luma once, which halves the work on 2K images.
"""

from __future__ import annotations

import math

from torch import Tensor

from .color import Y_CONVENTIONS, YConvention, luma_255
from .common import check_pair, crop_border_of, to_8bit
from .ssim import WINDOW, _ssim_maps

__all__ = ["image_metrics"]


def _psnr_255(x: Tensor, y: Tensor) -> float:
    mse = float(((x - y) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _ssim_255(x: Tensor, y: Tensor) -> float:
    h, w = x.shape[-2:]
    if h < WINDOW or w < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}×{WINDOW} after the border crop, got {h}×{w}")
    return float(_ssim_maps(x.reshape(-1, 1, h, w), y.reshape(-1, 1, h, w)).mean())


def image_metrics(
    a: Tensor, b: Tensor, crop_border: int = 0, *, y_convention: YConvention = "matlab"
) -> dict[str, float]:
    """``{"psnr", "ssim", "psnr_y", "ssim_y"}`` of two ``3×H×W`` images in [0, 1] (8-bit, cropped)."""
    check_pair(a, b)
    if a.dim() != 3:
        raise ValueError(f"image_metrics takes one 3×H×W pair, got shape {tuple(a.shape)}")
    if y_convention not in Y_CONVENTIONS:
        raise ValueError(f"y_convention must be one of {Y_CONVENTIONS}, got {y_convention!r}")
    x, y = to_8bit(a), to_8bit(b)
    round_y = y_convention == "matlab"
    lx, ly = luma_255(x, round_y), luma_255(y, round_y)
    x, y = crop_border_of(x, crop_border), crop_border_of(y, crop_border)
    lx, ly = crop_border_of(lx, crop_border), crop_border_of(ly, crop_border)
    return {
        "psnr": _psnr_255(x, y),
        "ssim": _ssim_255(x, y),
        "psnr_y": _psnr_255(lx, ly),
        "ssim_y": _ssim_255(lx, ly),
    }

