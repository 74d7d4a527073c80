"""The negative log-likelihood of HCFlow (book chapter 6; spec §3.2).

.. math:: \\mathcal L_{\\text{nll}} = \\operatorname{mean}_b \\frac{-\\big(\\log p(x) + \\log \\mathcal N(Q(\\hat y); y^*, e^{-12})\\big)}{H W \\ln 2}

with the official normalisation: bits per HR pixel *location* (no factor 3) and the one-sided
dequantisation :math:`\\tilde x = x + u/\\text{quant}`, :math:`u\\sim U(0,1)`.  The model computes
it (:meth:`hcflow_lite.HCFlowSR.encode`); this module only names it as a loss.
"""

from __future__ import annotations

from torch import Tensor

from ..models import EncodeResult, HCFlow

__all__ = ["nll_loss"]


def nll_loss(model: HCFlow, hr: Tensor, lr: Tensor, dequant_noise: Tensor | None = None) -> tuple[Tensor, EncodeResult]:
    """The official scalar NLL of an SR model for ``hr`` given its bicubic ``lr``.

    Returns ``(nll, encode_result)`` so that callers can log the parts (log-det, log-prior,
    LR term) without a second forward pass.  ``dequant_noise`` is the tensor added to ``hr``
    (already divided by ``quant``); ``None`` draws it from torch's global RNG.
    """
    if model.config.task != "sr":
        raise ValueError("the NLL exists only for the SR model (the rescaling model has no likelihood)")
    result = model.encode(hr, lr, dequant_noise=dequant_noise)
    assert result.nll is not None
    return result.nll, result
