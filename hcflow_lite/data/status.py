"""Which of the paper's datasets are present, and how to get the others (book chapter 7).

:func:`dataset_status` looks for every dataset of :data:`~hcflow_lite.data.DATASETS` under a data
root and says, for each, where it is and how many HR images it holds, or which command fetches
it; :func:`status_table` renders that as a Markdown table.  :func:`fetch_dataset` downloads and
installs the ones a script can download (the benchmarks, DIV2K, Flickr2K) with the same
functions as the scripts in the repository's ``data/`` folder, so that a notebook on Colab needs
no clone of the repository.  CelebA cannot be downloaded by a script (its licence asks you to
fetch it yourself); :func:`~hcflow_lite.data.celeba.prepare_celeba` prepares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .download import DIV2K_FILES, SOURCES, download, install_benchmarks, install_div2k, install_flickr2k
from .folders import DatasetNotFoundError, default_data_root, list_images
from .registry import DATASETS, PACKAGED_ROOT, resolve_dataset_dirs

__all__ = ["FETCHABLE", "DatasetStatus", "dataset_status", "fetch_dataset", "status_table"]

#: what :func:`fetch_dataset` can download → the datasets it installs
FETCHABLE: dict[str, tuple[str, ...]] = {
    "benchmarks": ("Set5", "Set14", "BSD100", "Urban100"),
    "DIV2K": ("DIV2K-train", "DIV2K-valid"),
    "Flickr2K": ("Flickr2K",),
}


@dataclass(frozen=True)
class DatasetStatus:
    """One dataset under a data root: found or not, where, how many HR images, how to get it."""

    name: str
    found: bool
    hr_dir: Path | None
    lr_dir: Path | None
    images: int
    how_to_get: str
    packaged: bool = False


def dataset_status(root: str | Path | None = None, scale: int = 4, names: list[str] | None = None) -> list[DatasetStatus]:
    """The status of each named dataset (default: all of :data:`DATASETS`) under ``root``.

    ``root`` defaults to :func:`~hcflow_lite.data.default_data_root`.  Set5 found only in the
    package's own copy is reported as ``packaged``.
    """
    base = Path(root).expanduser() if root is not None else default_data_root()
    out = []
    for name in names or list(DATASETS):
        layout = DATASETS[name]
        how = layout.how_to_get.format(root=base)
        try:
            hr_dir, lr_dir = resolve_dataset_dirs(name, base, scale)
            n = len(list_images(hr_dir))
            packaged = PACKAGED_ROOT in hr_dir.parents
            out.append(DatasetStatus(name, True, hr_dir, lr_dir, n, how, packaged))
        except DatasetNotFoundError:
            out.append(DatasetStatus(name, False, None, None, 0, how))
    return out


def _command(how_to_get: str) -> str:
    """The first `command` quoted in a layout's instructions (the whole text if there is none)."""
    parts = how_to_get.split("`")
    return f"`{parts[1]}`" if len(parts) >= 3 else how_to_get


def status_table(rows: list[DatasetStatus], root: str | Path | None = None) -> str:
    """A Markdown table: dataset, HR images found, where (relative to ``root``), or the command that gets it."""
    base = Path(root).expanduser() if root is not None else default_data_root()
    lines = ["| dataset | HR images | where, or how to get it |", "|---|---|---|"]
    for r in rows:
        if r.found and r.hr_dir is not None:
            if r.packaged:
                where = "the copy shipped inside `hcflow_lite`"
            else:
                where = f"`{r.hr_dir.relative_to(base) if r.hr_dir.is_relative_to(base) else r.hr_dir}`"
            where += ", with the MATLAB LR files" if r.lr_dir is not None else ", LR made on the fly"
            lines.append(f"| {r.name} | {r.images} | {where} |")
        else:
            lines.append(f"| {r.name} | missing | {_command(r.how_to_get)} |")
    return "\n".join(lines)


def fetch_dataset(name: str, root: str | Path | None = None, *, keep_archives: bool = False) -> dict[str, int]:
    """Download and install ``"benchmarks"``, ``"DIV2K"`` or ``"Flickr2K"`` into ``root`` (skipped if present).

    Returns image counts per installed folder.  Archives go to ``<root>/.downloads`` (a partial
    download resumes) and are deleted once installed unless ``keep_archives``.  Sizes: benchmarks
    250 MB, DIV2K 4 GB (train HR, valid HR, valid LR ×4), Flickr2K 20 GB.
    """
    if name not in FETCHABLE:
        raise ValueError(
            f"cannot fetch {name!r}: fetchable are {', '.join(FETCHABLE)}"
            + (" (CelebA must be downloaded by hand: see hcflow_lite.data.celeba.prepare_celeba)" if "celeba" in name.lower() else "")
        )
    base = Path(root).expanduser() if root is not None else default_data_root()
    present = [s for s in dataset_status(base, names=list(FETCHABLE[name])) if s.found and not s.packaged]
    if len(present) == len(FETCHABLE[name]):
        return {s.name: s.images for s in present}
    downloads = base / ".downloads"
    if name == "benchmarks":
        archives = [download(SOURCES["benchmarks"].url, downloads / "benchmark.tar")]
        counts = install_benchmarks(archives[0], base)
    elif name == "DIV2K":
        archives = [download(DIV2K_FILES[p].url, downloads / Path(DIV2K_FILES[p].url).name)
                    for p in ("train_HR", "valid_HR", "valid_LR_bicubic_X4")]
        counts = install_div2k(archives, base)
    else:
        archives = [download(SOURCES["flickr2k"].url, downloads / "Flickr2K.tar")]
        counts = install_flickr2k(archives[0], base)
    if not keep_archives:
        for a in archives:
            Path(a).unlink(missing_ok=True)
    return counts
