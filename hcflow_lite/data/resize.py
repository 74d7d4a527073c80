"""MATLAB-style bicubic resizing, in torch (book chapter 7; spec §8).

SR datasets make their LR images with MATLAB's ``imresize(x, 1/s, 'bicubic')``, which

* uses Keys' cubic kernel with :math:`a = -\\tfrac12`,
* **antialiases** when shrinking: the kernel is stretched by :math:`1/s` (width :math:`4/s`) and
  scaled by :math:`s`,
* pads the border symmetrically (``x[-1] = x[0]``),
* resizes the rows (H) first, then the columns (W), and
* for ``uint8`` input rounds to ``uint8`` *between* the two one-dimensional passes.

PIL's and OpenCV's bicubic differ from this by up to several grey levels; the official HCFlow
code (``imresize_np``) and BasicSR follow MATLAB.  This implementation gathers the
``ceil(4/s) + 2`` taps per output pixel and reflects out-of-range indices, batched on any device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["cubic_kernel", "imresize", "resize_weights"]


def cubic_kernel(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with :math:`a=-1/2` (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


def resize_weights(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[Tensor, Tensor]:
    """Weights ``(out_len, P)`` and source indices ``(out_len, P)`` of a 1-D MATLAB resize.

    Indices outside ``[0, in_len)`` are already mapped back by symmetric reflection; weights are
    float64 and sum to one per output sample.
    """
    kernel_width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        kernel_width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centre in input coordinates (1-based)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    weights = scale * cubic_kernel(dist * scale) if shrink else cubic_kernel(dist)
    weights = weights / weights.sum(1, keepdim=True)
    # drop all-zero tap columns at either end (as MATLAB does), then reflect indices
    keep = (weights != 0).any(0)
    first, last = int(keep.nonzero()[0]), int(keep.nonzero()[-1])
    weights, idx = weights[:, first : last + 1], idx[:, first : last + 1]
    idx = idx.long() - 1  # 0-based
    period = 2 * in_len
    idx = torch.remainder(idx, period)
    idx = torch.where(idx >= in_len, period - 1 - idx, idx)
    return weights, idx


def _resize_dim(x: Tensor, dim: int, out_len: int, scale: float, antialias: bool) -> Tensor:
    in_len = x.shape[dim]
    w, idx = resize_weights(in_len, out_len, scale, antialias)
    w = w.to(device=x.device, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    idx = idx.to(x.device)
    xm = x.movedim(dim, -1)  # ... × in_len
    gathered = xm[..., idx]  # ... × out_len × P
    out = (gathered.to(w.dtype) * w).sum(-1)
    return out.movedim(-1, dim)


def _matlab_round(x: Tensor) -> Tensor:
    return torch.floor(x + 0.5)  # half away from zero, for the non-negative pixel values


def imresize(x: Tensor, scale: float, uint8: bool = False, antialias: bool = True) -> Tensor:
    """Resize ``C×H×W`` or ``B×C×H×W`` images in [0, 1] by ``scale`` like MATLAB's ``imresize``.

    Args:
        x: images in [0, 1] (float32 or float64, any device).
        scale: the factor, e.g. ``1/4`` to make a ×4 LR image; the output size is
            ``ceil(scale·H) × ceil(scale·W)``.
        uint8: reproduce MATLAB on 8-bit images: the input is taken to the 8-bit grid, rounded to
            8 bits after the first (row) pass and again at the end, so the result is on the
            8-bit grid (``k/255``).
        antialias: stretch the kernel when shrinking (MATLAB's default).

    Returns:
        The resized images with the input's dtype (values may overshoot [0, 1] slightly unless
        ``uint8``).
    """
    if x.dim() not in (3, 4):
        raise ValueError(f"imresize expects C×H×W or B×C×H×W, got shape {tuple(x.shape)}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if not x.is_floating_point():
        raise TypeError(f"imresize expects a float tensor in [0, 1], got {x.dtype}")
    h, w = x.shape[-2:]
    out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
    dtype = x.dtype
    y = x.to(torch.float64) if dtype == torch.float64 else x.float()
    if uint8:
        y = _matlab_round(y.clamp(0, 1) * 255)
        y = _matlab_round(_resize_dim(y, -2, out_h, scale, antialias).clamp(0, 255))
        y = _matlab_round(_resize_dim(y, -1, out_w, scale, antialias).clamp(0, 255)) / 255
    else:
        y = _resize_dim(_resize_dim(y, -2, out_h, scale, antialias), -1, out_w, scale, antialias)
    return y.to(dtype)
