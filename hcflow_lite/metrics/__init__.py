"""Image-quality metrics with the official HCFlow evaluation conventions (spec §9; book chapter 7).

* :func:`psnr`, :func:`ssim`: on 8-bit RGB or BT.601 Y (:func:`rgb_to_y`), with a border crop.
* :func:`lpips_distance` / :class:`LPIPS`: LPIPS-AlexNet, only with the real ImageNet trunk.
* :func:`diversity`: per-pixel std over SR samples (0–255 scale).
* :func:`lr_psnr`: generated LR vs dataset LR; :func:`consistency`: bicubic↓(SR) vs bicubic↓(HR).
"""

from .color import Y_CONVENTIONS, YConvention, luma_255, rgb_to_y
from .common import crop_border_of, to_8bit
from .consistency import consistency, lr_psnr
from .diversity import RunningDiversity, diversity
from .lpips import BACKBONE_FILES, LPIPS, LPIPSUnavailableError, backbone_path, lpips_distance
from .psnr import psnr
from .ssim import gaussian_window, ssim

__all__ = [
    "BACKBONE_FILES",
    "LPIPS",
    "LPIPSUnavailableError",
    "RunningDiversity",
    "YConvention",
    "Y_CONVENTIONS",
    "backbone_path",
    "consistency",
    "crop_border_of",
    "diversity",
    "gaussian_window",
    "lpips_distance",
    "lr_psnr",
    "luma_255",
    "psnr",
    "rgb_to_y",
    "ssim",
    "to_8bit",
]
