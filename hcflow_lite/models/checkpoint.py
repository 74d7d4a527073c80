"""``hcflow_lite``'s own checkpoint format: weights plus the config and version that made them.

A checkpoint is a plain dictionary saved with ``torch.save`` and read with
``torch.load(weights_only=True)`` (no pickled code is ever executed)::

    {"format": "hcflow_lite", "version": "0.1.0", "config": {...}, "state_dict": {...},
     "meta": {...}}                       # plus, for training checkpoints, optimiser state etc.

:func:`save_checkpoint` writes atomically (a temporary file, then a rename), so a killed
process never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .config import HCFlowConfig
from .hcflow import HCFlow, build_model
from .official import CheckpointMismatchError

__all__ = ["atomic_save", "load_checkpoint", "read_checkpoint", "save_checkpoint"]

FORMAT = "hcflow_lite"


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(model: HCFlow, path: str | Path, meta: Mapping[str, Any] | None = None, **extra: Any) -> Path:
    """Save ``model`` (weights, config, package version) and optional ``meta``/``extra`` entries."""
    from .. import __version__

    payload = {
        "format": FORMAT,
        "version": __version__,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
        **extra,
    }
    return atomic_save(payload, path)


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read and validate an ``hcflow_lite`` checkpoint file (clear errors for anything else)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointMismatchError(f"cannot read checkpoint {path} (corrupt or not a torch file): {type(e).__name__}: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        if isinstance(ckpt, dict) and any(str(k).startswith(("flow.", "module.flow.")) for k in ckpt):
            raise CheckpointMismatchError(
                f"{path} is an official HCFlow checkpoint: load it with hcflow_lite.load_official(path, options)"
            )
        raise CheckpointMismatchError(f"{path} is not an hcflow_lite checkpoint (no 'format': 'hcflow_lite' entry)")
    for key in ("config", "state_dict"):
        if key not in ckpt:
            raise CheckpointMismatchError(f"{path} has no {key!r} entry")
    return ckpt


def load_checkpoint(
    source: str | Path,
    map_location: Any = "cpu",
    expect_task: str | None = None,
) -> HCFlow:
    """Load a model from one of our checkpoints (path, or the name of a shipped one).

    The model comes back in eval mode with its ActNorms initialised.  ``expect_task``
    (``"sr"``/``"rescaling"``) turns a checkpoint of the other task into a clear error.
    """
    path = Path(source)
    if not path.is_file() and not str(source).endswith(".pt"):
        from ..pretrained import pretrained_path

        path = pretrained_path(str(source))
    ckpt = read_checkpoint(path, map_location)
    config = HCFlowConfig.from_dict(ckpt["config"])
    if expect_task is not None and config.task != expect_task:
        raise CheckpointMismatchError(f"{path} holds a {config.task} model, but a {expect_task} model is needed")
    model = build_model(config)
    missing, unexpected = model.load_state_dict(ckpt["state_dict"], strict=False)
    if missing or unexpected:
        raise CheckpointMismatchError(
            f"{path} does not fit its own config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.mark_initialized(True)
    return model.eval()
