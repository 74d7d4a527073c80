"""Paired super-resolution datasets: HR images with their ×s LR (book chapter 7; spec §8).

:class:`PairedDataset` reads a folder of HR images and either a folder of LR images or makes
the LR on the fly with MATLAB-style bicubic (:func:`~hcflow_lite.data.imresize`, rounded to
8 bits, which reproduces the MATLAB LR files of the benchmarks exactly).  Items are
dictionaries ``{"hr": 3×H×W, "lr": 3×H/s×W/s, "name": str}`` of float32 tensors in [0, 1].

* Without ``patch_size``: whole images, HR mod-cropped to a multiple of ``scale`` (evaluation).
* With ``patch_size`` (the HR patch, e.g. 160): an LR crop of ``patch_size/scale`` at a uniformly
  random position and the HR crop at ``scale`` times that offset, then (``augment=True``) a
  random horizontal flip, vertical flip and transpose, the same for both (training, as the
  official ``GTLQnpy`` loader).  When the LR is made on the fly, only the HR region around
  the patch is resized; the result equals cropping the LR of the whole image, pixel for pixel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .folders import list_images
from .images import load_image
from .resize import imresize
from .transforms import aligned_crop_box, apply_augment, draw_augment, mod_crop

__all__ = ["PairedDataset", "match_lr_files"]

Item = dict[str, "Tensor | str"]


def _lr_key(stem: str, scale: int) -> str:
    """Strip the usual ×s suffixes of LR file names (``0801x4``, ``baby_x4``, ``img_001_LRBI_x4``)."""
    key = stem.lower()
    for pattern in (rf"[_-]?lrbi[_-]?x{scale}$", rf"[_-]?x{scale}$", r"[_-]?lr$"):
        key = re.sub(pattern, "", key)
    return key


def match_lr_files(hr_files: Sequence[Path], lr_files: Sequence[Path], scale: int, lr_dir: Path) -> list[Path]:
    """The LR file of each HR file: same stem, optionally with an ``x{scale}`` suffix.

    Raises ``FileNotFoundError`` naming the first HR images without an LR partner.
    """
    by_key: dict[str, Path] = {}
    for p in lr_files:
        by_key.setdefault(_lr_key(p.stem, scale), p)
    out, missing = [], []
    for p in hr_files:
        lr = by_key.get(p.stem.lower()) or by_key.get(_lr_key(p.stem, scale))
        if lr is None:
            missing.append(p.name)
        else:
            out.append(lr)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise FileNotFoundError(
            f"no LR image in {lr_dir} for HR image(s) {', '.join(missing[:3])}{more} "
            f"(expected the same name, or with an 'x{scale}' suffix such as {Path(missing[0]).stem}x{scale}.png)"
        )
    return out


def _to_uint8(x: Tensor) -> Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


class PairedDataset(Dataset):
    """HR images (and their LR) from folders, as the official SR/rescaling loaders read them.

    Args:
        hr_dir: folder of HR images (PNG, JPEG, …; grey, RGBA, 16-bit and palette images are
            converted to RGB by :func:`~hcflow_lite.data.load_image`).
        lr_dir: folder of the matching ×``scale`` LR images (``name.png`` or ``namex4.png``);
            ``None`` makes them with ``imresize(hr, 1/scale, uint8=True)``.
        scale: the SR factor s.
        patch_size: HR patch size for training crops (a multiple of ``scale``); ``None`` gives
            whole images.
        augment: random flips and transpose (only with ``patch_size``).
        mod: HR images are cropped to a multiple of ``mod`` (default ``scale``; use e.g. 8 to
            evaluate a ×4 model and a ×8 model on the same crops).
        repeat: the dataset is ``repeat`` times longer (small training sets, fewer epochs).
        cache: keep decoded images in memory (small sets: the sample set, Set5 …).
        generator: random generator for crops/flips (default: torch's global one, which each
            ``DataLoader`` worker seeds differently).
        name: a label for error messages and results.
    """

    def __init__(
        self,
        hr_dir: str | Path,
        lr_dir: str | Path | None = None,
        scale: int = 4,
        patch_size: int | None = None,
        augment: bool = False,
        *,
        mod: int | None = None,
        repeat: int = 1,
        cache: bool = False,
        generator: torch.Generator | None = None,
        name: str | None = None,
        hint: str = "",
    ) -> None:
        if scale < 1 or int(scale) != scale:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        self.scale = int(scale)
        self.mod = int(mod) if mod is not None else self.scale
        if self.mod % self.scale:
            raise ValueError(f"mod ({self.mod}) must be a multiple of scale ({self.scale})")
        if patch_size is not None and (patch_size <= 0 or patch_size % self.scale):
            raise ValueError(f"patch_size ({patch_size}) must be a positive multiple of scale ({self.scale})")
        if augment and patch_size is None:
            raise ValueError("augment=True needs patch_size (augmentation is for training crops)")
        if repeat < 1:
            raise ValueError(f"repeat must be ≥ 1, got {repeat}")
        self.hr_dir = Path(hr_dir)
        self.lr_dir = Path(lr_dir) if lr_dir is not None else None
        self.patch_size = patch_size
        self.augment = augment
        self.repeat = repeat
        self.cache = cache
        self.generator = generator
        self.name = name or self.hr_dir.name
        self.hr_files = list_images(self.hr_dir, "HR images", hint)
        self.lr_files: list[Path] | None = None
        if self.lr_dir is not None:
            lr_files = list_images(self.lr_dir, f"×{self.scale} LR images", hint)
            self.lr_files = match_lr_files(self.hr_files, lr_files, self.scale, self.lr_dir)
        self._cache: dict[int, tuple[Tensor, Tensor | None]] = {}

    # ------------------------------------------------------------------ info
    def __len__(self) -> int:
        return len(self.hr_files) * self.repeat

    @property
    def names(self) -> list[str]:
        """Image names (HR file stems), in order."""
        return [p.stem for p in self.hr_files]

    @property
    def lr_source(self) -> str:
        return str(self.lr_dir) if self.lr_dir is not None else f"MATLAB bicubic ×1/{self.scale} of HR (8-bit)"

    def __repr__(self) -> str:
        crop = f"patches {self.patch_size}" if self.patch_size else f"whole images (mod {self.mod})"
        return (
            f"PairedDataset({self.name!r}: {len(self.hr_files)} images ×{self.scale}, {crop}, "
            f"augment={self.augment}, LR from {self.lr_source})"
        )

    # ------------------------------------------------------------------ loading
    def _load(self, index: int) -> tuple[Tensor, Tensor | None]:
        """HR (mod-cropped) and the stored LR (``None`` when made on the fly), float or uint8."""
        if index in self._cache:
            return self._cache[index]
        hr_path = self.hr_files[index]
        hr_full = load_image(hr_path)
        hr = mod_crop(hr_full, self.mod)
        if hr.shape[-2] == 0 or hr.shape[-1] == 0:
            raise ValueError(
                f"HR image {hr_path} ({hr_full.shape[-2]}×{hr_full.shape[-1]}) is smaller than one "
                f"{self.mod}×{self.mod} block"
            )
        lr = None
        if self.lr_files is not None:
            lr_path = self.lr_files[index]
            lr = load_image(lr_path)
            h, w = hr_full.shape[-2] // self.scale, hr_full.shape[-1] // self.scale
            if tuple(lr.shape[-2:]) != (h, w):
                raise ValueError(
                    f"size mismatch: LR image {lr_path} is {lr.shape[-2]}×{lr.shape[-1]}, but HR image "
                    f"{hr_path} ({hr_full.shape[-2]}×{hr_full.shape[-1]}) at ×{self.scale} needs {h}×{w} "
                    f"(H/{self.scale} × W/{self.scale}, rounded down)"
                )
            lr = lr[..., : hr.shape[-2] // self.scale, : hr.shape[-1] // self.scale]
        elif self.patch_size is None:
            lr = imresize(hr, 1 / self.scale, uint8=True)
        if self.cache:
            self._cache[index] = (self._compact(hr), None if lr is None else self._compact(lr))
        return hr, lr

    @staticmethod
    def _compact(x: Tensor) -> Tensor:
        """uint8 when the image is exactly on the 8-bit grid (4× less memory), else float."""
        q = _to_uint8(x)
        return q if torch.equal(q.float() / 255, x) else x

    @staticmethod
    def _as_float(x: Tensor) -> Tensor:
        return x.float() / 255 if x.dtype == torch.uint8 else x

    def _patch(self, hr: Tensor, lr: Tensor | None, name: str) -> tuple[Tensor, Tensor]:
        s, p = self.scale, int(self.patch_size)  # type: ignore[arg-type]
        lp = p // s
        h_lr, w_lr = hr.shape[-2] // s, hr.shape[-1] // s
        if h_lr < lp or w_lr < lp:
            raise ValueError(
                f"image {name} ({hr.shape[-2]}×{hr.shape[-1]} after mod-crop) is smaller than the "
                f"{p}×{p} HR patch"
            )
        top, left = aligned_crop_box((h_lr, w_lr), lp, self.generator)
        hr_patch = hr[..., top * s : (top + lp) * s, left * s : (left + lp) * s]
        if lr is not None:
            lr_patch = lr[..., top : top + lp, left : left + lp]
        else:
            # resize a margin of 3 LR pixels around the patch (clipped at the image border, where
            # the symmetric padding then matches the whole image's): the bicubic ×1/s taps of the
            # patch's LR pixels reach at most 2s+1 HR pixels out, so the interior is exact.
            m = 3
            t0, l0 = max(top - m, 0), max(left - m, 0)
            t1, l1 = min(top + lp + m, h_lr), min(left + lp + m, w_lr)
            region = self._as_float(hr[..., t0 * s : t1 * s, l0 * s : l1 * s])
            lr_region = imresize(region, 1 / s, uint8=True)
            lr_patch = lr_region[..., top - t0 : top - t0 + lp, left - l0 : left - l0 + lp]
        return hr_patch, lr_patch

    def __getitem__(self, index: int) -> Item:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        i = index % len(self.hr_files)
        hr, lr = self._load(i)
        name = self.hr_files[i].stem
        if self.patch_size is not None:
            hr, lr = self._patch(hr, lr, self.hr_files[i].name)
            if self.augment:
                ops = draw_augment(self.generator)
                hr, lr = apply_augment(hr, *ops), apply_augment(lr, *ops)
        assert lr is not None
        return {"hr": self._as_float(hr).float().contiguous(), "lr": self._as_float(lr).float().contiguous(), "name": name}
