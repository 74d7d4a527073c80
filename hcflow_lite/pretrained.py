"""Small pretrained checkpoints shipped with the package, loadable by name (book part II).

``hcflow_lite/pretrained/<name>.pt`` with a ``<name>.json`` beside it describing how it was
trained (command, time, Set5 numbers).  ``load_checkpoint("rescale_x4-lite")`` finds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["PRETRAINED_DIR", "available_pretrained", "pretrained_info", "pretrained_path"]

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


def available_pretrained() -> list[str]:
    """Names of the shipped checkpoints."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint; a clear error lists the available names."""
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.is_file():
        have = ", ".join(available_pretrained()) or "none"
        raise FileNotFoundError(f"no checkpoint file {name!r} and no shipped checkpoint of that name (shipped: {have})")
    return path


def pretrained_info(name: str) -> dict[str, Any]:
    """The JSON record written when the shipped checkpoint was trained."""
    path = PRETRAINED_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}
