"""Reading and writing images as ``3×H×W`` float tensors in [0, 1] (RGB).

:func:`load_image` accepts what users actually have: 8-bit and 16-bit PNGs, greyscale (copied
to three channels), RGBA and LA (alpha composited onto white), palette images, JPEG, TIFF, BMP.
Unreadable or missing files raise an error that names the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

__all__ = ["IMAGE_EXTENSIONS", "ImageReadError", "load_image", "save_image", "to_numpy_uint8", "to_tensor"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


class ImageReadError(OSError):
    """An image file exists but cannot be decoded."""


def to_tensor(array: np.ndarray) -> Tensor:
    """``H×W×C`` (or ``H×W``) uint8/uint16/float array → ``3×H×W`` float32 tensor in [0, 1]."""
    a = np.asarray(array)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    elif a.dtype == np.bool_:
        a = a.astype(np.float32)
    else:
        a = a.astype(np.float32)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3:
        raise ValueError(f"expected an H×W or H×W×C image, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 2:  # grey + alpha
        a = _composite(np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1:2])
    elif a.shape[2] == 4:
        a = _composite(a[:, :, :3], a[:, :, 3:4])
    elif a.shape[2] != 3:
        raise ValueError(f"unsupported number of channels: {a.shape[2]}")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).clamp_(0, 1)


def _composite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-composite onto a white background."""
    return rgb * alpha + (1.0 - alpha)


def load_image(path: str | Path) -> Tensor:
    """Read an image file as an RGB ``3×H×W`` float32 tensor in [0, 1].

    Greyscale is copied to three channels, alpha is composited onto white, palette images are
    expanded, 16-bit images keep their precision (divided by 65535).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"expected an image file, got a folder: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                return to_tensor(np.asarray(im, dtype=np.uint16))
            elif mode == "I":  # 32-bit integer PNGs are usually 16-bit data
                arr = np.asarray(im, dtype=np.int64)
                return to_tensor(arr.clip(0, 65535).astype(np.uint16))
            elif mode == "F":
                return to_tensor(np.asarray(im, dtype=np.float32))
            elif mode in ("1", "L", "LA", "RGB", "RGBA"):
                pass
            else:  # CMYK, YCbCr, LAB, HSV …
                im = im.convert("RGB")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"cannot read image {path}: {e}") from e
    return to_tensor(arr)


def to_numpy_uint8(image: Tensor) -> np.ndarray:
    """``3×H×W`` tensor in [0, 1] → ``H×W×3`` uint8 array (rounded, as the official code does)."""
    if image.dim() != 3:
        raise ValueError(f"expected a 3×H×W tensor, got shape {tuple(image.shape)}")
    a = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return a.permute(1, 2, 0).cpu().numpy()


def save_image(image: Tensor, path: str | Path, **options: object) -> Path:
    """Write a ``3×H×W`` tensor in [0, 1] as an 8-bit image (format from the extension).

    ``options`` go to Pillow's ``save`` (e.g. ``compress_level=1`` for fast PNGs).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_numpy_uint8(image)).save(path, **options)
    return path
