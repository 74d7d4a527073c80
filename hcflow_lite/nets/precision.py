"""Mixed precision that the HCFlow models arrange themselves (book appendix *Performance*).

A user opens ``torch.autocast(device, dtype=torch.bfloat16)`` and calls a model.  The model's
public methods run inside :func:`float32_flow`, which switches autocast *off*: the invertible
layers, their log-determinants, the priors' log-densities and every inverse run in the input's
dtype (float32).  The networks that may run in low precision re-open the caller's autocast
with :func:`caller_autocast` and return their output in the dtype of their input:

* the RRDBs of the feature extractors (56–88 % of the FLOPs), in every model (their skip
  connections, ``conv_first`` and ``trunk_conv`` stay float32);
* the sub-networks of the conditional couplings (a function of the features and of the
  latent's first half), in every model: the coupling's shift, scale and log-determinant are
  still computed in float32 from their output, which ``tests/test_mixed_precision.py`` shows
  keeps the NLL within 0.1 % of float32;
* the main-flow coupling sub-networks of the rescaling model, which has neither a
  log-determinant nor a log-density in its objective.  The SR model's main flow stays float32:
  it makes the LR image, which its likelihood compares with the dataset LR at σ = e⁻⁶, and
  bfloat16 there moves the NLL by several per cent.

A coupling is exactly invertible whatever precision its shift and scale were computed in, as
long as its inverse sees the same inputs.  In a decode the inputs of the networks are float32
rounding away from the encoder's (the finer levels' features are recomputed from the
reconstruction, each coupling's untouched half comes back from the later steps' inverses), and
bfloat16 rounds a few of them to the neighbouring value: an SR encode → decode round trip with
the model's own latents is exact to ~5e-3 at the worst pixel (~3e-4 on average) under bfloat16
autocast instead of ~1e-5 (``tests/test_mixed_precision.py`` measures this, the NLL and the
PSNRs).  Where exact invertibility matters, stay in float32.

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
