"""The perceptual loss of HCFlow++ (ESRGAN's VGG loss; book chapter 8; spec §7.1).

.. math:: \\mathcal L_{\\text{fea}} = \\operatorname{mean}\\,\\big|\\phi(\\hat x) - \\phi(x)\\big|,
          \\qquad \\phi = \\text{VGG19 up to conv5\\_4, before its ReLU}

on ImageNet-normalised inputs (:math:`(x - \\mu)/\\sigma` with
:math:`\\mu = (0.485, 0.456, 0.406)`, :math:`\\sigma = (0.229, 0.224, 0.225)`), where
:math:`\\hat x = f^{-1}(y^*, \\tau)` is a *random* sample (:math:`\\tau` = 0.9 for ×4, 0.8 for faces)
and the features of the ground truth are detached.

:class:`VGG19Features` is ``torchvision.models.vgg19().features[:35]`` written out layer by layer
(same indices, so torchvision's weight file loads key for key), so that the package does not
need torchvision.  The ImageNet weights cannot be downloaded at run time here: they are read
from the torch hub cache (``<torch hub dir>/checkpoints/vgg19-dcbb9e9d.pth``, the file
torchvision itself downloads) or from an explicit path.  Without them the loss refuses to
start unless the caller allows a **random-weight VGG** — useful for smoke runs and tests only,
and labelled as such (:attr:`VGG19Features.label`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RANDOM_VGG_LABEL",
    "VGG19_FILE",
    "PerceptualLoss",
    "VGG19Features",
    "default_vgg19_path",
]

VGG19_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_VGG_LABEL = "random-weight VGG, not the paper's perceptual loss"

# VGG19 configuration "E": channels of the 3×3 convolutions, "M" = 2×2 max-pool
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def default_vgg19_path() -> Path:
    """Where torchvision keeps its VGG19 ImageNet weights: ``<torch.hub.get_dir()>/checkpoints/vgg19-dcbb9e9d.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


class VGG19Features(nn.Module):
    """VGG19 ``features[:layer + 1]`` (default ``layer=34``: conv5_4 before its ReLU), frozen, eval mode.

    Args:
        weights: ``"imagenet"`` (read ``weights_path`` or the torch hub cache) or ``"random"``.
        weights_path: a torchvision VGG19 state dict (``vgg19-dcbb9e9d.pth``); default: the hub cache.
        layer: index of the last layer kept (34 = conv5_4, as ESRGAN/HCFlow).
        allow_random: when the ImageNet weights are missing, fall back to random weights
            (with a warning and :attr:`label` saying so) instead of raising.

    Raises:
        FileNotFoundError: the ImageNet weights are missing and ``allow_random`` is false.
    """

    def __init__(
        self,
        weights: str = "imagenet",
        weights_path: str | Path | None = None,
        layer: int = 34,
        allow_random: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                c = int(v)
        if not 0 <= layer < len(layers):
            raise ValueError(f"VGG19 layer must be in 0..{len(layers) - 1}, got {layer}")
        self.features = nn.Sequential(*layers[: layer + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.is_random = True
        self.source = "random initialisation"
        if weights == "imagenet":
            path = Path(weights_path) if weights_path is not None else default_vgg19_path()
            if path.is_file():
                self._load(path)
            elif not allow_random:
                raise FileNotFoundError(
                    f"VGG19 ImageNet weights not found at {path}. The perceptual loss (HCFlow++) needs "
                    f"torchvision's {VGG19_FILE}: copy it there (it is what torchvision.models.vgg19("
                    "weights='IMAGENET1K_V1') downloads; TORCH_HOME moves the hub folder), or, for a smoke "
                    f"run only, allow a {RANDOM_VGG_LABEL} (losses.allow_random_vgg=true)"
                )
            else:
                import warnings

                warnings.warn(f"VGG19 weights not found at {path}: using a {RANDOM_VGG_LABEL}", stacklevel=2)
        elif weights != "random":
            raise ValueError(f"weights must be 'imagenet' or 'random', got {weights!r}")
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def _load(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise OSError(f"cannot read VGG19 weights {path}: {type(e).__name__}: {e}") from e
        if not isinstance(state, dict):
            raise OSError(f"{path} is not a VGG19 state dict")
        ours = self.state_dict()
        missing = [k for k in ours if k not in state]
        if missing:
            raise OSError(f"{path} is not torchvision's VGG19 state dict (missing {missing[:3]})")
        for k in ours:
            if state[k].shape != ours[k].shape:
                raise OSError(f"{path}: {k} has shape {tuple(state[k].shape)}, expected {tuple(ours[k].shape)}")
        self.load_state_dict({k: state[k] for k in ours})
        self.is_random = False
        self.source = str(path)

    @property
    def label(self) -> str:
        """How to describe these features in logs and notebooks."""
        return RANDOM_VGG_LABEL if self.is_random else f"VGG19 conv5_4 (ImageNet weights from {os.path.basename(self.source)})"

    def train(self, mode: bool = True) -> VGG19Features:  # always frozen, always eval
        return super().train(False)

    def forward(self, x: Tensor) -> Tensor:
        """Features of ``x`` (``B×3×H×W`` in [0, 1]), ImageNet-normalised first."""
        return self.features((x - self.mean) / self.std)


class PerceptualLoss(nn.Module):
    """:math:`\\operatorname{mean}|\\phi(\\hat x) - \\phi(x)|` (``l1``; ``l2`` squares instead), target detached."""

    def __init__(self, features: VGG19Features | None = None, criterion: str = "l1", **vgg_kwargs: object) -> None:
        super().__init__()
        if criterion not in ("l1", "l2"):
            raise ValueError(f"feature criterion must be 'l1' or 'l2', got {criterion!r}")
        self.criterion = criterion
        self.vgg = features if features is not None else VGG19Features(**vgg_kwargs)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        return self.vgg.label

    def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
        with torch.no_grad():
            target = self.vgg(x)
        diff = self.vgg(x_hat) - target
        return diff.abs().mean() if self.criterion == "l1" else diff.pow(2).mean()
