"""The training and validation sets of a run, from its :class:`~hcflow_lite.train.config.DataConfig`.

Datasets are plain ``torch.utils.data.Dataset`` objects whose items are dictionaries
``{"hr": 3×H×W, "lr": 3×H/s×W/s, "name": str}`` in [0, 1] — :class:`hcflow_lite.data.PairedDataset`
for image folders and named datasets, :class:`SyntheticImages` for tests and smoke runs that
should touch no file.  Any dataset with such items can be passed to
:class:`~hcflow_lite.train.Trainer` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..data import imresize
from .config import DataConfig
from .sampling import make_generator

__all__ = ["SyntheticImages", "bicubic_lr", "build_train_dataset", "build_val_dataset"]


def bicubic_lr(hr: Tensor, scale: int) -> Tensor:
    """The 8-bit MATLAB-bicubic ×1/s downscale of ``hr`` (``3×H×W`` or ``B×3×H×W``)."""
    batched = hr.dim() == 4
    lr = imresize(hr if batched else hr[None], 1 / scale).clamp(0, 1)
    lr = torch.round(lr * 255) / 255
    return lr if batched else lr[0]


class SyntheticImages(Dataset):
    """``n`` random smooth colour images of ``size × size`` (8-bit) with their bicubic LR.

    Image ``i`` depends only on ``(seed, i)``: a sum of random low-frequency colour fields,
    a few sharp-edged rectangles and fine noise — enough structure for a flow to learn
    something in seconds.  For tests and smoke runs; not a substitute for real images.
    """

    def __init__(self, n: int, size: int, scale: int, seed: int = 0) -> None:
        if size % scale:
            raise ValueError(f"synthetic image size {size} must be a multiple of the scale {scale}")
        self.n, self.size, self.scale, self.seed = n, size, scale, seed
        self.names = [f"synthetic_{i:04d}" for i in range(n)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        g = make_generator(self.seed, 1000, index)
        s = self.size
        img = torch.zeros(3, s, s)
        for cells in (2, 4, 8):
            field = torch.rand(1, 3, cells, cells, generator=g)
            img += F.interpolate(field, size=(s, s), mode="bicubic", align_corners=False)[0] / 3
        for _ in range(3):
            y0, x0 = (torch.randint(0, s, (2,), generator=g)).tolist()
            h, w = (torch.randint(s // 8, s // 2 + 1, (2,), generator=g)).tolist()
            img[:, y0 : y0 + h, x0 : x0 + w] = img[:, y0 : y0 + h, x0 : x0 + w] * 0.5 + torch.rand(3, 1, 1, generator=g) * 0.5
        img += 0.02 * torch.randn(3, s, s, generator=g)
        hr = torch.round(img.clamp(0, 1) * 255) / 255
        return {"hr": hr, "lr": bicubic_lr(hr, self.scale), "name": self.names[index]}


def _data_api(what: str) -> Any:
    from .. import data

    if not hasattr(data, what):
        raise ValueError(f"this version of hcflow_lite.data has no {what} (needed for data.train/val); use 'synthetic'")
    return getattr(data, what)


def _sample_dir(cfg: DataConfig, name: str, default: str) -> Path:
    """``sample_set`` → ``<sample set>/<default>/HR``; ``sample_set/faces`` → ``<sample set>/faces/HR``."""
    sub = name.split("/", 1)[1] if "/" in name else default
    root = Path(_data_api("sample_set")(cfg.root))
    folder = root / sub / "HR"
    if not folder.is_dir():
        have = sorted(p.name for p in root.iterdir() if (p / "HR").is_dir())
        raise FileNotFoundError(f"the sample set has no {sub!r} part (it has: {', '.join(have)})")
    return folder


def build_train_dataset(cfg: DataConfig, scale: int, seed: int = 0) -> Dataset:
    """Training crops of ``cfg.patch_size`` from ``cfg.train`` (see :class:`DataConfig`)."""
    if cfg.patch_size % scale:
        raise ValueError(f"data.patch_size ({cfg.patch_size}) must be a multiple of the scale ({scale})")
    name = cfg.train
    if name == "synthetic":
        return SyntheticImages(cfg.synthetic_images, cfg.patch_size, scale, seed)
    paired = _data_api("PairedDataset")
    if name == "sample_set" or name.startswith("sample_set/"):
        folder = _sample_dir(cfg, name, "train")
        return paired(folder, None, scale, cfg.patch_size, cfg.augment, cache=True, name=name)
    if Path(name).is_dir():
        return paired(Path(name), cfg.train_lr, scale, cfg.patch_size, cfg.augment)
    if cfg.train_lr is not None:
        raise ValueError(f"data.train_lr is only used with a folder data.train, and {name!r} is not a folder")
    return _data_api("get_dataset")(name, cfg.root, scale, cfg.patch_size, cfg.augment)


def build_val_dataset(cfg: DataConfig, scale: int, seed: int = 0) -> Dataset | None:
    """Whole validation images (HR cropped to a multiple of the scale), or ``None``."""
    name = cfg.val
    if name is None or name == "none":
        return None
    if name == "synthetic":
        return SyntheticImages(4, max(2 * cfg.patch_size, 4 * scale), scale, seed + 1)
    paired = _data_api("PairedDataset")
    if name == "sample_set" or name.startswith("sample_set/"):
        return paired(_sample_dir(cfg, name, "val"), None, scale, cache=True, name=name)
    if Path(name).is_dir():
        return paired(Path(name), cfg.val_lr, scale)
    if cfg.val_lr is not None:
        raise ValueError(f"data.val_lr is only used with a folder data.val, and {name!r} is not a folder")
    return _data_api("get_dataset")(name, cfg.root, scale)
