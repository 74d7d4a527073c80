"""Checks for invertible layers, used by the test suite and by the book's check cells.

* :func:`assert_invertible`: ``inverse(forward(x)) == x``, shapes and dtypes kept.
* :func:`jacobian_logdet`: :math:`\\log|\\det J|` of the full Jacobian by autograd (float64),
  the reference every layer's returned log-determinant is compared with.
* :func:`perturb_parameters`: moves every parameter away from its (often identity) init, so a
  test can never pass only because a layer starts as the identity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["assert_invertible", "flatten_output", "jacobian_logdet", "perturb_parameters"]


def flatten_output(y: Any) -> Tensor:
    """Concatenate a tensor or a tuple of tensors into one ``(B, D)`` matrix."""
    if isinstance(y, Tensor):
        return y.flatten(1)
    return torch.cat([t.flatten(1) for t in y], 1)


@torch.no_grad()
def perturb_parameters(module: nn.Module, std: float = 0.1, generator: torch.Generator | None = None) -> nn.Module:
    """Add ``N(0, std²)`` noise to every trainable parameter (in place); returns ``module``."""
    for p in module.parameters():
        if p.requires_grad:
            p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) * std)
    return module


def _max_abs(a: Any, b: Any) -> float:
    return float((flatten_output(a) - flatten_output(b)).abs().max())


def assert_invertible(layer: nn.Module, x: Tensor, cond: Any = None, atol: float | None = None) -> float:
    """Assert ``layer.inverse(layer(x)[0]) ≈ x`` and a per-sample log-det; return the max error.

    The tolerance defaults to ``1e-5`` in float32 and ``1e-10`` in float64.
    """
    atol = atol if atol is not None else (1e-10 if x.dtype == torch.float64 else 1e-5)
    with torch.no_grad():
        y, logdet = layer(x, cond)
        x_rec = layer.inverse(y, cond)
    assert isinstance(logdet, Tensor) and logdet.shape == (x.shape[0],), f"logdet shape {getattr(logdet, 'shape', None)}"
    assert logdet.dtype == x.dtype, f"logdet dtype {logdet.dtype} != input dtype {x.dtype}"
    assert x_rec.shape == x.shape and x_rec.dtype == x.dtype
    assert torch.isfinite(logdet).all()
    err = _max_abs(x_rec, x)
    assert err <= atol, f"round trip error {err:.3g} > {atol:.3g} for {type(layer).__name__}"
    return err


def jacobian_logdet(fn: Callable[[Tensor], Any], x: Tensor) -> Tensor:
    """Per-sample :math:`\\log|\\det J|` of ``fn`` at ``x`` from the full autograd Jacobian.

    ``fn`` maps a ``B×…`` tensor to a tensor or tuple with the same number of elements per
    sample.  Samples are treated independently (the Jacobian of sample ``b`` w.r.t. sample ``b``).
    """
    out = []
    for b in range(x.shape[0]):
        xb = x[b : b + 1]
        jac = torch.autograd.functional.jacobian(lambda t: flatten_output(fn(t))[0], xb)
        jac = jac.reshape(jac.shape[0], -1)
        if jac.shape[0] != jac.shape[1]:
            raise ValueError(f"Jacobian is not square: {tuple(jac.shape)}")
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)
