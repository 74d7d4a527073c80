"""Small pretrained checkpoints shipped with the package, loadable by name (book part II).

``hcflow_lite/pretrained/<name>.pt`` with a ``<name>.json`` beside it describing how it was
trained (the command, the wall time and the machine, the Set5 numbers, the training logs);
``load_checkpoint("rescale_x4-lite")`` finds them.  The names are those of the configs that
made them (``sr_x4-lite``, ``sr_x4_plus-lite``, …, ``rescale_x4-lite``; see
:mod:`hcflow_lite.experiments`), and ``ci/train_pretrained.py`` (in the repository) trains
them all, in order.

Folders listed in ``$HCFLOW_PRETRAINED`` (separated by ``os.pathsep``) are searched before the
package's own folder, so checkpoints trained elsewhere can be tried without copying them into
the package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["PRETRAINED_DIR", "available_pretrained", "pretrained_dirs", "pretrained_info", "pretrained_path"]

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


def pretrained_dirs() -> list[Path]:
    """Where shipped checkpoints are looked for: ``$HCFLOW_PRETRAINED`` folders first, then the package's."""
    extra = [Path(p).expanduser() for p in os.environ.get("HCFLOW_PRETRAINED", "").split(os.pathsep) if p]
    return [*extra, PRETRAINED_DIR]


def available_pretrained() -> list[str]:
    """Names of the shipped checkpoints (in any of :func:`pretrained_dirs`)."""
    return sorted({p.stem for d in pretrained_dirs() if d.is_dir() for p in d.glob("*.pt")})


def _find(name: str, suffix: str) -> Path | None:
    for folder in pretrained_dirs():
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint; a clear error lists the available names."""
    path = _find(name, ".pt")
    if path is None:
        have = ", ".join(available_pretrained()) or "none"
        raise FileNotFoundError(
            f"no checkpoint file {name!r} and no shipped checkpoint of that name (shipped: {have}; "
            "`python ci/train_pretrained.py` trains them)"
        )
    return path


def pretrained_info(name: str) -> dict[str, Any]:
    """The JSON record written when the shipped checkpoint was trained (``{}`` if there is none).

    Read from the folder that holds ``<name>.pt``, so a checkpoint and its record always match.
    """
    pt = _find(name, ".pt")
    path = pt.with_suffix(".json") if pt is not None else _find(name, ".json")
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}
