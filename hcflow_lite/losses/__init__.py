"""Losses of HCFlow's training recipes, one module per idea (book chapters 6–9).

* :func:`nll_loss` — the official negative log-likelihood (HCFlow);
* :func:`hr_pixel_loss` — L1 between the τ = 0 reconstruction and the HR (HCFlow+);
* :class:`PerceptualLoss` on :class:`VGG19Features` and the adversarial losses
  :func:`generator_loss` / :func:`discriminator_loss` with :class:`DiscriminatorVGG` (HCFlow++);
* :func:`rescaling_losses` — HR L1 through the quantised LR, LR L2, latent L2 (rescaling);
* :data:`PAPER_LOSS_WEIGHTS` — the paper's weights.
"""

from .discriminator import DISCRIMINATORS, DiscriminatorVGG, build_discriminator
from .gan import GAN_TYPES, discriminator_loss, gan_criterion, generator_loss
from .nll import nll_loss
from .perceptual import RANDOM_VGG_LABEL, VGG19_FILE, PerceptualLoss, VGG19Features, default_vgg19_path
from .pixel import hr_pixel_loss, pixel_criterion
from .rescaling import RescalingLosses, latent_l2_loss, lr_l2_loss, rescaling_losses
from .weights import PAPER_LOSS_WEIGHTS, LossWeights

__all__ = [
    "DISCRIMINATORS",
    "GAN_TYPES",
    "PAPER_LOSS_WEIGHTS",
    "RANDOM_VGG_LABEL",
    "VGG19_FILE",
    "DiscriminatorVGG",
    "LossWeights",
    "PerceptualLoss",
    "RescalingLosses",
    "VGG19Features",
    "build_discriminator",
    "default_vgg19_path",
    "discriminator_loss",
    "gan_criterion",
    "generator_loss",
    "hr_pixel_loss",
    "latent_l2_loss",
    "lr_l2_loss",
    "nll_loss",
    "pixel_criterion",
    "rescaling_losses",
]
