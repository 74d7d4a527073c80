"""Print the package version, the named model configurations and their parameter counts."""

from __future__ import annotations

import argparse

HELP = "show the version, model configurations and shipped checkpoints"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", action="store_true", help="build each model to count its parameters")


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import __version__
    from ..models import MODEL_CONFIGS, build_model
    from ..pretrained import available_pretrained

    print(f"hcflow_lite {__version__}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    print("model configurations:")
    for name, cfg in MODEL_CONFIGS.items():
        extra = f"  {build_model(cfg).num_parameters():>12,d} parameters" if args.count else ""
        print(f"  {name:18s} task={cfg.task:9s} L={cfg.L} K={list(cfg.K)} P={list(cfg.P)}{extra}")
    print("shipped checkpoints:", ", ".join(available_pretrained()) or "none")
    return 0
