"""Mixed precision that the HCFlow models arrange themselves (book appendix *Performance*).

A user opens ``torch.autocast(device, dtype=torch.bfloat16)`` and calls a model.  The model's
public methods run inside :func:`float32_flow`, which switches autocast *off*: the invertible
layers, their log-determinants, the priors' log-densities and every inverse run in the input's
dtype (float32).  The networks that may run in low precision re-open the caller's autocast
with :func:`caller_autocast` and return their output in the dtype of their input:

* the RRDBs of the feature extractors (56–88 % of the FLOPs), in every model (their skip
  connections stay float32);
* in the SR models' conditional couplings, the part of the sub-network's first convolution
  that reads the features (a function of the features alone, like the extractor that made
  them), while the part that reads the flow's own variables stays float32;
* the coupling sub-networks of the rescaling model, which has neither a log-determinant nor a
  log-density in its objective.

A coupling is exactly invertible whatever precision its shift and scale were computed in, as
long as its inverse sees the same inputs.  In a decode, the finer levels' features are
recomputed from the reconstruction, which is float32 rounding away from the encoder's input,
and bfloat16 rounds a few of those inputs differently: an encode → decode round trip with the
model's own latents is exact to ~1e-3 under bfloat16 autocast instead of ~1e-7 (a fraction of an
8-bit level; ``tests/test_mixed_precision.py`` measures this, the NLL and the PSNRs).

Outside a model (or without autocast) both helpers do nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import torch

__all__ = ["autocast_state", "caller_autocast", "caller_autocast_active", "float32_flow"]

#: (device type, dtype) of the autocast a model switched off, while it runs
_CALLER: ContextVar[tuple[str, torch.dtype] | None] = ContextVar("hcflow_caller_autocast", default=None)


def autocast_state(device_type: str) -> tuple[bool, torch.dtype]:
    """Whether ``torch.autocast`` is on for ``device_type``, and its dtype (torch ≥ 2.1)."""
    if hasattr(torch, "get_autocast_dtype"):  # torch ≥ 2.4
        try:
            return torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type)
        except RuntimeError:  # a device autocast does not know (``meta``: model summaries): never on
            return False, torch.float32
    if device_type == "cpu":
        return torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()
    if device_type == "cuda":
        return torch.is_autocast_enabled(), torch.get_autocast_gpu_dtype()
    return False, torch.float32


@contextlib.contextmanager
def float32_flow(device_type: str) -> Iterator[None]:
    """Switch the caller's autocast off for the flow, remembering it for :func:`caller_autocast`.

    Nested use (a public method calling another) keeps the outermost caller's autocast.
    """
    enabled, dtype = autocast_state(device_type)
    if not enabled:
        yield
        return
    token = _CALLER.set((device_type, dtype))
    try:
        with torch.autocast(device_type, enabled=False):
            yield
    finally:
        _CALLER.reset(token)


def caller_autocast_active() -> bool:
    """Whether a model switched off an autocast that :func:`caller_autocast` would re-open."""
    return _CALLER.get() is not None


def caller_autocast() -> contextlib.AbstractContextManager:
    """Re-open the autocast that :func:`float32_flow` switched off (a no-op outside one).

    Without autocast's cache of low-precision weight copies: each network casts its weights
    once per call anyway, and the cache, kept until the caller's outermost autocast closes,
    was measured to raise the peak memory of sampling by 0.1–0.8 GB (``ci/benchmark.py``).
    """
    state = _CALLER.get()
    if state is None:
        return contextlib.nullcontext()
    return torch.autocast(state[0], dtype=state[1], cache_enabled=False)
