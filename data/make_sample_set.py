#!/usr/bin/env python
"""Build the small offline sample set (images shipped with scikit-image and matplotlib).

    python data/make_sample_set.py [--root ROOT] [--rebuild]

No download: about 10 MB, 5–10 s.  hcflow_lite.data.sample_set() does the same on first use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import hcflow_lite  # noqa: F401
except ImportError:  # run from a clone without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcflow_lite.data import sample_set


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, help="where to build it (default: <data root>/sample-v1)")
    p.add_argument("--rebuild", action="store_true")
    args = p.parse_args(argv)
    root = sample_set(args.root, rebuild=args.rebuild, progress=True)
    manifest = json.loads((root / "manifest.json").read_text())
    print(f"sample set v{manifest['version']} in {root}: " + ", ".join(f"{k} {v}" for k, v in manifest["counts"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
