"""Training checkpoints: everything needed to continue a run exactly (book chapter 10).

A training checkpoint is an ordinary ``hcflow_lite`` checkpoint (``format``, ``config`` = the
model config, ``state_dict``; :func:`hcflow_lite.load_checkpoint` reads it) with one more
entry, ``train_state``:

* ``iteration`` — the last completed iteration;
* ``train_config`` — the run's full configuration (a dict);
* ``optimizers`` / ``schedule`` — the Adam states (and the discriminator's) and the schedule;
* ``discriminator`` — the discriminator's weights (HCFlow++);
* ``rng`` — the Python, NumPy, torch and CUDA generator states;
* ``sampler`` — seed and position of the data order;
* ``log`` — the running means of the current log interval; ``nonfinite`` — the guard's counters;
* ``grads`` — only with ``official_grad_leak``: the gradients the official code carries over.

Files are written atomically (temporary file, then rename) as
``<workdir>/checkpoints/iter_XXXXXXX.pt``; the newest ``keep`` are kept.
"""

from __future__ import annotations

import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models import CheckpointMismatchError, HCFlowConfig, read_checkpoint

__all__ = [
    "checkpoint_dir",
    "find_checkpoints",
    "get_rng_state",
    "load_training_checkpoint",
    "prune_checkpoints",
    "select_resume_checkpoint",
    "set_rng_state",
]

_NAME = re.compile(r"^iter_(\d+)\.pt$")


def checkpoint_dir(workdir: str | Path) -> Path:
    return Path(workdir) / "checkpoints"


def checkpoint_path(workdir: str | Path, iteration: int) -> Path:
    return checkpoint_dir(workdir) / f"iter_{iteration:07d}.pt"


def get_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) generator states, in a form ``torch.load(weights_only=True)`` reads."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - the global generator itself is what is saved, seeded or restored
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))  # noqa: NPY002 - the global generator itself is what is saved, seeded or restored
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def find_checkpoints(workdir: str | Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of the training checkpoints in ``workdir``, newest first."""
    d = checkpoint_dir(workdir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found, reverse=True)


def prune_checkpoints(workdir: str | Path, keep: int) -> None:
    for _, p in find_checkpoints(workdir)[keep:]:
        p.unlink(missing_ok=True)


def load_training_checkpoint(path: str | Path, model_config: HCFlowConfig, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a training checkpoint and check that it continues a run of ``model_config``.

    Raises:
        FileNotFoundError: no such file.
        CheckpointMismatchError: corrupt file, not an ``hcflow_lite`` checkpoint, no training
            state, or a model of another task / architecture.
    """
    ckpt = read_checkpoint(path, map_location)
    theirs = HCFlowConfig.from_dict(ckpt["config"])
    if theirs.task != model_config.task:
        raise CheckpointMismatchError(
            f"{path} holds a {theirs.task} model, but this run trains a {model_config.task} model"
        )
    if theirs != model_config:
        diff = [k for k, v in model_config.to_dict().items() if k != "name" and ckpt["config"].get(k) != v]
        raise CheckpointMismatchError(
            f"{path} holds a model of another architecture (differs in {', '.join(diff) or 'its config'}): "
            "resume with the configuration it was trained with, or start a new --workdir"
        )
    if "train_state" not in ckpt:
        raise CheckpointMismatchError(
            f"{path} holds model weights only, not a training state: pass it as init_from to fine-tune from it"
        )
    return ckpt


def select_resume_checkpoint(workdir: str | Path, model_config: HCFlowConfig) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable training checkpoint in ``workdir`` (``--resume auto``), or ``None``.

    Unreadable files (a disk that filled up, a truncated copy) are skipped with a warning; a
    readable checkpoint of another task or architecture is an error, not skipped.
    """
    for _, path in find_checkpoints(workdir):
        try:
            return path, load_training_checkpoint(path, model_config)
        except CheckpointMismatchError as e:
            if "cannot read" not in str(e):
                raise
            warnings.warn(f"skipping unreadable checkpoint {path}: {e}", stacklevel=2)
    return None
