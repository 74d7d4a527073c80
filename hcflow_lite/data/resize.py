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
``ceil(4/s) + 2`` taps per output pixel and reflects out-of-range indices into a sparse
matrix per dimension, so a resize is two sparse matrix products per image plane (batched, on
any device; a 2040×1356 RGB image takes a few tenths of a second on one CPU core).
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=32)
def _resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool, dtype: torch.dtype, device: str) -> Tensor:
    """The 1-D resize as a sparse ``out_len × in_len`` matrix (coalesced COO: reflected taps summed)."""
    w, idx = resize_weights(in_len, out_len, scale, antialias)
    rows = torch.arange(out_len)[:, None].expand_as(idx)
    coo = torch.sparse_coo_tensor(
        torch.stack([rows.reshape(-1), idx.reshape(-1)]), w.reshape(-1), (out_len, in_len), check_invariants=True
    )
    return coo.coalesce().to(dtype).to(device)


def _resize_dim(x: Tensor, dim: int, out_len: int, scale: float, antialias: bool) -> Tensor:
    """Resize dimension ``dim`` (−2: rows, −1: columns) of ``…×H×W``.

    Each ``H×W`` slice is multiplied by the sparse 1-D resize matrix (``M·X`` for the rows,
    ``(M·Xᵀ)ᵀ`` for the columns); with gradients enabled a differentiable gather is used.
    """
    in_len = x.shape[dim]
    if x.requires_grad:
        w, idx = resize_weights(in_len, out_len, scale, antialias)
        w, idx = w.to(device=x.device, dtype=x.dtype), idx.to(x.device)
        xm = x.movedim(dim, -1)
        out = (xm[..., idx] * w).sum(-1)  # … × out_len × P → … × out_len
        return out.movedim(-1, dim)
    m = _resize_matrix(in_len, out_len, float(scale), antialias, x.dtype, str(x.device))
    h, w = x.shape[-2:]
    slices = x.reshape(-1, h, w)
    if dim in (-2, x.dim() - 2):
        outs = [torch.sparse.mm(m, s) for s in slices]
    else:
        outs = [torch.sparse.mm(m, s.t()).t() for s in slices]
    return torch.stack(outs).reshape(*x.shape[:-2], *outs[0].shape)


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
    # 8-bit mode works on integers 0…255 in float64, as MATLAB does on uint8 images
    y = x.to(torch.float64) if (dtype == torch.float64 or uint8) else x.float()
    if uint8:
        y = _matlab_round(y.clamp(0, 1) * 255)
        y = _matlab_round(_resize_dim(y, -2, out_h, scale, antialias).clamp(0, 255))
        y = _matlab_round(_resize_dim(y, -1, out_w, scale, antialias).clamp(0, 255)) / 255
    else:
        y = _resize_dim(_resize_dim(y, -2, out_h, scale, antialias), -1, out_w, scale, antialias)
    return y.to(dtype)
