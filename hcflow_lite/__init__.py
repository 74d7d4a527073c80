"""hcflow_lite: HCFlow (Liang et al., ICCV 2021) re-implemented for the HCFlow companion book.

Quick start (CPU)::

    import hcflow_lite as hc
    model = hc.load_official("SR_DF2K_X4_HCFlow++.pth", "test_SR_DF2K_4X_HCFlow.yml")
    sr = model.decode(lr, temperature=0.9)          # lr: B×3×h×w in [0, 1]
"""

__version__ = "0.1.0"

from . import data  # noqa: E402
from .models import (  # noqa: E402
    CheckpointMismatchError,
    EncodeResult,
    HCFlow,
    HCFlowConfig,
    HCFlowRescaling,
    HCFlowSR,
    build_model,
    export_official,
    get_model_config,
    load_checkpoint,
    load_official,
    save_checkpoint,
)

__all__ = [
    "CheckpointMismatchError",
    "EncodeResult",
    "HCFlow",
    "HCFlowConfig",
    "HCFlowRescaling",
    "HCFlowSR",
    "__version__",
    "data",
    "build_model",
    "export_official",
    "get_model_config",
    "load_checkpoint",
    "load_official",
    "save_checkpoint",
]
