"""Download and install the paper's datasets into the layouts of :mod:`hcflow_lite.data.registry`.

Used by the scripts in the repository's ``data/`` folder (``download_benchmarks.py``,
``download_div2k.py``, ``download_flickr2k.py``); nothing here runs in tests against the
network.  Links of academic datasets rot (SRFlow#64), so every installer also accepts an
archive you downloaded yourself (``--archive``), and checks what it installed by counting
the images it expects.

* :func:`download`: HTTP(S) or ``file://`` to a file, with a progress bar, resuming a partial
  ``.part`` file, renamed into place only when complete.
* :func:`extract`: ``.zip``/``.tar``/``.tar.gz``, refusing members that would land outside the
  destination.
* :func:`install_benchmarks`, :func:`install_div2k`, :func:`install_flickr2k`: put the
  extracted folders where :func:`~hcflow_lite.data.benchmark_dataset` /
  :func:`~hcflow_lite.data.get_dataset` look, and verify the image counts.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .folders import list_images

__all__ = [
    "BENCHMARK_COUNTS",
    "DIV2K_FILES",
    "SOURCES",
    "Source",
    "download",
    "extract",
    "install_benchmarks",
    "install_div2k",
    "install_flickr2k",
]


@dataclass(frozen=True)
class Source:
    """One downloadable archive."""

    url: str
    size: str  # human-readable, for the messages
    licence: str


_DIV2K_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
_DIV2K_LICENCE = "DIV2K: for academic research only (see the DIV2K website)"
SOURCES: dict[str, Source] = {
    "benchmarks": Source(
        "https://cv.snu.ac.kr/research/EDSR/benchmark.tar", "250 MB",
        "Set5/Set14/BSD100/Urban100 as distributed with EDSR (academic benchmark use)",
    ),
    "flickr2k": Source(
        "https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar", "20 GB",
        "Flickr2K as distributed with EDSR (Flickr images under their owners' licences; research use)",
    ),
    **{
        f"div2k_{key}": Source(_DIV2K_URL + f"DIV2K_{key}.zip", size, _DIV2K_LICENCE)
        for key, size in [
            ("train_HR", "3.5 GB"),
            ("valid_HR", "0.4 GB"),
            ("train_LR_bicubic_X4", "0.25 GB"),
            ("valid_LR_bicubic_X4", "30 MB"),
            ("train_LR_bicubic_X2", "1 GB"),
            ("valid_LR_bicubic_X2", "0.1 GB"),
        ]
    },
}
DIV2K_FILES = {k[len("div2k_"):]: v for k, v in SOURCES.items() if k.startswith("div2k_")}
BENCHMARK_COUNTS = {"Set5": 5, "Set14": 14, "BSD100": 100, "Urban100": 100}
_BENCHMARK_ALIASES = {"B100": "BSD100", "BSDS100": "BSD100"}


# ------------------------------------------------------------------------------------ download
def download(url: str, dest: str | Path, progress: bool = True, chunk: int = 1 << 20) -> Path:
    """Fetch ``url`` to ``dest`` (resuming ``dest.part``; the final name appears only when complete)."""
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "hcflow_lite"})
    if have and not url.startswith("file:"):
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except OSError as e:
        raise OSError(
            f"cannot download {url}: {e}. If the link is dead or you are offline, download the archive "
            f"yourself and pass it with --archive PATH (see data/README.md)"
        ) from e
    with response:
        resumed = getattr(response, "status", 200) == 206
        if not resumed:
            have = 0
        total = response.headers.get("Content-Length")
        total_bytes = int(total) + have if total else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total_bytes, initial=have, unit="B", unit_scale=True, desc=dest.name)
        with part.open("ab" if resumed else "wb") as f:
            while True:
                block = response.read(chunk)
                if not block:
                    break
                f.write(block)
                if bar is not None:
                    bar.update(len(block))
        if bar is not None:
            bar.close()
    if total_bytes is not None and part.stat().st_size != total_bytes:
        raise OSError(f"download of {url} incomplete ({part.stat().st_size} of {total_bytes} bytes); run again to resume")
    part.replace(dest)
    return dest


# ------------------------------------------------------------------------------------ extract
def _safe(dest: Path, names: Iterable[str], archive: Path) -> None:
    root = dest.resolve()
    for name in names:
        target = (dest / name).resolve()
        if target != root and root not in target.parents:
            raise ValueError(f"refusing to extract {archive}: member {name!r} would be written outside {dest}")


def extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` archive into ``dest``."""
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"archive not found: {archive}")
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            _safe(dest, z.namelist(), archive)
            z.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = t.getmembers()
            _safe(dest, [m.name for m in members], archive)
            bad = [m.name for m in members if m.issym() or m.islnk() or m.isdev()]
            if bad:
                raise ValueError(f"refusing to extract {archive}: links or devices inside ({bad[0]})")
            if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4: also strips unsafe permissions
                t.extractall(dest, filter="data")
            else:  # pragma: no cover
                t.extractall(dest)
    else:
        raise ValueError(f"{archive} is not a zip or tar archive (truncated download?)")
    return dest


def _count(folder: Path) -> int:
    return len(list_images(folder)) if folder.is_dir() else 0


def _move(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dst))


# ------------------------------------------------------------------------------------ installers
def install_benchmarks(archive: str | Path, root: str | Path) -> dict[str, int]:
    """Install the EDSR ``benchmark.tar`` (or any archive with ``<Set>/HR`` folders) into ``root``.

    Result: ``root/<Set>/HR/*.png`` and ``root/<Set>/LR_bicubic/X{2,3,4,…}/*.png`` for Set5,
    Set14, BSD100 (``B100`` in the archive) and Urban100.  Returns the HR image count per set
    and raises ``ValueError`` if a set is missing or incomplete.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=root, prefix=".extract-") as tmp:
        extract(archive, tmp)
        hr_dirs = {p.parent.name: p.parent for p in Path(tmp).rglob("HR") if p.is_dir()}
        for found, folder in sorted(hr_dirs.items()):
            name = _BENCHMARK_ALIASES.get(found, found)
            if name not in BENCHMARK_COUNTS:
                continue
            _move(folder, root / name)
            counts[name] = _count(root / name / "HR")
    problems = [f"{n}: {counts.get(n, 0)} of {c} HR images" for n, c in BENCHMARK_COUNTS.items() if counts.get(n, 0) != c]
    if problems:
        raise ValueError(f"{archive} did not contain the expected benchmark sets ({'; '.join(problems)})")
    return counts


def install_div2k(archives: Iterable[str | Path], root: str | Path) -> dict[str, int]:
    """Extract DIV2K zips (``DIV2K_train_HR.zip`` …) into ``root/DIV2K/``; returns image counts per folder."""
    root = Path(root) / "DIV2K"
    counts = {}
    for archive in archives:
        extract(archive, root)
    expected = {"DIV2K_train_HR": 800, "DIV2K_valid_HR": 100}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        n = len([f for f in folder.iterdir() if f.suffix.lower() == ".png"])
        if n:
            counts[folder.relative_to(root).as_posix()] = n
    for name, n in expected.items():
        if name in counts and counts[name] != n:
            raise ValueError(f"{root / name} has {counts[name]} images, expected {n} (incomplete archive?)")
    return counts


def install_flickr2k(archive: str | Path, root: str | Path) -> dict[str, int]:
    """Extract ``Flickr2K.tar`` into ``root`` (``root/Flickr2K/Flickr2K_HR``, 2,650 images)."""
    root = Path(root)
    extract(archive, root)
    hr = root / "Flickr2K" / "Flickr2K_HR"
    n = _count(hr)
    if n != 2650:
        raise ValueError(f"{hr} has {n} images, expected 2650 (incomplete archive?)")
    return {"Flickr2K/Flickr2K_HR": n}
