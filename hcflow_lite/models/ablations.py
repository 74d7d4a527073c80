"""The paper's ablation study (its Table 1) as switches of the SR model (book chapter 12).

HCFlow's SR model is a bijection :math:`x \\mapsto (\\hat y, z_0, \\dots, z_{L-1})` with the density

.. math:: p(x \\mid y^*) = \\mathcal N\\big(Q(\\hat y);\\, y^*,\\, e^{-12}\\big)
          \\prod_l \\mathcal N\\big(z_l;\\, \\mu_l(h_l),\\, \\sigma_l(h_l)^2\\big)
          \\left|\\det \\tfrac{\\partial f}{\\partial x}\\right|,
          \\qquad h_l = E_l(u_l),

and two design decisions: **the LR image is part of the latent space** (the flow outputs
:math:`\\hat y`, tied to the bicubic :math:`y^*` by the narrow Gaussian), and **the other latents
have a conditional prior, conditioned hierarchically** (eq. 5:
:math:`u_{L-1} = \\hat y`, :math:`u_l = [y_l \\mid up(h_{l+1}) \\mid \\dots \\mid up(h_{L-1})]`).
Each case below removes one of them; everything else (layers, sizes, training) is unchanged.
The cases are switched by ``HCFlowConfig.ablation`` (so checkpoints and the training engine
know them: ``--set model.ablation=single_scale``) or built with :func:`build_ablation`.

``none``
    HCFlow as published (:class:`~hcflow_lite.models.hcflow.HCFlowSR` itself).
``no_lr_in_latent``
    The LR is **not** in the latent space; :math:`y^*` is only a condition, as in SRFlow.
    :math:`\\hat y` becomes one more latent with its own learned conditional prior
    :math:`\\mathcal N(\\hat y;\\, \\mu_y(h_{L-1}), \\sigma_y(h_{L-1})^2)` (a zero-initialised
    3×3 convolution of the coarsest features, like the other prior heads), and every
    conditioning input is computed from :math:`y^*`: :math:`u_{L-1} = y^*`.  Nothing ties
    :math:`\\hat y` to :math:`y^*` any more, so SR samples (which draw :math:`\\hat y` from its
    prior at the coarsest level's τ) are not LR-consistent by construction.
``external_prior``
    The LR stays in the latent space, but the conditional prior is computed from the external
    bicubic LR instead of the model's own: :math:`u_{L-1} = y^*` instead of :math:`\\hat y` when
    encoding (training).  SR is unchanged (there :math:`\\hat y = y^*` is the input).
``no_conditional_prior``
    The latents are independent of the LR: :math:`z_l \\sim \\mathcal N(0, I)` and the
    conditional flow steps get no features (:math:`h_l \\equiv 0`), as in IRN.  The feature
    extractors and prior heads are removed.
``single_scale``
    Single-scale instead of hierarchical conditioning: every finer level is conditioned only on
    the features of the LR image, :math:`u_l = up_{2^{L-1-l}}(h_{L-1})`, not on its own kept
    channels :math:`y_l` (the learned intermediate LR) and the features of the levels between.

The paper's own description of these cases could not be consulted when this module was
written (book chapter 12 says so); the definitions above are this package's, chosen so that
each case differs from HCFlow in exactly one idea.  Every case is still an exact bijection with
an exact log-determinant (``tests/test_ablations.py`` checks both against autograd).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..flows import gaussian_log_prob
from ..nets import ZeroConv2d
from .conditional import FeatureExtractor
from .config import ABLATIONS, HCFlowConfig, get_model_config
from .hcflow import (
    EncodeResult,
    HCFlow,
    HCFlowSR,
    Temperature,
    _flow_in_float32,
    _per_level_temperature,
    _sample_chunks,
    build_model,
)

__all__ = ["ABLATIONS", "ABLATION_DESCRIPTIONS", "HCFlowAblation", "StandardNormalPrior", "ZeroFeatures", "build_ablation"]

#: one line per case, for tables
ABLATION_DESCRIPTIONS: dict[str, str] = {
    "none": "HCFlow: LR in the latent space, hierarchical conditional prior",
    "no_lr_in_latent": "LR not in the latent space: ŷ has a conditional prior given y* (SRFlow-like)",
    "external_prior": "conditional prior computed from the bicubic y* instead of the model's ŷ",
    "no_conditional_prior": "no conditional prior: z_l ~ N(0, I), no features (IRN-like)",
    "single_scale": "single-scale conditioning: every level sees only the LR's features",
}


class ZeroFeatures(nn.Module):
    """A feature extractor that returns :math:`h \\equiv 0` (``out_channels`` channels)."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels

    def forward(self, u: Tensor) -> Tensor:
        return u.new_zeros(u.shape[0], self.out_channels, *u.shape[2:])


class StandardNormalPrior(nn.Module):
    """A prior head whose output is 0: :math:`\\mu = 0`, :math:`\\log\\sigma = 0`, i.e. :math:`\\mathcal N(0, I)`."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels

    def forward(self, feature: Tensor) -> Tensor:
        return feature.new_zeros(feature.shape[0], self.out_channels, *feature.shape[2:])


class HCFlowAblation(HCFlowSR):
    """:class:`HCFlowSR` with one case of the ablation study switched on (``config.ablation``).

    Same public API as the SR model: ``encode(hr, lr)`` (``lr`` is the bicubic :math:`y^*`,
    the condition of the ``external_prior`` and ``no_lr_in_latent`` cases), ``decode(lr, τ)``,
    ``sample``.  For ``no_lr_in_latent``, ``encode(...).eps`` and ``.z`` hold one more entry
    (last) for the LR latent :math:`\\hat y`, and ``decode`` accepts ``eps`` with ``L`` or
    ``L + 1`` entries (with ``L``, the LR latent is drawn from ``generator``); ``log_lr`` and
    ``nll`` use its conditional prior instead of the narrow Gaussian around :math:`y^*`.
    """

    def __init__(self, config: HCFlowConfig) -> None:
        if config.task != "sr":
            raise ValueError("the ablation cases are defined for the SR model")
        super().__init__(config)
        self.case = config.ablation
        self._external_lr: Tensor | None = None  # the condition y* while encoding (two cases)
        if self.case == "no_conditional_prior":
            for level in self.levels:
                cond = level.cond
                cond.extractor = ZeroFeatures(cond.extractor.out_channels)
                cond.prior = StandardNormalPrior(cond.prior.out_channels)
        elif self.case == "single_scale":
            c = config
            for level in self.levels[:-1]:
                level.cond.extractor = FeatureExtractor(c.feature_channels, c.rrdb_nf, c.rrdb_gc, c.rrdb_nb, dual=True)
        elif self.case == "no_lr_in_latent":
            self.lr_prior = ZeroConv2d(config.feature_channels, 2 * config.in_channels)

    # ------------------------------------------------------------------ hooks
    def cond_input(self, index: int, kept: Tensor, features: Sequence[Tensor | None]) -> Tensor:
        top = self.config.L - 1
        if index == top:
            return kept if self._external_lr is None else self._external_lr
        if self.case == "single_scale":
            h = features[top]
            assert h is not None, "the coarsest level must be processed first"
            return F.interpolate(h, scale_factor=2 ** (top - index), mode="nearest")
        return super().cond_input(index, kept, features)

    def lr_prior_params(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        """``no_lr_in_latent``: :math:`(\\mu_y, \\log\\sigma_y)` of the LR latent (even / odd channels)."""
        h = self.lr_prior(feature)
        return h[:, 0::2], h[:, 1::2]

    # ------------------------------------------------------------------ public API
    # (each wrapped like HCFlowSR's: under autocast, the LR prior and its log-density stay float32)
    @_flow_in_float32
    def encode(
        self,
        hr: Tensor,
        lr: Tensor | None = None,
        dequant_noise: Tensor | None = None,
        *,
        pad: bool = False,
        trace: bool = False,
    ) -> EncodeResult:
        if self.case not in ("external_prior", "no_lr_in_latent"):
            return super().encode(hr, lr, dequant_noise, pad=pad, trace=trace)
        hr = self._pad(hr, pad)
        if lr is None:
            lr = self.default_lr(hr)
        expected = (hr.shape[0], self.config.in_channels, hr.shape[2] // self.scale, hr.shape[3] // self.scale)
        if tuple(lr.shape) != expected:
            raise ValueError(f"LR has shape {tuple(lr.shape)}, expected {expected} for this HR")
        self._external_lr = lr
        try:
            res = super().encode(hr, lr, dequant_noise, trace=trace or self.case == "no_lr_in_latent")
        finally:
            self._external_lr = None
        if self.case == "external_prior":
            return res
        assert res.objective is not None
        mean, logs = self.lr_prior_params(res.levels[-1].feature)
        log_lr = gaussian_log_prob(res.lr_raw, mean, logs)
        nll_per_sample = -(res.objective + log_lr) / (math.log(2.0) * hr.shape[2] * hr.shape[3])
        return dataclasses.replace(
            res,
            eps=[*res.eps, (res.lr_raw - mean) * torch.exp(-logs)],
            z=[*res.z, res.lr_raw],
            log_lr=log_lr,
            nll=nll_per_sample.mean(),
            nll_per_sample=nll_per_sample,
            levels=res.levels if trace else [],
        )

    @_flow_in_float32
    def decode(
        self,
        lr: Tensor,
        temperature: Temperature = 0.0,
        eps: Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if self.case != "no_lr_in_latent":
            return super().decode(lr, temperature, eps, generator)
        if lr.dim() != 4 or lr.shape[1] != self.config.in_channels:
            raise ValueError(f"expected an LR batch B×{self.config.in_channels}×h×w, got {tuple(lr.shape)}")
        L = self.config.L
        taus = _per_level_temperature(temperature, L)
        if eps is not None and len(eps) not in (L, L + 1):
            raise ValueError(f"eps must hold {L} or {L + 1} tensors (levels 0…{L - 1}, then the LR latent), got {len(eps)}")
        feature = self.levels[-1].cond.extractor(lr)
        mean, logs = self.lr_prior_params(feature)
        y_hat = self._sample_latent(L, mean, logs, taus[-1], eps if eps is not None and len(eps) == L + 1 else None, generator)
        x = self._reverse_flow(y_hat, taus, None if eps is None else list(eps)[:L], generator, top_feature=feature)
        return x.clamp(0, 1)

    @_flow_in_float32
    def sample(
        self,
        lr: Tensor,
        n: int,
        temperature: Temperature = 0.8,
        generator: torch.Generator | None = None,
        chunk: int | None = None,
    ) -> Tensor:
        if self.case != "no_lr_in_latent":
            return super().sample(lr, n, temperature, generator, chunk)
        outs = []
        for c in _sample_chunks(n, chunk, lr.device):
            out = self.decode(lr.repeat(c, 1, 1, 1), temperature, generator=generator)
            outs.append(out.reshape(c, lr.shape[0], *out.shape[1:]))
        return torch.cat(outs)


def build_ablation(config: HCFlowConfig | str, case: str) -> HCFlow:
    """The model of ``config`` (an :class:`HCFlowConfig` or a config name) with ablation ``case``.

    ``case="none"`` returns the published model (:class:`HCFlowSR`), the reference every case
    is compared with.
    """
    if isinstance(config, str):
        config = get_model_config(config)
    if case not in ABLATIONS:
        raise ValueError(f"unknown ablation {case!r}; known: {', '.join(ABLATIONS)}")
    name = config.name if case == "none" else f"{config.name}[{case}]"
    return build_model(config.replace(ablation=case, name=name))
