"""Peak signal-to-noise ratio, with the official evaluation's conventions (spec §9).

.. math:: \\mathrm{PSNR}(a, b) = 10 \\log_{10} \\frac{255^2}{\\mathrm{MSE}(a, b)}

on 8-bit values (each image is clamped to [0, 1], scaled to 0–255 and rounded, as the official
``tensor2img`` does), after removing ``crop_border`` pixels on each side, on RGB (the mean
squared error over all three channels) or on the BT.601 luma Y (:mod:`.color`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .color import YConvention
from .common import prepare_pair

__all__ = ["psnr"]


def psnr(
    a: Tensor,
    b: Tensor,
    crop_border: int = 0,
    y_channel: bool = False,
    *,
    y_convention: YConvention = "matlab",
    quantize: bool = True,
) -> float | Tensor:
    """PSNR in dB between two ``3×H×W`` images in [0, 1] (``B×3×H×W``: a ``(B,)`` tensor).

    Args:
        a, b: the two images (order does not matter).
        crop_border: pixels removed on each side before comparing (the official default for HR
            metrics is the scale factor; 0 for LR metrics).
        y_channel: compare the BT.601 luma instead of RGB.
        y_convention: ``"matlab"`` (Y rounded to 8 bits, the published tables) or ``"float"``
            (the official test script); see :mod:`hcflow_lite.metrics.color`.
        quantize: round RGB to 8 bits first (the official convention); ``False`` compares the
            values as they are (the bicubic-consistency metric).

    Returns:
        ``inf`` for identical images.
    """
    x, y = prepare_pair(a, b, crop_border, y_channel, y_convention, quantize)
    mse = ((x - y) ** 2).flatten(-3).mean(-1)
    value = 10.0 * torch.log10(255.0**2 / mse)  # inf where mse == 0
    if a.dim() == 3:
        v = float(value)
        return math.inf if math.isinf(v) else v
    return value
