"""The training engine: configs, the seven paper recipes, one CPU / one GPU / many GPUs (book part II).

Quick start::

    from hcflow_lite.train import load_config, train
    cfg = load_config("rescale_x4-smoke", ["schedule.iterations=20"])
    result = train(cfg, "runs/smoke")            # → runs/smoke/last.pt, train_log.csv, val_log.csv

or on the command line ``python -m hcflow_lite train --config rescale_x4-lite --workdir runs/r``
(``torchrun --nproc_per_node N -m hcflow_lite train …`` for N GPUs).  See ``README.md`` in this
folder for the recipes, the official code's defects and what this engine does about them.
"""

from .config import (
    CheckpointConfig,
    DataConfig,
    LogConfig,
    LossConfig,
    OptimConfig,
    RuntimeConfig,
    ScheduleConfig,
    TrainConfig,
    ValidationConfig,
    available_configs,
    load_config,
    parse_overrides,
    resolve_model_config,
)
from .data import SyntheticImages, bicubic_lr, build_train_dataset, build_val_dataset
from .schedule import LRSchedule, lr_factor
from .state import find_checkpoints, load_training_checkpoint
from .steps import FlowObjectives, IterationResult, Recipe
from .trainer import Trainer, TrainingDiverged, TrainResult, train
from .validation import validate

__all__ = [
    "CheckpointConfig",
    "DataConfig",
    "FlowObjectives",
    "IterationResult",
    "LRSchedule",
    "LogConfig",
    "LossConfig",
    "OptimConfig",
    "Recipe",
    "RuntimeConfig",
    "ScheduleConfig",
    "SyntheticImages",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "ValidationConfig",
    "available_configs",
    "bicubic_lr",
    "build_train_dataset",
    "build_val_dataset",
    "find_checkpoints",
    "load_config",
    "load_training_checkpoint",
    "lr_factor",
    "parse_overrides",
    "resolve_model_config",
    "train",
    "validate",
]
