"""Load and write the official HCFlow checkpoint layout (spec §10; book chapter 5).

The official ``state_dict`` numbers the main-flow layers level by level,
``flow.layers.{i}`` with ``[squeeze/Haar, K flow steps, split]`` per level, and keeps each
level's conditional part in ``flow.level{l}_condFlow``.  ``hcflow_lite`` loops over levels, so
its keys read ``levels.{l}.steps.{k}…`` and ``levels.{l}.cond…``; :func:`official_key` maps one
to the other, and :func:`load_official` / :func:`export_official` use it in both directions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .config import HCFlowConfig, config_from_official_options
from .hcflow import HCFlow, build_model

__all__ = [
    "CheckpointMismatchError",
    "export_official",
    "load_official",
    "load_official_state_dict",
    "official_key",
    "read_state_dict",
]


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


_RENAMES = [("coupling.net.", "affine.f.")]
_EXTRACTOR = [
    (re.compile(r"^trunk(\d)\.(\d+)\.rdb(\d)\.(.*)$"), r"RRDB_trunk\1.\2.RDB\3.\4"),
    (re.compile(r"^trunk_conv\.(.*)$"), r"trunk_conv1.\1"),
    (re.compile(r"^conv_first\.(.*)$"), r"conv_first.\1"),
]


def _rename_step(rest: str) -> str:
    for ours, theirs in _RENAMES:
        rest = rest.replace(ours, theirs)
    return rest


def _level_starts(config: HCFlowConfig) -> list[int]:
    """Index of each level's squeeze/Haar in ``flow.layers`` (each level: 1 + K + 1 layers)."""
    starts, b = [], 0
    for k in config.K:
        starts.append(b)
        b += k + 2
    return starts


def official_key(key: str, config: HCFlowConfig) -> str | None:
    """The official name of one of our state-dict keys (``None`` for keys only we store)."""
    if key.endswith(".initialized"):
        return None
    m = re.match(r"^levels\.(\d+)\.(.*)$", key)
    if not m:
        raise KeyError(f"not an hcflow_lite model key: {key}")
    level, rest = int(m.group(1)), m.group(2)
    start = _level_starts(config)[level]
    if rest.startswith("squeeze."):
        return f"flow.layers.{start}.{rest[len('squeeze.'):]}"
    m = re.match(r"^steps\.(\d+)\.(.*)$", rest)
    if m:
        return f"flow.layers.{start + 1 + int(m.group(1))}.{_rename_step(m.group(2))}"
    prefix = f"flow.level{level}_condFlow."
    m = re.match(r"^cond\.steps\.(\d+)\.(.*)$", rest)
    if m:
        return f"{prefix}additional_flow_steps.{m.group(1)}.{_rename_step(m.group(2))}"
    if rest.startswith("cond.prior."):
        return prefix + "f." + rest[len("cond.prior."):]
    if rest.startswith("cond.extractor."):
        sub = rest[len("cond.extractor."):]
        for pattern, repl in _EXTRACTOR:
            if pattern.match(sub):
                return prefix + pattern.sub(repl, sub)
    raise KeyError(f"no official name for {key}")


def read_state_dict(checkpoint: str | Path | Mapping[str, Any], map_location: Any = "cpu") -> dict[str, Tensor]:
    """A state dict from a path or a mapping; ``torch.load(weights_only=True)``, ``module.`` stripped."""
    if isinstance(checkpoint, (str, Path)):
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        try:
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:  # corrupt file, pickled code, truncated download …
            raise CheckpointMismatchError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from e
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatchError(f"a checkpoint must be a state dict (a mapping), got {type(checkpoint).__name__}")
    if checkpoint.get("format") == "hcflow_lite":
        raise CheckpointMismatchError(
            "this is an hcflow_lite checkpoint, not an official one: load it with hcflow_lite.load_checkpoint"
        )
    for wrapper in ("state_dict", "params", "model"):
        if wrapper in checkpoint and isinstance(checkpoint[wrapper], Mapping) and len(checkpoint) <= 3:
            checkpoint = checkpoint[wrapper]
            break
    out: dict[str, Tensor] = {}
    for k, v in checkpoint.items():
        if not isinstance(v, Tensor):
            raise CheckpointMismatchError(f"checkpoint entry {k!r} is a {type(v).__name__}, not a tensor")
        out[k[len("module."):] if k.startswith("module.") else k] = v
    return out


def _first(items: list[str], n: int = 5) -> str:
    more = f" … and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def load_official_state_dict(model: HCFlow, state: Mapping[str, Tensor]) -> None:
    """Copy an official state dict into ``model``; every key and shape must match.

    Raises :class:`CheckpointMismatchError` naming the first missing, unexpected or mis-shaped
    keys; nothing is loaded in that case.
    """
    ours = model.state_dict()
    wanted = {official_key(k, model.config): k for k in ours}
    wanted.pop(None, None)
    missing = [k for k in wanted if k not in state]
    unexpected = [k for k in state if k not in wanted]
    shapes = [
        f"{k} {tuple(state[k].shape)} (model: {tuple(ours[wanted[k]].shape)})"
        for k in wanted
        if k in state and state[k].shape != ours[wanted[k]].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_first(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches: {_first(shapes)}")
    if problems:
        raise CheckpointMismatchError(
            f"checkpoint does not fit the {model.config.task} model (L={model.config.L}, K={list(model.config.K)}, "
            f"P={list(model.config.P)}): " + "; ".join(problems)
        )
    converted = {ours_key: state[off].to(ours[ours_key].dtype) for off, ours_key in wanted.items()}
    model.load_state_dict(converted, strict=False)


def load_official(
    checkpoint: str | Path | Mapping[str, Any],
    options: Mapping[str, Any] | str | Path,
    map_location: Any = "cpu",
) -> HCFlow:
    """An official HCFlow checkpoint as an ``hcflow_lite`` model, in eval mode.

    Args:
        checkpoint: path to a ``.pth`` (official release, e.g. ``SR_DF2K_X4_HCFlow++.pth``) or a
            state dict in the official key layout (a ``module.`` prefix is stripped).  Opened
            with ``weights_only=True``: loading never executes pickled code.
        options: the official option dict, a path to the official ``.yml``/``.json``, or the name
            of a paper configuration (``"sr_x4"``, ``"face_x8"``, ``"rescale_x4"``) when the
            checkpoint is an official paper-size release.
        map_location: where tensors are loaded (default CPU; move the model afterwards).

    Raises:
        CheckpointMismatchError: the checkpoint is unreadable or does not fit the options (the
            message names the first mismatching keys and shapes).
    """
    config = _resolve_options(options)
    model = build_model(config)
    load_official_state_dict(model, read_state_dict(checkpoint, map_location))
    model.mark_initialized(True)
    return model.eval()


def _resolve_options(options: Mapping[str, Any] | str | Path) -> HCFlowConfig:
    if isinstance(options, str) and not Path(options).exists() and not options.endswith((".yml", ".yaml", ".json")):
        from .config import get_model_config

        return get_model_config(options)
    return config_from_official_options(options)


def export_official(model: HCFlow, path: str | Path | None = None) -> dict[str, Tensor]:
    """Our model's weights in the official key layout (optionally saved with ``torch.save``)."""
    state = {}
    for k, v in model.state_dict().items():
        off = official_key(k, model.config)
        if off is not None:
            state[off] = v.detach().cpu().clone()
    if path is not None:
        torch.save(state, Path(path))
    return state
