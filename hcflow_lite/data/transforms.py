"""Paired HR/LR transforms of the official loaders (spec §8): mod-crop, aligned crops, flips.

* :func:`mod_crop` keeps the top-left :math:`s\\lfloor H/s\\rfloor \\times s\\lfloor W/s\\rfloor`
  pixels, as ``modcrop`` of the official code, so that an HR image and its ×s LR line up.
* :func:`aligned_crop_box` draws one LR crop of ``p/s × p/s`` at a uniformly random position
  and puts the HR crop at ``s`` times that offset (the ``GTLQnpy`` loader).
* :func:`augment_pair` applies a horizontal flip, a vertical flip and a transpose, each with
  probability ½ and the same for HR and LR.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["aligned_crop_box", "augment_pair", "apply_augment", "draw_augment", "mod_crop"]


def mod_crop(image: Tensor, modulus: int) -> Tensor:
    """Crop ``…×H×W`` to the top-left ``modulus·⌊H/modulus⌋ × modulus·⌊W/modulus⌋`` pixels."""
    if modulus < 1:
        raise ValueError(f"modulus must be ≥ 1, got {modulus}")
    h, w = image.shape[-2:]
    return image[..., : h - h % modulus, : w - w % modulus]


def aligned_crop_box(
    lr_size: tuple[int, int], lr_patch: int, generator: torch.Generator | None = None
) -> tuple[int, int]:
    """A uniformly random top-left corner ``(top, left)`` of an ``lr_patch²`` crop of an LR image."""
    h, w = lr_size
    if h < lr_patch or w < lr_patch:
        raise ValueError(f"image too small for a {lr_patch}×{lr_patch} LR patch: LR size {h}×{w}")
    top = int(torch.randint(0, h - lr_patch + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - lr_patch + 1, (1,), generator=generator))
    return top, left


def draw_augment(generator: torch.Generator | None = None) -> tuple[bool, bool, bool]:
    """Draw ``(hflip, vflip, transpose)``, each True with probability ½."""
    r = torch.rand(3, generator=generator)
    return bool(r[0] < 0.5), bool(r[1] < 0.5), bool(r[2] < 0.5)


def apply_augment(image: Tensor, hflip: bool, vflip: bool, transpose: bool) -> Tensor:
    """Horizontal flip, then vertical flip, then H↔W transpose of a ``…×H×W`` tensor."""
    if hflip:
        image = image.flip(-1)
    if vflip:
        image = image.flip(-2)
    if transpose:
        image = image.transpose(-1, -2)
    return image.contiguous()


def augment_pair(
    hr: Tensor, lr: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The same random flips/transpose for an HR image and its LR (official ``augment``)."""
    ops = draw_augment(generator)
    return apply_augment(hr, *ops), apply_augment(lr, *ops)
