"""Sample diversity: the per-pixel spread of several SR samples of one LR image (spec §9).

For :math:`n` samples :math:`x^{(1)}, \\dots, x^{(n)}` of the same LR image, on the 0–255 scale
(float, not rounded),

.. math:: \\mathrm{diversity} = \\operatorname{mean}_{c,i,j}\\;
    \\sqrt{\\tfrac{1}{n-1} \\textstyle\\sum_k \\big(x^{(k)}_{cij} - \\bar x_{cij}\\big)^2},

the unbiased standard deviation over the samples, averaged over channels and pixels, as the
official ``test_HCFlow.py`` computes it.  It needs :math:`n \\ge 2` (with one sample the
official code yields NaN; here too).  :class:`RunningDiversity` computes the same number one
sample at a time (Welford's update), so 2K images need memory for two images, not ``n``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["RunningDiversity", "diversity"]


def diversity(samples: Tensor) -> float | Tensor:
    """Diversity of ``n×3×H×W`` samples in [0, 1] (``n×B×3×H×W``: a ``(B,)`` tensor); NaN if n < 2."""
    if samples.dim() not in (4, 5):
        raise ValueError(f"expected n×3×H×W (or n×B×3×H×W) samples, got shape {tuple(samples.shape)}")
    n = samples.shape[0]
    if n < 2:
        value = torch.full(samples.shape[1:-3], math.nan, dtype=torch.float64)
    else:
        value = (samples.detach().to(torch.float64) * 255.0).std(0, unbiased=True).flatten(-3).mean(-1)
    return float(value) if samples.dim() == 4 else value


class RunningDiversity:
    """Streaming :func:`diversity`: ``update(sample)`` for each ``3×H×W`` sample, then ``value()``."""

    def __init__(self) -> None:
        self.n = 0
        self._mean: Tensor | None = None
        self._m2: Tensor | None = None

    def update(self, sample: Tensor) -> None:
        x = sample.detach().to(torch.float64) * 255.0
        self.n += 1
        if self._mean is None:
            self._mean, self._m2 = x.clone(), torch.zeros_like(x)
            return
        assert self._m2 is not None
        if x.shape != self._mean.shape:
            raise ValueError(f"sample shape {tuple(x.shape)} differs from the first one {tuple(self._mean.shape)}")
        delta = x - self._mean
        self._mean += delta / self.n
        self._m2 += delta * (x - self._mean)

    def value(self) -> float:
        """The diversity of the samples seen so far (NaN with fewer than two)."""
        if self.n < 2 or self._m2 is None:
            return math.nan
        return float(torch.sqrt(self._m2.clamp_min(0) / (self.n - 1)).mean())
