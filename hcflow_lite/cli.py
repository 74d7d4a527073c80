"""The ``hcflow-lite`` / ``python -m hcflow_lite`` command line.

Each sub-command lives in its own module ``hcflow_lite/commands/<name>.py`` exposing
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; this file only
dispatches, so sub-commands can be read (and added) one at a time.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import __version__, commands

__all__ = ["main", "build_parser"]


def _command_modules() -> dict[str, object]:
    mods = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mods[info.name.replace("_", "-")] = importlib.import_module(f"{commands.__name__}.{info.name}")
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hcflow_lite",
        description="HCFlow for super-resolution and image rescaling (the HCFlow companion book's library).",
    )
    parser.add_argument("--version", action="version", version=f"hcflow_lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _command_modules().items():
        p = sub.add_parser(name, help=getattr(mod, "HELP", ""), description=getattr(mod, "__doc__", None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)  # type: ignore[attr-defined]
        p.set_defaults(_run=mod.run)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, OSError) as e:  # user errors: one clear line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
