"""The paper's datasets by name, in their usual folder layouts (book chapter 7).

==============  =============================================  ==========================================
name            HR folder under ``root`` (first that exists)   LR folder (×s; made on the fly if absent)
==============  =============================================  ==========================================
Set5            ``Set5/HR``, ``benchmark/Set5/HR``, ``Set5``   ``…/LR_bicubic/X{s}``
Set14           same pattern                                   same pattern
BSD100          ``BSD100/…`` or ``B100/…``                     same pattern
Urban100        same pattern                                   same pattern
DIV2K-valid     ``DIV2K/DIV2K_valid_HR``                       ``DIV2K/DIV2K_valid_LR_bicubic/X{s}``
DIV2K-train     ``DIV2K/DIV2K_train_HR``                       ``DIV2K/DIV2K_train_LR_bicubic/X{s}``
Flickr2K        ``Flickr2K/Flickr2K_HR``                       ``Flickr2K/Flickr2K_LR_bicubic/X{s}``
DF2K            DIV2K-train + Flickr2K                         (both)
CelebA-train    ``CelebA/train/HR`` (160×160 faces)            ``CelebA/train/LR_bicubic/X{s}``
CelebA-val      ``CelebA/val/HR``                              ``CelebA/val/LR_bicubic/X{s}``
CelebA-test     ``CelebA/test/HR``                             ``CelebA/test/LR_bicubic/X{s}``
==============  =============================================  ==========================================

``root`` defaults to :func:`~hcflow_lite.data.default_data_root` (``$HCFLOW_DATA``).  The
download scripts in the repository's ``data/`` folder create exactly these layouts.  A missing
dataset raises :class:`~hcflow_lite.data.DatasetNotFoundError` saying which folders were
searched and which script downloads it.  Benchmarks are evaluated on whole images, HR
mod-cropped to a multiple of the scale (:func:`benchmark_dataset`).
Set5 also ships inside the package (``hcflow_lite/data/benchmarks/Set5``, HR and MATLAB ×4 LR):
it is used whenever the data root has no Set5 of its own, so evaluations on Set5 need no download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import ConcatDataset, Dataset

from .datasets import PairedDataset
from .folders import DatasetNotFoundError, default_data_root

__all__ = [
    "BENCHMARKS",
    "DATASETS",
    "PACKAGED_BENCHMARKS",
    "PACKAGED_ROOT",
    "DatasetLayout",
    "benchmark_dataset",
    "get_dataset",
    "resolve_dataset_dirs",
]


@dataclass(frozen=True)
class DatasetLayout:
    """Where a dataset's HR and LR folders are found under a data root."""

    name: str
    hr: tuple[str, ...]
    lr: tuple[str, ...]
    how_to_get: str
    benchmark: bool = False


def _bench(name: str, *folders: str) -> DatasetLayout:
    hr, lr = [], []
    for f in folders:
        hr += [f"{f}/HR", f"benchmark/{f}/HR"]
        lr += [f"{f}/LR_bicubic/X{{s}}", f"benchmark/{f}/LR_bicubic/X{{s}}"]
    hr += list(folders)  # images directly in <root>/<name>/ (e.g. tests/data/Set5)
    return DatasetLayout(
        name,
        tuple(hr),
        tuple(lr),
        "download Set5, Set14, BSD100 and Urban100 with `python data/download_benchmarks.py --root {root}` "
        "(the EDSR benchmark archive, about 250 MB)",
        benchmark=True,
    )


def _celeba(split: str) -> DatasetLayout:
    return DatasetLayout(
        f"CelebA-{split}",
        (f"CelebA/{split}/HR",),
        (f"CelebA/{split}/LR_bicubic/X{{s}}",),
        "CelebA cannot be downloaded automatically (its licence asks you to fetch it yourself): get the "
        "in-the-wild images and landmarks from the CelebA website, then run "
        "`python data/prepare_celeba.py --src <celeba folder> --root {root}` (160×160 faces)",
    )


_DIV2K = "download DIV2K with `python data/download_div2k.py --root {root}` (train HR 3.5 GB, valid HR 0.4 GB)"

DATASETS: dict[str, DatasetLayout] = {
    "Set5": _bench("Set5", "Set5"),
    "Set14": _bench("Set14", "Set14"),
    "BSD100": _bench("BSD100", "BSD100", "B100"),
    "Urban100": _bench("Urban100", "Urban100"),
    "DIV2K-valid": DatasetLayout(
        "DIV2K-valid",
        ("DIV2K/DIV2K_valid_HR", "DIV2K_valid_HR"),
        ("DIV2K/DIV2K_valid_LR_bicubic/X{s}", "DIV2K_valid_LR_bicubic/X{s}"),
        _DIV2K,
        benchmark=True,
    ),
    "DIV2K-train": DatasetLayout(
        "DIV2K-train",
        ("DIV2K/DIV2K_train_HR", "DIV2K_train_HR"),
        ("DIV2K/DIV2K_train_LR_bicubic/X{s}", "DIV2K_train_LR_bicubic/X{s}"),
        _DIV2K,
    ),
    "Flickr2K": DatasetLayout(
        "Flickr2K",
        ("Flickr2K/Flickr2K_HR", "Flickr2K_HR"),
        ("Flickr2K/Flickr2K_LR_bicubic/X{s}", "Flickr2K_LR_bicubic/X{s}"),
        "download Flickr2K with `python data/download_flickr2k.py --root {root}` (about 20 GB)",
    ),
    "CelebA-train": _celeba("train"),
    "CelebA-val": _celeba("val"),
    "CelebA-test": _celeba("test"),
}
BENCHMARKS = tuple(k for k, v in DATASETS.items() if v.benchmark)
#: benchmark sets shipped inside the package (``hcflow_lite/data/benchmarks/<name>``: HR and MATLAB ×4 LR),
#: used when the data root has no copy of their own, so that Set5 evaluations work offline and from a wheel
PACKAGED_ROOT = Path(__file__).resolve().parent / "benchmarks"
PACKAGED_BENCHMARKS = ("Set5",)
_ALIASES = {"b100": "BSD100", "bsds100": "BSD100", "div2k": "DIV2K-valid", "div2k_valid": "DIV2K-valid",
            "div2k-val": "DIV2K-valid", "div2k_train": "DIV2K-train", "celeba": "CelebA-test"}


def _canonical(name: str) -> str:
    lower = {k.lower(): k for k in [*DATASETS, "DF2K"]}
    key = name.strip().lower()
    if key in lower:
        return lower[key]
    if key in _ALIASES:
        return _ALIASES[key]
    raise KeyError(f"unknown dataset {name!r}; known: {', '.join([*DATASETS, 'DF2K'])}")


def resolve_dataset_dirs(name: str, root: str | Path | None = None, scale: int = 4) -> tuple[Path, Path | None]:
    """``(hr_dir, lr_dir)`` of a named dataset under ``root``; ``lr_dir`` is ``None`` when absent.

    Set5 is also shipped inside the package (:data:`PACKAGED_ROOT`): when ``root`` holds no
    Set5, that copy is used (the same images, with their MATLAB ×4 LR files).

    Raises:
        DatasetNotFoundError: no HR folder of the layout exists; the message lists the folders
            searched and how to get the data.
    """
    layout = DATASETS[_canonical(name)]
    base = Path(root).expanduser() if root is not None else default_data_root()
    hr_dir = next((base / c for c in layout.hr if (base / c).is_dir()), None)
    if hr_dir is None and layout.name in PACKAGED_BENCHMARKS:  # Set5 ships with the package
        base = PACKAGED_ROOT
        hr_dir = next((base / c for c in layout.hr if (base / c).is_dir()), None)
    if hr_dir is None:
        tried = ", ".join(str(base / c) for c in layout.hr[:3])
        raise DatasetNotFoundError(
            f"dataset {layout.name} not found under {base} (looked for {tried}"
            f"{' …' if len(layout.hr) > 3 else ''}). To get it, {layout.how_to_get.format(root=base)}; "
            f"or pass root=… (or set HCFLOW_DATA) to the folder that holds it."
        )
    lr_dir = next((base / c.format(s=scale) for c in layout.lr if (base / c.format(s=scale)).is_dir()), None)
    return hr_dir, lr_dir


def get_dataset(
    name: str,
    root: str | Path | None = None,
    scale: int = 4,
    patch_size: int | None = None,
    augment: bool = False,
    *,
    use_lr_files: bool = True,
    **kwargs: Any,
) -> Dataset:
    """A named dataset (see the module table) as a :class:`PairedDataset`.

    ``DF2K`` is DIV2K-train followed by Flickr2K (a ``ConcatDataset``).  ``use_lr_files=False``
    ignores stored LR images and makes them on the fly.  Other keyword arguments go to
    :class:`PairedDataset` (``mod``, ``repeat``, ``cache`` …).
    """
    canonical = _canonical(name)
    if canonical == "DF2K":
        parts = [get_dataset(n, root, scale, patch_size, augment, use_lr_files=use_lr_files, **kwargs)
                 for n in ("DIV2K-train", "Flickr2K")]
        return ConcatDataset(parts)
    hr_dir, lr_dir = resolve_dataset_dirs(canonical, root, scale)
    layout = DATASETS[canonical]
    base = Path(root).expanduser() if root is not None else default_data_root()
    hint = f"To get {layout.name}, {layout.how_to_get.format(root=base)}."
    return PairedDataset(
        hr_dir,
        lr_dir if use_lr_files else None,
        scale,
        patch_size,
        augment,
        name=canonical,
        hint=hint,
        **kwargs,
    )


def benchmark_dataset(
    name: str, root: str | Path | None = None, scale: int = 4, *, mod: int | None = None, **kwargs: Any
) -> PairedDataset:
    """Set5, Set14, BSD100, Urban100 or DIV2K-valid: whole images, HR mod-cropped to ``mod`` (= scale).

    The stored MATLAB LR files (``LR_bicubic/X{scale}``) are used when present, else the LR is
    made with :func:`~hcflow_lite.data.imresize` (which reproduces them).  SRFlow evaluates
    DIV2K-valid mod-cropped to 8 for both ×4 and ×8 (``mod=8``), so that the two scales see the
    same HR pixels.
    """
    canonical = _canonical(name)
    if not DATASETS.get(canonical, DatasetLayout("", (), (), "")).benchmark:
        raise ValueError(f"{name!r} is not an evaluation set; benchmarks: {', '.join(BENCHMARKS)}")
    ds = get_dataset(canonical, root, scale, None, False, mod=mod, **kwargs)
    assert isinstance(ds, PairedDataset)
    return ds
