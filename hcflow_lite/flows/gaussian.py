"""The diagonal Gaussian: log-density, sampling with temperature, and standardisation.

Log-density (official ``GaussianDiag.logp``), summed over all non-batch dimensions:

.. math:: \\log\\mathcal N(x;\\mu,\\sigma^2) = \\sum_{c,h,w} -\\tfrac12\\Big(2\\log\\sigma
          + \\frac{(x-\\mu)^2}{\\sigma^2} + \\log 2\\pi\\Big).

Sampling at temperature :math:`\\tau` (book chapters 4 and 6):
:math:`z = \\mu + \\sigma\\,\\tau\\,\\varepsilon`, :math:`\\varepsilon\\sim\\mathcal N(0, I)`;
:math:`\\tau = 0` returns the mean.

:class:`DiagonalGaussian` is the same distribution seen as an invertible layer: forward
standardises, :math:`\\varepsilon = (z-\\mu)\\,e^{-\\log\\sigma}` with
:math:`\\log|\\det J| = -\\sum\\log\\sigma`; inverse is :math:`z = \\mu + e^{\\log\\sigma}\\varepsilon`.
The parameters :math:`(\\mu, \\log\\sigma)` come in through ``cond``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Flow

__all__ = ["DiagonalGaussian", "gaussian_log_prob", "gaussian_sample", "LOG_2PI"]

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(x: Tensor, mean: Tensor | float = 0.0, logs: Tensor | float = 0.0) -> Tensor:
    """:math:`\\log\\mathcal N(x;\\mu, e^{2\\log\\sigma})` summed over all but the batch dimension."""
    logs_t = torch.as_tensor(logs, dtype=x.dtype, device=x.device)
    lp = -0.5 * (logs_t * 2.0 + (x - mean) ** 2 / torch.exp(logs_t * 2.0) + LOG_2PI)
    return lp.flatten(1).sum(1)


def gaussian_sample(
    mean: Tensor,
    logs: Tensor,
    temperature: float | Tensor = 1.0,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """:math:`\\mu + e^{\\log\\sigma}\\,\\tau\\,\\varepsilon`; ``eps`` is drawn from ``generator`` if not given."""
    if eps is None:
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(logs) * temperature * eps


class DiagonalGaussian(Flow):
    """Standardisation by a diagonal Gaussian whose ``(mean, logs)`` arrive as ``cond``."""

    def forward(self, x: Tensor, cond: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        mean, logs = _params(cond)
        eps = (x - mean) * torch.exp(-logs)
        return eps, -logs.expand_as(x).flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: tuple[Tensor, Tensor] | None = None) -> Tensor:
        mean, logs = _params(cond)
        return mean + torch.exp(logs) * y

    @staticmethod
    def log_prob(x: Tensor, mean: Tensor | float = 0.0, logs: Tensor | float = 0.0) -> Tensor:
        return gaussian_log_prob(x, mean, logs)

    @staticmethod
    def sample(mean: Tensor, logs: Tensor, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_sample(mean, logs, temperature, generator=generator)


def _params(cond: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
    if cond is None:
        raise ValueError("DiagonalGaussian needs cond=(mean, logs)")
    return cond
