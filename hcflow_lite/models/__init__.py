"""HCFlow models: configuration, the network, official-checkpoint conversion."""

from .ablations import ABLATION_DESCRIPTIONS, HCFlowAblation, build_ablation
from .checkpoint import atomic_save, load_checkpoint, read_checkpoint, save_checkpoint
from .conditional import ConditionalLevel, FeatureExtractor
from .config import ABLATIONS, MODEL_CONFIGS, HCFlowConfig, config_from_official_options, get_model_config, load_options
from .hcflow import EncodeResult, HCFlow, HCFlowRescaling, HCFlowSR, Level, LevelTrace, build_model
from .official import (
    CheckpointMismatchError,
    export_official,
    load_official,
    load_official_state_dict,
    official_key,
    read_state_dict,
)
from .quantize import quantize
from .summary import ModelSummary, Stage, model_summary

__all__ = [
    "ABLATIONS",
    "ABLATION_DESCRIPTIONS",
    "HCFlowAblation",
    "build_ablation",
    "atomic_save",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "CheckpointMismatchError",
    "ConditionalLevel",
    "EncodeResult",
    "FeatureExtractor",
    "HCFlow",
    "HCFlowConfig",
    "HCFlowRescaling",
    "HCFlowSR",
    "Level",
    "LevelTrace",
    "MODEL_CONFIGS",
    "ModelSummary",
    "build_model",
    "config_from_official_options",
    "export_official",
    "get_model_config",
    "load_official",
    "load_official_state_dict",
    "load_options",
    "model_summary",
    "official_key",
    "quantize",
    "read_state_dict",
    "Stage",
]
