"""Train HCFlow with one of the paper's recipes (or your own config).

Examples::

    python -m hcflow_lite train --config rescale_x4-lite --workdir runs/rescale_x4-lite
    python -m hcflow_lite train --config sr_x4_plus --workdir runs/sr_x4_plus --set data.root=/data
    python -m hcflow_lite train --config sr_x4-smoke --workdir runs/s --set schedule.iterations=50
    python -m hcflow_lite train --config sr_x4 --workdir runs/sr_x4 --resume auto   # continue a killed run
    torchrun --nproc_per_node 4 -m hcflow_lite train --config sr_x4 --workdir runs/sr_x4

Shipped configs: sr_x4, sr_x4_plus, sr_x4_plusplus, face_x8, face_x8_plus, face_x8_plusplus,
rescale_x4 (the paper), each also as NAME-lite (CPU, under an hour) and NAME-smoke (seconds).
The final model is written to WORKDIR/last.pt (``hcflow_lite.load_checkpoint`` reads it).
"""

from __future__ import annotations

import argparse
import sys

HELP = "train a model (paper recipes: sr_x4[_plus[plus]], face_x8[…], rescale_x4; -lite, -smoke)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=False, help="a shipped config name or a .yaml file")
    parser.add_argument("--workdir", help="folder for checkpoints, logs, samples and last.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", nargs="+",
                        help="override config values, e.g. --set data.batch_size=1 schedule.iterations=10")
    parser.add_argument("--resume", metavar="auto|PATH", help="continue from the newest checkpoint in --workdir "
                        "(auto; starts fresh if there is none) or from a given training checkpoint")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--list", action="store_true", help="list the shipped configs and exit")


def run(args: argparse.Namespace) -> int:
    from ..train import TrainingDiverged, available_configs, load_config, train

    if args.list:
        from ..train.config import _load_raw

        for name in available_configs():
            desc = str(_load_raw(name).get("description", "")).strip().splitlines()
            print(f"{name:24s} {desc[0] if desc else ''}")
        return 0
    if not args.config:
        raise ValueError("--config is required (a shipped name such as rescale_x4-lite, or a .yaml file; see --list)")
    overrides = [o for group in args.overrides for o in group]
    cfg = load_config(args.config, overrides)
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if not args.workdir:
        raise ValueError("--workdir is required (where checkpoints, logs and last.pt go)")
    try:
        result = train(cfg, args.workdir, resume=args.resume)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0 if result.last_checkpoint is not None or result.iteration > 0 else 1
