"""The luma channel Y of ITU-R BT.601, as MATLAB's ``rgb2ycbcr`` computes it (book chapter 7).

For R, G, B on the 0–255 scale,

.. math:: Y = 16 + \\frac{65.481\\,R + 128.553\\,G + 24.966\\,B}{255} \\in [16, 235].

SR papers report "PSNR on Y" with this Y.  Two conventions exist for the last step:

* ``"matlab"``: MATLAB's ``rgb2ycbcr`` on a ``uint8`` image returns a ``uint8`` Y, i.e. Y is
  rounded to an integer.  The MATLAB evaluation scripts of the SR literature do this, and it
  reproduces the baseline rows of the paper's Table 4 (bicubic ×4 on Set5: 28.42 dB).
* ``"float"``: the official HCFlow test script (``test_HCFlow.py``) divides the 8-bit image
  by 255 first, so its Y stays a float (+0.013 dB on the same example: 28.43 dB).

The official helper (``bgr2ycbcr``) also multiplies a float input array by 255 *in place*;
:func:`rgb_to_y` never modifies its input.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["Y_CONVENTIONS", "YConvention", "luma_255", "rgb_to_y"]

YConvention = Literal["matlab", "float"]
Y_CONVENTIONS = ("matlab", "float")
_COEFFS = (65.481, 128.553, 24.966)


def luma_255(rgb_255: Tensor, round_to_8bit: bool = False) -> Tensor:
    """Y on the 0–255 scale of ``…×3×H×W`` RGB on the 0–255 scale (float64, a new tensor).

    With ``round_to_8bit`` and integer (8-bit) input, Y is rounded exactly: in integers,
    :math:`255000 (Y - 16) = 65481 R + 128553 G + 24966 B`, and ties (e.g. R, G, B = 138, 144, 15,
    Y = 125.5 exactly) go up, as MATLAB's ``round``; float arithmetic would land on either side.
    """
    x = rgb_255.to(torch.float64)
    y = 16.0 + (_COEFFS[0] * x[..., 0, :, :] + _COEFFS[1] * x[..., 1, :, :] + _COEFFS[2] * x[..., 2, :, :]) / 255.0
    if not round_to_8bit:
        return y
    if torch.equal(x, torch.round(x)):
        xi = x.to(torch.int64)
        n = 65481 * xi[..., 0, :, :] + 128553 * xi[..., 1, :, :] + 24966 * xi[..., 2, :, :]
        return (16 + torch.div(n + 127500, 255000, rounding_mode="floor")).to(torch.float64)
    return torch.floor(y + 0.5)  # MATLAB rounds halves up (Y > 0)


def rgb_to_y(image: Tensor, round_to_8bit: bool = False) -> Tensor:
    """BT.601 luma of ``…×3×H×W`` RGB in [0, 1] → ``…×H×W`` in [16/255, 235/255] (float64).

    Args:
        image: RGB values in [0, 1] (any float dtype; not modified).
        round_to_8bit: round Y to an integer on the 0–255 scale (MATLAB ``rgb2ycbcr`` on uint8).
    """
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f"rgb_to_y expects …×3×H×W RGB images, got shape {tuple(image.shape)}")
    return luma_255(image.to(torch.float64) * 255.0, round_to_8bit) / 255.0
