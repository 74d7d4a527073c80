#!/usr/bin/env python
"""Prepare CelebA faces for ×8 face SR as SRFlow/HCFlow do: aligned 160×160 HR, 20×20 MATLAB-bicubic LR.

CelebA cannot be downloaded by a script (its licence asks you to get it yourself): from the
CelebA website download the in-the-wild images (img_celeba.7z; `7z x img_celeba.7z.001`) or
the aligned ones (img_align_celeba.zip), plus list_landmarks_celeba.txt (or
list_landmarks_align_celeba.txt) and list_eval_partition.txt, into one folder SRC.  Then

    python data/prepare_celeba.py --src SRC                    # all 202,599 faces (hours on a CPU)
    python data/prepare_celeba.py --src SRC --splits val test --limit 100   # a small evaluation set

writes <root>/CelebA/{train,val,test}/HR/000001.png (160×160) and LR_bicubic/X8/ (20×20), read
by get_dataset("CelebA-train") and `python -m hcflow_lite evaluate --dataset CelebA-test`.
Interrupted runs resume.  For HD-CelebA-Cropper's exact geometry pass its 68-point files:
--landmarks landmark.txt --template standard_landmark_68pts.txt --move-h 0.25.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import hcflow_lite  # noqa: F401
except ImportError:  # run from a clone without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from hcflow_lite.data import default_data_root
from hcflow_lite.data.celeba import prepare_celeba


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", type=Path, required=True, help="folder with img_celeba/ (or img_align_celeba/) and the annotation files")
    p.add_argument("--root", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    p.add_argument("--size", type=int, default=160, help="HR size (default 160)")
    p.add_argument("--scales", type=int, nargs="+", default=[8], help="LR factors to write (default 8)")
    p.add_argument("--crop-size", type=int, default=640)
    p.add_argument("--face-factor", type=float, default=0.6)
    p.add_argument("--move-h", type=float, default=0.12)
    p.add_argument("--images", type=Path, help="image folder (default: SRC/img_celeba or SRC/img_align_celeba)")
    p.add_argument("--landmarks", type=Path, help="landmark file (default: CelebA's, matching the image folder)")
    p.add_argument("--template", type=Path, help="standard landmarks, one 'x y' per point (default: our 5-point face)")
    p.add_argument("--partition", type=Path, help="list_eval_partition.txt (default: found in SRC)")
    p.add_argument("--splits", nargs="+", default=["train", "val", "test"], choices=["train", "val", "test"])
    p.add_argument("--limit", type=int, help="at most N faces per split")
    args = p.parse_args(argv)
    template = np.loadtxt(args.template).reshape(-1, 2) if args.template else None
    counts = prepare_celeba(
        args.src, args.root, size=args.size, scales=args.scales, crop_size=args.crop_size,
        face_factor=args.face_factor, move_h=args.move_h, images_dir=args.images, landmark_file=args.landmarks,
        partition_file=args.partition, template=template, splits=args.splits, limit=args.limit,
    )
    for split, n in counts.items():
        print(f"{split:5s} {n:6d} faces in {args.root / 'CelebA' / split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
