#!/usr/bin/env python
"""Download Set5, Set14, BSD100 and Urban100 (HR + MATLAB-bicubic LR ×2/×3/×4) into a data root.

    python data/download_benchmarks.py                       # into $HCFLOW_DATA or ~/.cache/hcflow_lite/data
    python data/download_benchmarks.py --root /content/data  # Colab
    python data/download_benchmarks.py --archive benchmark.tar   # an archive you downloaded yourself

Result: <root>/<Set>/HR/*.png and <root>/<Set>/LR_bicubic/X4/*x4.png, the layout that
hcflow_lite.data.benchmark_dataset("Set14", root) and `python -m hcflow_lite evaluate --dataset Set14`
read.  Source: the EDSR benchmark archive (about 250 MB); see data/README.md for licences.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import hcflow_lite  # noqa: F401
except ImportError:  # run from a clone without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcflow_lite.data import benchmark_dataset, default_data_root
from hcflow_lite.data.download import SOURCES, download, install_benchmarks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    p.add_argument("--archive", type=Path, help="use this benchmark archive instead of downloading it")
    p.add_argument("--url", default=SOURCES["benchmarks"].url, help="download URL (default: %(default)s)")
    p.add_argument("--keep-archive", action="store_true", help="keep the downloaded archive")
    args = p.parse_args(argv)
    archive = args.archive
    if archive is None:
        print(f"downloading {args.url} ({SOURCES['benchmarks'].size}) — {SOURCES['benchmarks'].licence}")
        archive = download(args.url, args.root / ".downloads" / Path(args.url).name)
    counts = install_benchmarks(archive, args.root)
    for name, n in counts.items():
        ds = benchmark_dataset(name, args.root, 4)
        print(f"{name:9s} {n:4d} HR images in {ds.hr_dir}, ×4 LR: {ds.lr_source}")
    if args.archive is None and not args.keep_archive:
        Path(archive).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
