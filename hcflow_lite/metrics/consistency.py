"""How well an SR image agrees with its LR image (spec §9; Tables 2–3).

* :func:`lr_psnr` ("LR-PSNR"): PSNR between the dataset LR and the LR the model *produces from
  the HR* in its forward pass (``clamp(Q(ŷ))`` for SR, ``Q(clamp(ŷ))`` for rescaling); no crop.
  A high value means the invertible network's LR branch reproduces bicubic downscaling.
* :func:`consistency` ("bicHR" in the official logs): PSNR between the MATLAB-bicubic ×1/s
  downscales of the ground truth and of the SR image (no crop), i.e. whether the SR image
  explains the LR.  As in ``test_HCFlow.py`` both images are first taken to 8 bits, the
  downscales are *not* rounded.
"""

from __future__ import annotations

from torch import Tensor

from ..data.resize import imresize
from .color import YConvention
from .common import check_pair, to_8bit
from .psnr import psnr

__all__ = ["consistency", "lr_psnr"]


def lr_psnr(generated_lr: Tensor, lr: Tensor, y_channel: bool = False, *, y_convention: YConvention = "matlab") -> float | Tensor:
    """PSNR (8-bit, no crop) between the LR a model generates and the dataset LR."""
    check_pair(generated_lr, lr, "LR images")
    return psnr(generated_lr, lr, 0, y_channel, y_convention=y_convention)


def consistency(sr: Tensor, hr: Tensor, scale: int, y_channel: bool = False) -> float | Tensor:
    """PSNR between ``imresize(hr, 1/s)`` and ``imresize(sr, 1/s)`` of the 8-bit images (no crop).

    The downscales are compared unrounded (``quantize=False``), hence also their Y channel.
    """
    check_pair(sr, hr, "SR and HR images")
    down_hr = imresize(to_8bit(hr) / 255.0, 1 / scale)
    down_sr = imresize(to_8bit(sr) / 255.0, 1 / scale)
    return psnr(down_sr, down_hr, 0, y_channel, quantize=False)
