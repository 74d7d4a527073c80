"""The image-rescaling objective of HCFlow (book chapter 9; spec §7.2).

One forward pass :math:`(\\hat y_c, \\varepsilon_0, \\varepsilon_1) = f(x)` with
:math:`\\hat y_c = \\operatorname{clamp}(\\hat y, 0, 1)`, then

.. math::
    \\mathcal L = \\lambda_{hr}\\,\\operatorname{mean}\\big|f^{-1}(Q(\\hat y_c), \\tau{=}1) - x\\big|
      + \\lambda_{lr}\\,\\operatorname{mean}(\\hat y_c - y^*)^2
      + \\lambda_z\\,\\operatorname{mean}\\big(\\operatorname{vec}(\\varepsilon_0, \\varepsilon_1)^2\\big)

with :math:`(\\lambda_{hr}, \\lambda_{lr}, \\lambda_z) = (1, 0.05, 10^{-5})` in the paper,
:math:`y^*` the bicubic LR, :math:`Q` the 8-bit quantiser with a straight-through gradient
(:func:`hcflow_lite.models.quantize`), and the latents of the reconstruction drawn afresh.
Note what the official code does, and this module too: the LR loss sees the clamped but
*unquantised* LR (its gradient is blocked where the clamp saturates), while the reconstruction
starts from the quantised one; the latent loss is **one** mean over the elements of all levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..models import HCFlow, quantize
from .pixel import pixel_criterion

__all__ = ["RescalingLosses", "latent_l2_loss", "lr_l2_loss", "rescaling_losses"]


def lr_l2_loss(lr_generated: Tensor, lr_target: Tensor) -> Tensor:
    """:math:`\\operatorname{mean}(\\hat y_c - y^*)^2` (``nn.MSELoss``), unweighted."""
    if lr_generated.shape != lr_target.shape:
        raise ValueError(f"generated LR {tuple(lr_generated.shape)} and target LR {tuple(lr_target.shape)} differ")
    return (lr_generated - lr_target).pow(2).mean()


def latent_l2_loss(eps: Sequence[Tensor]) -> Tensor:
    """:math:`\\operatorname{mean}(\\operatorname{vec}(\\varepsilon_0,\\dots,\\varepsilon_{L-1})^2)`: one mean over all levels' elements."""
    if len(eps) == 0:
        raise ValueError("need at least one latent")
    return torch.cat([e.flatten() for e in eps]).pow(2).mean()


@dataclass
class RescalingLosses:
    """The three unweighted terms and the tensors they were computed from."""

    hr_l1: Tensor  #: mean |f⁻¹(Q(ŷ_c), τ) − x|
    lr_l2: Tensor  #: mean (ŷ_c − y*)²
    latent_l2: Tensor  #: mean ε² over all levels
    lr: Tensor  #: ŷ_c, the clamped (unquantised) generated LR
    reconstruction: Tensor  #: f⁻¹(Q(ŷ_c), τ)

    def weighted(self, hr: float = 1.0, lr: float = 0.05, latent: float = 1e-5) -> dict[str, Tensor]:
        """The weighted terms (paper weights by default), keyed ``pixel_hr``, ``pixel_lr``, ``latent``."""
        return {"pixel_hr": hr * self.hr_l1, "pixel_lr": lr * self.lr_l2, "latent": latent * self.latent_l2}


def rescaling_losses(
    model: HCFlow,
    hr: Tensor,
    lr: Tensor,
    temperature: float | Sequence[float] = 1.0,
    eps: Sequence[Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> RescalingLosses:
    """The rescaling objective's terms for one batch (``lr`` = the bicubic target :math:`y^*`).

    ``eps`` (level 0 first, standard normal) fixes the reconstruction's latents; otherwise they
    are drawn from ``generator`` (or torch's global RNG) at ``temperature``.
    """
    if model.config.task != "rescaling":
        raise ValueError("the rescaling objective needs the rescaling model (task='rescaling')")
    result = model.encode(hr)
    y_c = result.lr  # clamp(ŷ, 0, 1), not quantised
    lr_term = lr_l2_loss(y_c, lr)
    z_term = latent_l2_loss(result.eps)
    x_hat = model.decode(quantize(y_c), temperature, eps=eps, generator=generator)
    return RescalingLosses(pixel_criterion(x_hat, hr, "l1"), lr_term, z_term, y_c, x_hat)
