"""Shared steps of the image metrics: 8-bit rounding, border crop, input checks (spec §9)."""

from __future__ import annotations

import torch
from torch import Tensor

from .color import Y_CONVENTIONS, luma_255

__all__ = ["check_pair", "crop_border_of", "prepare_pair", "to_8bit"]


def to_8bit(image: Tensor) -> Tensor:
    """``round(clamp(x, 0, 1)·255)`` in float64: the official ``tensor2img`` (values 0…255).

    Halves round to even, as numpy's ``round`` in the official code.
    """
    return torch.round(image.detach().to(torch.float64).clamp(0, 1) * 255.0)


def check_pair(a: Tensor, b: Tensor, what: str = "images") -> None:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"expected two tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.shape != b.shape:
        raise ValueError(f"{what} differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dim() not in (3, 4) or a.shape[-3] != 3:
        raise ValueError(f"expected 3×H×W or B×3×H×W RGB {what} in [0, 1], got shape {tuple(a.shape)}")
    if not a.is_floating_point() or not b.is_floating_point():
        raise TypeError(f"expected float {what} in [0, 1], got {a.dtype} and {b.dtype}")


def crop_border_of(x: Tensor, border: int) -> Tensor:
    """Remove ``border`` pixels on each side of the last two dimensions."""
    if border < 0:
        raise ValueError(f"crop_border must be ≥ 0, got {border}")
    if border == 0:
        return x
    h, w = x.shape[-2:]
    if h <= 2 * border or w <= 2 * border:
        raise ValueError(f"crop_border={border} leaves nothing of a {h}×{w} image")
    return x[..., border : h - border, border : w - border]


def prepare_pair(
    a: Tensor, b: Tensor, crop_border: int, y_channel: bool, y_convention: str, quantize: bool
) -> tuple[Tensor, Tensor]:
    """Both images as float64 on the 0–255 scale, ``…×C×H×W`` (C = 1 for Y), cropped.

    ``quantize`` rounds RGB to 8 bits first (the official evaluation converts every image to
    ``uint8``); the Y channel is then rounded too under the ``"matlab"`` convention.
    """
    check_pair(a, b)
    if y_convention not in Y_CONVENTIONS:
        raise ValueError(f"y_convention must be one of {Y_CONVENTIONS}, got {y_convention!r}")
    out = []
    for x in (a, b):
        x = to_8bit(x) if quantize else x.detach().to(torch.float64) * 255.0
        if y_channel:
            x = luma_255(x, round_to_8bit=quantize and y_convention == "matlab").unsqueeze(-3)
        out.append(crop_border_of(x, crop_border))
    return out[0], out[1]
