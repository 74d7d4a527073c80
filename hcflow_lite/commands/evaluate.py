"""Evaluate a checkpoint (or the bicubic baseline) on a dataset: PSNR/SSIM (RGB and Y), LPIPS,
diversity, consistency, LR-PSNR, per image and on average, as the paper's Tables 2–4.

Examples::

    python -m hcflow_lite evaluate --checkpoint sr_x4-lite --dataset Set5 --temperature 0 0.9 --samples 3 --out sr.json
    python -m hcflow_lite evaluate --checkpoint bicubic --task rescaling --hr-dir Set5/HR --scale 4 --out bicubic.json
    python -m hcflow_lite evaluate --checkpoint SR_DF2K_X4_HCFlow.pth --options test_SR_DF2K_4X_HCFlow.yml \\
        --hr-dir DIV2K/DIV2K_valid_HR --lr-dir DIV2K/DIV2K_valid_LR_bicubic/X4 --out div2k.json

Writes the JSON (``mean``, ``runs``, ``images``, settings) and a Markdown table beside it
(``results.md``), and prints the table.
"""

from __future__ import annotations

import argparse
import sys

HELP = "evaluate a checkpoint or bicubic on a dataset (PSNR/SSIM/LPIPS/diversity/LR-PSNR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="our checkpoint (path or shipped name), an official .pth (with --options), or 'bicubic'")
    parser.add_argument("--options", help="official option file (.yml/.json) for an official checkpoint")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--hr-dir", help="folder of HR images")
    src.add_argument("--dataset", help="a named dataset: Set5, Set14, BSD100, Urban100, DIV2K-valid, CelebA-test …")
    parser.add_argument("--lr-dir", help="folder of the matching LR images (default: MATLAB bicubic on the fly)")
    parser.add_argument("--data-root", help="root of the named datasets (default: $HCFLOW_DATA or ~/.cache/hcflow_lite/data)")
    parser.add_argument("--scale", type=int, help="SR factor (default: the model's; needed for bicubic)")
    parser.add_argument("--task", choices=["sr", "rescaling"], help="for bicubic: SR (bicubic up) or rescaling (down & up)")
    parser.add_argument("--mod", type=int, help="mod-crop HR images to a multiple of this (default: the scale)")
    parser.add_argument("--temperature", type=float, nargs="+", metavar="T",
                        help="temperatures τ (default: official test values: SR 0 0.9, faces 0 0.8, rescaling 1.0)")
    parser.add_argument("--samples", type=int, default=1, help="SR samples per image and temperature (diversity needs ≥ 2)")
    parser.add_argument("--out", default="results.json", help="output JSON (a .md table is written beside it)")
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu", help="cpu, cuda, cuda:1 …")
    parser.add_argument("--lpips", choices=["auto", "yes", "no"], default="auto",
                        help="auto: if the AlexNet weights are cached; yes: required (may download); no: skip")
    parser.add_argument("--y-convention", choices=["matlab", "float"], default="matlab",
                        help="Y rounded to 8 bits (MATLAB, the published tables) or not (test_HCFlow.py)")
    parser.add_argument("--max-images", type=int, help="only the first N images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-images", metavar="DIR", help="also write the SR images (and generated LR) here")
    parser.add_argument("--label", help="the model's name in the table")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


def _load_model(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..models import CheckpointMismatchError, load_checkpoint, load_official

    if args.checkpoint == "bicubic":
        if args.options:
            raise ValueError("--options is for official checkpoints, not for bicubic")
        return "bicubic"
    if args.options:
        return load_official(args.checkpoint, args.options)
    try:
        return load_checkpoint(args.checkpoint)
    except CheckpointMismatchError as e:
        if "official" in str(e):
            raise CheckpointMismatchError(f"{e} — on the command line: add --options <official .yml>") from e
        raise


def run(args: argparse.Namespace) -> int:
    from ..data import PairedDataset, benchmark_dataset, get_dataset
    from ..data.registry import BENCHMARKS, _canonical
    from ..evaluate import evaluate, format_table, save_results

    model = _load_model(args)
    scale = args.scale if model == "bicubic" else model.scale
    if scale is None:
        raise ValueError("--scale is needed for the bicubic baseline")
    if args.hr_dir:
        dataset = PairedDataset(args.hr_dir, args.lr_dir, scale, mod=args.mod)
    else:
        if args.lr_dir:
            raise ValueError("--lr-dir goes with --hr-dir, not with --dataset")
        name = _canonical(args.dataset)
        if name in BENCHMARKS:
            dataset = benchmark_dataset(name, args.data_root, scale, mod=args.mod)
        else:
            dataset = get_dataset(name, args.data_root, scale, mod=args.mod)
    results = evaluate(
        model,
        dataset,
        args.temperature,
        args.samples,
        task=args.task,
        scale=scale,
        lpips={"auto": "auto", "yes": True, "no": False}[args.lpips],
        y_convention=args.y_convention,
        device=args.device,
        seed=args.seed,
        max_images=args.max_images,
        progress=not args.quiet,
        save_images=args.save_images,
        label=args.label,
    )
    json_path, md_path = save_results(results, args.out)
    print(format_table(results))
    if not results["lpips"]["available"] and args.lpips == "auto":
        print(f"note: LPIPS not computed: {results['lpips']['reason']}", file=sys.stderr)
    print(f"wrote {json_path} and {md_path}")
    return 0
