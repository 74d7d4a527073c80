#!/usr/bin/env python
"""Download DIV2K (800 train + 100 validation 2K images, and the MATLAB-bicubic ×4 LR) into a data root.

    python data/download_div2k.py                                  # train HR, valid HR, valid LR ×4
    python data/download_div2k.py --parts valid_HR valid_LR_bicubic_X4   # only the evaluation set
    python data/download_div2k.py --archive DIV2K_valid_HR.zip     # zips you downloaded yourself

Result: <root>/DIV2K/DIV2K_train_HR/0001.png …, <root>/DIV2K/DIV2K_valid_HR/0801.png …,
<root>/DIV2K/DIV2K_valid_LR_bicubic/X4/0801x4.png …, read by get_dataset("DIV2K-train") and
benchmark_dataset("DIV2K-valid").  Training LR is made on the fly, so train LR is optional.
DIV2K is for academic research only (see the DIV2K website and data/README.md).
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
from hcflow_lite.data.download import DIV2K_FILES, download, install_div2k


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    p.add_argument("--parts", nargs="+", choices=sorted(DIV2K_FILES), default=["train_HR", "valid_HR", "valid_LR_bicubic_X4"])
    p.add_argument("--archive", type=Path, nargs="+", help="use these DIV2K zips instead of downloading")
    p.add_argument("--keep-archives", action="store_true")
    args = p.parse_args(argv)
    archives = args.archive
    if archives is None:
        archives = []
        for part in args.parts:
            src = DIV2K_FILES[part]
            print(f"downloading {src.url} ({src.size})")
            archives.append(download(src.url, args.root / ".downloads" / Path(src.url).name))
        print(DIV2K_FILES[args.parts[0]].licence)
    for folder, n in install_div2k(archives, args.root).items():
        print(f"{n:5d} images in {args.root / 'DIV2K' / folder}")
    if args.archive is None and not args.keep_archives:
        for a in archives:
            Path(a).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
