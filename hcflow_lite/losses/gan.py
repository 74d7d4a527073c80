"""Adversarial losses (ESRGAN's ``GANLoss``; book chapter 8; spec §7.1).

With discriminator logits :math:`D(\\cdot)`, the paper's ``gan_type: gan`` is the
non-saturating GAN with binary cross-entropy on logits:

.. math:: \\mathcal L_G = \\operatorname{BCE}(D(\\hat x), 1), \\qquad
          \\mathcal L_D = \\operatorname{BCE}(D(x), 1) + \\operatorname{BCE}(D(\\hat x), 0),

where :math:`\\operatorname{BCE}(l, t) = \\operatorname{mean}\\big(-t\\log\\sigma(l) - (1-t)\\log(1-\\sigma(l))\\big)`.
Also available as in the official code: ``lsgan`` (mean squared error to the labels),
``wgan`` (:math:`\\mp\\operatorname{mean} D`, no gradient penalty) and ``ragan`` (relativistic
average: each prediction is compared with the mean prediction of the other kind, and both
terms are averaged).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["GAN_TYPES", "discriminator_loss", "gan_criterion", "generator_loss"]

GAN_TYPES = ("gan", "lsgan", "wgan", "ragan")


def gan_criterion(logits: Tensor, target_is_real: bool, gan_type: str = "gan") -> Tensor:
    """The loss of predictions ``logits`` against the label real (1) or fake (0)."""
    if gan_type in ("gan", "ragan"):
        target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
        return F.binary_cross_entropy_with_logits(logits, target)
    if gan_type == "lsgan":
        target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
        return F.mse_loss(logits, target)
    if gan_type == "wgan":
        return -logits.mean() if target_is_real else logits.mean()
    raise ValueError(f"gan_type must be one of {GAN_TYPES}, got {gan_type!r}")


def generator_loss(pred_fake: Tensor, pred_real: Tensor | None = None, gan_type: str = "gan") -> Tensor:
    """:math:`\\mathcal L_G`: the generator wants its samples called real (``ragan`` needs ``pred_real``, detached here)."""
    if gan_type == "ragan":
        if pred_real is None:
            raise ValueError("ragan needs the discriminator's predictions on real images")
        pred_real = pred_real.detach()
        return (
            gan_criterion(pred_real - pred_fake.mean(), False, gan_type)
            + gan_criterion(pred_fake - pred_real.mean(), True, gan_type)
        ) / 2
    return gan_criterion(pred_fake, True, gan_type)


def discriminator_loss(pred_real: Tensor, pred_fake: Tensor, gan_type: str = "gan") -> tuple[Tensor, Tensor]:
    """:math:`\\mathcal L_D` as ``(real term, fake term)``; their sum (``ragan``: mean) is minimised."""
    if gan_type == "ragan":
        real = gan_criterion(pred_real - pred_fake.mean(), True, gan_type) / 2
        fake = gan_criterion(pred_fake - pred_real.mean(), False, gan_type) / 2
        return real, fake
    return gan_criterion(pred_real, True, gan_type), gan_criterion(pred_fake, False, gan_type)
