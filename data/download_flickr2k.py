#!/usr/bin/env python
"""Download Flickr2K (2,650 2K images; DIV2K + Flickr2K = DF2K, the paper's training set).

    python data/download_flickr2k.py [--root ROOT] [--archive Flickr2K.tar]

Result: <root>/Flickr2K/Flickr2K_HR/000001.png … (and the LR folders of the archive), read by
get_dataset("Flickr2K") and get_dataset("DF2K").  About 20 GB; research use (data/README.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import hcflow_lite  # noqa: F401
except ImportError:  # run from a clone without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcflow_lite.data import default_data_root
from hcflow_lite.data.download import SOURCES, download, install_flickr2k


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    p.add_argument("--archive", type=Path, help="use this Flickr2K.tar instead of downloading it")
    p.add_argument("--url", default=SOURCES["flickr2k"].url)
    p.add_argument("--keep-archive", action="store_true")
    args = p.parse_args(argv)
    archive = args.archive
    if archive is None:
        print(f"downloading {args.url} ({SOURCES['flickr2k'].size}) — {SOURCES['flickr2k'].licence}")
        archive = download(args.url, args.root / ".downloads" / Path(args.url).name)
    for folder, n in install_flickr2k(archive, args.root).items():
        print(f"{n:5d} images in {args.root / folder}")
    if args.archive is None and not args.keep_archive:
        Path(archive).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
