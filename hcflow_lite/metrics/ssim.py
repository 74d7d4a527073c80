"""Structural similarity (Wang et al. 2004), MATLAB-style as in the official evaluation (spec §9).

Per channel, with a Gaussian window :math:`w` (11×11, σ = 1.5) and the ``valid`` part of the
filtered images only (no padding),

.. math:: \\mathrm{SSIM} = \\operatorname{mean}\\;
    \\frac{(2\\mu_a\\mu_b + C_1)(2\\sigma_{ab} + C_2)}{(\\mu_a^2 + \\mu_b^2 + C_1)(\\sigma_a^2 + \\sigma_b^2 + C_2)},
    \\qquad C_1 = (0.01\\cdot255)^2,\\; C_2 = (0.03\\cdot255)^2,

where :math:`\\mu = w * x`, :math:`\\sigma_a^2 = w * a^2 - \\mu_a^2`, :math:`\\sigma_{ab} = w * (ab) - \\mu_a\\mu_b`,
on 8-bit values after the border crop; RGB images average the three channels' SSIM.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import YConvention
from .common import prepare_pair

__all__ = ["gaussian_window", "ssim"]

WINDOW = 11
SIGMA = 1.5


@lru_cache(maxsize=4)
def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> Tensor:
    """The normalised 1-D Gaussian of the SSIM window (float64); the 2-D window is its outer product."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(x: Tensor) -> Tensor:
    """Separable Gaussian filtering of ``N×1×H×W``, 'valid' region only."""
    g = gaussian_window().to(x.device)
    x = F.conv2d(x, g.view(1, 1, -1, 1))
    return F.conv2d(x, g.view(1, 1, 1, -1))


def _ssim_maps(x: Tensor, y: Tensor) -> Tensor:
    """Mean SSIM per channel of float64 0–255 images ``N×1×H×W`` → ``(N,)``."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = _filter_valid(x), _filter_valid(y)
    sxx = _filter_valid(x * x) - mu_x**2
    syy = _filter_valid(y * y) - mu_y**2
    sxy = _filter_valid(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).flatten(1).mean(1)


def ssim(
    a: Tensor,
    b: Tensor,
    crop_border: int = 0,
    y_channel: bool = False,
    *,
    y_convention: YConvention = "matlab",
    quantize: bool = True,
) -> float | Tensor:
    """SSIM between two ``3×H×W`` images in [0, 1] (``B×3×H×W``: a ``(B,)`` tensor).

    Arguments as for :func:`~hcflow_lite.metrics.psnr`.  The images must be at least 11×11
    after the crop.
    """
    x, y = prepare_pair(a, b, crop_border, y_channel, y_convention, quantize)
    h, w = x.shape[-2:]
    if h < WINDOW or w < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}×{WINDOW} after the border crop, got {h}×{w}")
    lead = x.shape[:-3]
    c = x.shape[-3]
    values = _ssim_maps(x.reshape(-1, 1, h, w), y.reshape(-1, 1, h, w)).reshape(*lead, c).mean(-1)
    return float(values) if a.dim() == 3 else values
