"""Pixel losses on the reconstruction of the HR image (book chapters 7 and 8; spec §7).

HCFlow+ adds an L1 loss between the HR image and the *deterministic* reconstruction from the LR
(all latents at their means, temperature :math:`\\tau = 0`):

.. math:: \\mathcal L_{\\text{pix}} = \\operatorname{mean}\\,\\big|f^{-1}(y^*, \\tau=0) - x\\big|

(the mean over all elements, ``nn.L1Loss`` in the official code).  The rescaling model uses the
same loss with latents drawn at :math:`\\tau = 1` (see :mod:`hcflow_lite.losses.rescaling`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from ..models import HCFlow

__all__ = ["Criterion", "hr_pixel_loss", "pixel_criterion"]

Criterion = Literal["l1", "l2"]


def pixel_criterion(a: Tensor, b: Tensor, criterion: Criterion = "l1") -> Tensor:
    """``mean|a − b|`` (``l1``) or ``mean (a − b)²`` (``l2``), over all elements."""
    if criterion == "l1":
        return (a - b).abs().mean()
    if criterion == "l2":
        return (a - b).pow(2).mean()
    raise ValueError(f"pixel criterion must be 'l1' or 'l2', got {criterion!r}")


def hr_pixel_loss(
    model: HCFlow,
    lr: Tensor,
    hr: Tensor,
    temperature: float | Sequence[float] = 0.0,
    eps: Sequence[Tensor] | None = None,
    generator: torch.Generator | None = None,
    criterion: Criterion = "l1",
) -> tuple[Tensor, Tensor]:
    """Distance between ``model.decode(lr, τ)`` and ``hr``; returns ``(loss, reconstruction)``.

    At the default ``temperature=0`` the reconstruction is deterministic (HCFlow+'s HR loss);
    ``eps`` (level 0 first) or ``generator`` fix the latents for ``τ > 0``.
    """
    if lr.shape[0] != hr.shape[0]:
        raise ValueError(f"LR batch {lr.shape[0]} and HR batch {hr.shape[0]} differ")
    x_hat = model.decode(lr, temperature, eps=eps, generator=generator)
    if x_hat.shape != hr.shape:
        raise ValueError(f"reconstruction has shape {tuple(x_hat.shape)} but the HR is {tuple(hr.shape)}")
    return pixel_criterion(x_hat, hr, criterion), x_hat
