"""The hierarchical conditional flow (HCFlow, Liang et al. 2021; book chapter 5).

An invertible map :math:`f: x \\mapsto (y, a_0, \\dots, a_{L-1})` from an HR image to an LR image
and one latent per level (level 0 is the finest).  Level :math:`l` of the main flow is

    squeeze (or Haar) → ``K`` unconditional flow steps → split (keep :math:`S_l`, latent :math:`a_l`)

and the kept channels of the last level are the LR image :math:`y`.  Each latent then passes a
*conditional* flow :math:`z_l = g_l(a_l; h_l)` and is modelled by
:math:`\\mathcal N(z_l; \\mu_l(h_l), \\sigma_l(h_l)^2)`, where the features
:math:`h_l = E_l(u_l)` are computed from the conditioning input (eq. 5 of the paper)

.. math:: u_{L-1} = y, \\qquad
          u_l = [\\, y_l \\mid \\mathrm{up}_2(h_{l+1}) \\mid \\mathrm{up}_4(h_{l+2}) \\mid \\dots
          \\mid \\mathrm{up}_{2^{L-1-l}}(h_{L-1}) \\,],

with :math:`y_l` the kept channels of level :math:`l` and :math:`\\mathrm{up}_k` nearest
upsampling.  Sampling (super-resolution) inverts :math:`f` from the coarsest level down: the
features of a finer level need the reconstruction of the coarser ones.

:class:`HCFlowSR` adds the SR likelihood (dequantisation, the LR Gaussian with
:math:`\\log\\sigma = -6`, the official NLL); :class:`HCFlowRescaling` returns standardised
latents for the rescaling objective.  Build either with :func:`build_model`.

Mixed precision (book appendix *Performance*): call ``encode``, ``decode`` or ``sample`` inside
``torch.autocast(device, dtype=torch.bfloat16)``.  The model switches autocast off for the flow
(:func:`~hcflow_lite.nets.precision.float32_flow`) and only the feature extractors (and, in the
rescaling model, the coupling sub-networks) run in bfloat16; every returned tensor is float32.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..flows import (
    ActNorm,
    AffineCoupling,
    FlowStep,
    HaarDownsampling,
    InvConv1x1,
    LRCoupling,
    SequentialFlow,
    Split,
    Squeeze,
    gaussian_log_prob,
)
from ..nets import FCN, DenseBlock
from ..nets.precision import float32_flow
from .conditional import ConditionalLevel
from .config import HCFlowConfig
from .quantize import quantize

__all__ = ["EncodeResult", "HCFlow", "HCFlowRescaling", "HCFlowSR", "Level", "LevelTrace", "build_model"]

Temperature = float | Sequence[float]


@dataclass
class LevelTrace:
    """Intermediate tensors of one level's conditional part during :meth:`HCFlow.encode`."""

    a: Tensor  #: split-off channels entering the conditional flow
    u: Tensor  #: conditioning input u_l
    feature: Tensor  #: RRDB feature h_l
    z: Tensor  #: a_l after the conditional steps
    mean: Tensor  #: prior mean μ_l
    logs: Tensor  #: prior log σ_l
    eps: Tensor  #: standardised latent (z − μ)·exp(−log σ)
    logp: Tensor | None = None  #: (B,) log N(z; μ, σ²) (SR)
    objective_in: Tensor | None = None  #: (B,) running objective entering the level (SR)
    objective_out: Tensor | None = None  #: (B,) ... and leaving it (SR)


@dataclass
class EncodeResult:
    """What :meth:`HCFlow.encode` returns.

    Attributes:
        lr: the generated LR exactly as the official forward returns it (SR:
            ``clamp(Q(ŷ))``; rescaling: ``clamp(ŷ)``).
        eps: standardised latents :math:`(z_l-\\mu_l)e^{-\\log\\sigma_l}`, level 0 (finest) first.
        z: the latents :math:`z_l` themselves, level 0 first.
        lr_raw: the unquantised, unclamped LR :math:`\\hat y`.
        logdet: (B,) :math:`\\log|\\det J|` summed over all flow layers (main and conditional).
        log_prior: (B,) :math:`\\sum_l \\log\\mathcal N(z_l;\\mu_l,\\sigma_l^2)` (SR).
        log_lr: (B,) :math:`\\log\\mathcal N(Q(\\hat y); y^*, e^{-12})` (SR, when an LR was given).
        objective: (B,) :math:`-HW\\log(\\text{quant}) + \\text{logdet} + \\text{log\\_prior}`, what the
            official ``net.flow`` returns (SR; the LR term is separate).
        dequant_logdet: (B,) the dequantisation term :math:`-HW\\log(\\text{quant})` (SR; no factor 3,
            as in the official code).
        nll: the official scalar NLL,
            :math:`\\operatorname{mean}_b\\big(-(\\text{objective} + \\text{log\\_lr})/(HW\\ln 2)\\big)` (SR).
        levels: per-level traces (only with ``trace=True``), level 0 first.
    """

    lr: Tensor
    eps: list[Tensor]
    z: list[Tensor]
    lr_raw: Tensor
    logdet: Tensor
    log_prior: Tensor | None = None
    log_lr: Tensor | None = None
    objective: Tensor | None = None
    dequant_logdet: Tensor | None = None
    nll: Tensor | None = None
    nll_per_sample: Tensor | None = None
    hr_input: Tensor | None = None
    levels: list[LevelTrace] = field(default_factory=list)


class Level(nn.Module):
    """One level of the main flow plus its conditional part."""

    def __init__(self, config: HCFlowConfig, index: int) -> None:
        super().__init__()
        c, keep, latent = config.level_channels()[index]
        c_in = c // 4
        sr = config.task == "sr"
        self.index = index
        self.squeeze: nn.Module = Squeeze() if sr else HaarDownsampling(c_in)
        hidden = config.hidden_channels
        steps: list[FlowStep] = []
        for k in range(config.K[index]):
            if sr:
                coupling = AffineCoupling(c, lambda i, o: FCN(i, o, hidden))
                steps.append(FlowStep(ActNorm(c), InvConv1x1(c), coupling))
            else:
                # rescaling: no log-det or log-density in the objective, the subnet may run in bfloat16
                coupling = LRCoupling(
                    c, lambda i, o: DenseBlock(i, o, hidden, low_precision=True), lr_vs_others=(k % 2 == 0)
                )
                steps.append(FlowStep(ActNorm(c), None, coupling))
        self.steps = SequentialFlow(*steps)
        self.split = Split(keep)
        n_cond = config.L - 1 - index
        self.cond = ConditionalLevel(
            latent_channels=latent,
            cond_in_channels=keep + config.feature_channels * n_cond,
            steps=config.P[index],
            hidden_channels=config.cond_hidden_channels,
            nf=config.rrdb_nf,
            gc=config.rrdb_gc,
            nb=config.rrdb_nb,
            sr=sr,
        )


def _flow_in_float32(method: Callable) -> Callable:
    """Run a public method with the caller's autocast switched off for the flow (see above)."""

    @functools.wraps(method)
    def wrapper(self: HCFlow, x: Tensor, *args, **kwargs):  # type: ignore[no-untyped-def]
        with float32_flow(x.device.type):
            return method(self, x, *args, **kwargs)

    return wrapper


def _per_level_temperature(temperature: Temperature, L: int) -> list[float]:
    if isinstance(temperature, (int, float)):
        return [float(temperature)] * L
    t = [float(v) for v in temperature]
    if len(t) != L:
        raise ValueError(f"per-level temperature needs {L} values (level 0 first), got {len(t)}")
    return t


def _sample_chunks(n: int, chunk: int | None, device: torch.device) -> list[int]:
    """Sizes of the batches ``sample`` draws ``n`` samples in: ``chunk=None`` is 1 on the CPU, ``n`` elsewhere."""
    if n < 1:
        raise ValueError("n must be ≥ 1")
    if chunk is None:
        chunk = 1 if device.type == "cpu" else n
    if chunk < 1:
        raise ValueError("chunk must be ≥ 1")
    return [min(chunk, n - start) for start in range(0, n, chunk)]


class HCFlow(nn.Module):
    """The shared invertible network; use :class:`HCFlowSR` or :class:`HCFlowRescaling`."""

    def __init__(self, config: HCFlowConfig) -> None:
        super().__init__()
        self.config = config
        self.levels = nn.ModuleList([Level(config, level) for level in range(config.L)])

    # ------------------------------------------------------------------ helpers
    @property
    def scale(self) -> int:
        return self.config.scale

    def actnorms(self) -> list[ActNorm]:
        return [m for m in self.modules() if isinstance(m, ActNorm)]

    def mark_initialized(self, value: bool = True) -> None:
        """Mark every ActNorm's data-dependent initialisation as done (after loading weights)."""
        for m in self.actnorms():
            m.mark_initialized(value)

    def cond_input(self, index: int, kept: Tensor, features: Sequence[Tensor | None]) -> Tensor:
        """:math:`u_l = [y_l \\mid up_2(h_{l+1}) \\mid \\dots \\mid up_{2^{L-1-l}}(h_{L-1})]` (eq. 5)."""
        parts = [kept]
        for j in range(index + 1, self.config.L):
            feat = features[j]
            assert feat is not None, "coarser levels must be processed first"
            parts.append(F.interpolate(feat, scale_factor=2 ** (j - index), mode="nearest"))
        return torch.cat(parts, 1) if len(parts) > 1 else kept

    def check_hr_size(self, hr: Tensor) -> None:
        if hr.dim() != 4 or hr.shape[1] != self.config.in_channels:
            raise ValueError(f"expected an HR batch B×{self.config.in_channels}×H×W, got {tuple(hr.shape)}")
        s = self.scale
        if hr.shape[2] % s or hr.shape[3] % s:
            raise ValueError(
                f"HR size {hr.shape[2]}×{hr.shape[3]} is not divisible by 2^L = {s}; crop it (training) or "
                f"pass pad=True to encode (inference: reflect-pad, the LR then covers the padded image)"
            )

    def _pad(self, hr: Tensor, pad: bool) -> Tensor:
        s = self.scale
        ph, pw = (-hr.shape[2]) % s, (-hr.shape[3]) % s
        if (ph or pw) and pad:
            if self.training:
                raise ValueError("padding is for inference only: crop training images to a multiple of 2^L")
            hr = F.pad(hr, (0, pw, 0, ph), mode="reflect")
        self.check_hr_size(hr)
        return hr

    # ------------------------------------------------------------------ the flow
    def _forward_flow(self, x: Tensor) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """Main flow: returns kept tensors y_l (last = raw LR), latents a_l and the log-det."""
        logdet = x.new_zeros(x.shape[0])
        kept, latents = [], []
        for level in self.levels:
            x, ld = level.squeeze(x)
            if self.config.task == "sr":  # the official rescaling model ignores the Haar log-det
                logdet = logdet + ld
            x, ld = level.steps(x)
            logdet = logdet + ld
            (x, a), _ = level.split(x)
            kept.append(x)
            latents.append(a)
        return kept, latents, logdet

    def _sample_latent(
        self,
        index: int,
        mean: Tensor,
        logs: Tensor,
        temperature: float,
        eps: Sequence[Tensor] | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        if eps is not None:
            e = eps[index]
            if e.shape != mean.shape:
                raise ValueError(f"eps[{index}] has shape {tuple(e.shape)}, expected {tuple(mean.shape)}")
            e = e.to(mean)
        else:
            e = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(logs) * temperature * e

    def _reverse_flow(
        self,
        y: Tensor,
        temperature: Temperature,
        eps: Sequence[Tensor] | None,
        generator: torch.Generator | None,
        top_feature: Tensor | None = None,
    ) -> Tensor:
        L = self.config.L
        taus = _per_level_temperature(temperature, L)
        if eps is not None and len(eps) != L:
            raise ValueError(f"eps must hold {L} tensors (level 0 first), got {len(eps)}")
        features: list[Tensor | None] = [None] * L
        x = y
        for index in reversed(range(L)):
            level = self.levels[index]
            if index == L - 1 and top_feature is not None:
                feat = top_feature
            else:
                feat = level.cond.extractor(self.cond_input(index, x, features))
            features[index] = feat
            mean, logs = level.cond.prior_params(feat)
            z = self._sample_latent(index, mean, logs, taus[index], eps, generator)
            a = level.cond.steps.inverse(z, feat)
            x = level.split.inverse((x, a))
            x = level.steps.inverse(x)
            x = level.squeeze.inverse(x)
        return x

    def _encode_conditional(
        self, kept: list[Tensor], latents: list[Tensor], objective: Tensor | None, trace: bool
    ) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor, Tensor | None, list[LevelTrace]]:
        """Conditional levels, coarse to fine.

        Returns z and eps per level, the conditional steps' log-det, the log-prior, the running
        objective (SR, when one is passed in) and the traces.
        """
        L = self.config.L
        features: list[Tensor | None] = [None] * L
        zs: list[Tensor] = [latents[0]] * L
        epss: list[Tensor] = [latents[0]] * L
        traces: list[LevelTrace | None] = [None] * L
        logdet = kept[0].new_zeros(kept[0].shape[0])
        log_prior = torch.zeros_like(logdet)
        for index in reversed(range(L)):
            level = self.levels[index]
            u = self.cond_input(index, kept[index], features)
            feat = level.cond.extractor(u)
            features[index] = feat
            z, ld = level.cond.steps(latents[index], feat)
            mean, logs = level.cond.prior_params(feat)
            eps = (z - mean) * torch.exp(-logs)
            logp = gaussian_log_prob(z, mean, logs) if self.config.task == "sr" else None
            obj_in = objective
            logdet = logdet + ld
            if logp is not None:
                log_prior = log_prior + logp
                if objective is not None:
                    objective = objective + ld + logp
            zs[index], epss[index] = z, eps
            if trace:
                traces[index] = LevelTrace(latents[index], u, feat, z, mean, logs, eps, logp, obj_in, objective)
        return zs, epss, logdet, log_prior, objective, [t for t in traces if t is not None]

    # ------------------------------------------------------------------ public API
    def encode(self, hr: Tensor, lr: Tensor | None = None, dequant_noise: Tensor | None = None, *, pad: bool = False, trace: bool = False) -> EncodeResult:  # pragma: no cover - overridden
        raise NotImplementedError

    @_flow_in_float32
    def decode(
        self,
        lr: Tensor,
        temperature: Temperature = 0.0,
        eps: Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Invert the flow from an LR image: HR in [0, 1].

        Per level the latent is :math:`z_l = \\mu_l + e^{\\log\\sigma_l}\\,\\tau_l\\,\\varepsilon_l`;
        :math:`\\varepsilon_l` is ``eps[l]`` when given (the layout of ``encode(...).eps``, level 0
        first), else drawn from ``generator`` (coarsest level first, as the official code does).
        ``temperature`` is one τ or a list with one τ per level (level 0 first); τ = 0 gives the
        deterministic mean.
        """
        if lr.dim() != 4 or lr.shape[1] != self.config.in_channels:
            raise ValueError(f"expected an LR batch B×{self.config.in_channels}×h×w, got {tuple(lr.shape)}")
        return self._reverse_flow(lr, temperature, eps, generator).clamp(0, 1)

    @_flow_in_float32
    def sample(
        self,
        lr: Tensor,
        n: int,
        temperature: Temperature = 0.8,
        generator: torch.Generator | None = None,
        chunk: int | None = None,
    ) -> Tensor:
        """``n`` SR samples of each LR image: a tensor ``n×B×3×sh×sw``.

        The coarsest level's features depend only on the LR, so they are computed once and
        shared by the ``n`` samples (the official code runs the whole reverse pass, features
        included, once per sample). The samples then run ``chunk`` at a time as one batch:
        ``chunk=None`` means one at a time on the CPU (a batch of samples is no faster there and
        holds ``chunk`` times the activations) and all ``n`` at once on other devices. With a
        ``generator``, each chunk draws its noise coarsest level first, so ``chunk=1`` draws
        sample after sample, as the official code does.
        """
        sizes = _sample_chunks(n, chunk, lr.device)
        b = lr.shape[0]
        top = self.levels[-1].cond.extractor(lr)
        result: Tensor | None = None  # the n samples, written chunk by chunk (no concatenation)
        outs: list[Tensor] = []  # with autograd, which cannot write into a result: concatenated
        done = 0
        for c in sizes:
            lr_c, top_c = (lr, top) if c == 1 else (lr.repeat(c, 1, 1, 1), top.repeat(c, 1, 1, 1))
            out = self._reverse_flow(lr_c, temperature, None, generator, top_feature=top_c)
            out = out.reshape(c, b, *out.shape[1:])
            if out.requires_grad:
                outs.append(out.clamp(0, 1))
            else:
                if result is None:
                    result = out.new_empty((n, *out.shape[1:]))
                torch.clamp(out, 0, 1, out=result[done : done + c])
            done += c
        if result is not None:
            return result
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class HCFlowSR(HCFlow):
    """HCFlow for super-resolution (general ×4, face ×8), with the official NLL."""

    def default_lr(self, hr: Tensor) -> Tensor:
        """:math:`y^*` when none is given: the MATLAB-bicubic downscale of ``hr``, rounded to 8 bits."""
        from ..data.resize import imresize

        return torch.round(imresize(hr, 1 / self.scale).clamp(0, 1) * 255) / 255

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
        """HR → (LR, latents, NLL), as the official forward ``normal_flow_diracLR``.

        Args:
            hr: ``B×3×H×W`` in [0, 1], H and W divisible by :math:`2^L` (or ``pad=True`` in eval).
            lr: the bicubic LR :math:`y^*` (the mean of the LR likelihood).  ``None``: the
                MATLAB-bicubic downscale of ``hr`` rounded to 8 bits.
            dequant_noise: the tensor added to ``hr`` (already divided by ``quant``); default
                ``torch.rand(hr.shape) / quant``, one-sided as in the official code.
            pad: reflect-pad ``hr`` to a multiple of :math:`2^L` (inference only).
            trace: keep the per-level intermediates in ``result.levels``.
        """
        cfg = self.config
        assert cfg.quant is not None
        hr = self._pad(hr, pad)
        if lr is None:
            lr = self.default_lr(hr)
        if dequant_noise is None:
            dequant_noise = torch.rand(hr.shape, device=hr.device, dtype=hr.dtype) / cfg.quant
        x = hr + dequant_noise
        h, w = hr.shape[2], hr.shape[3]
        dequant_logdet = x.new_full((x.shape[0],), -math.log(cfg.quant) * h * w)
        kept, latents, logdet_main = self._forward_flow(x)
        objective = dequant_logdet + logdet_main
        zs, epss, logdet_cond, log_prior, objective, traces = self._encode_conditional(kept, latents, objective, trace)
        assert objective is not None
        y_raw = kept[-1]
        y_q = quantize(y_raw)
        if lr.shape != y_q.shape:
            raise ValueError(f"LR has shape {tuple(lr.shape)}, expected {tuple(y_q.shape)} for this HR")
        log_lr = gaussian_log_prob(y_q, lr, cfg.lr_logs)
        nll_per_sample = -(objective + log_lr) / (math.log(2.0) * h * w)
        return EncodeResult(
            lr=y_q.clamp(0, 1),
            eps=epss,
            z=zs,
            lr_raw=y_raw,
            logdet=logdet_main + logdet_cond,
            log_prior=log_prior,
            log_lr=log_lr,
            objective=objective,
            dequant_logdet=dequant_logdet,
            nll=nll_per_sample.mean(),
            nll_per_sample=nll_per_sample,
            hr_input=x,
            levels=traces,
        )


class HCFlowRescaling(HCFlow):
    """HCFlow for image rescaling (×4): no likelihood, bounded prior scale."""

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
        """HR → (``clamp(ŷ)``, standardised latents), as the official rescaling forward.

        ``lr`` and ``dequant_noise`` are accepted for a uniform API and ignored (the rescaling
        model is not dequantised and has no LR likelihood).
        """
        hr = self._pad(hr, pad)
        kept, latents, logdet_main = self._forward_flow(hr)
        zs, epss, logdet_cond, _, _, traces = self._encode_conditional(kept, latents, None, trace)
        y_raw = kept[-1]
        return EncodeResult(
            lr=y_raw.clamp(0, 1), eps=epss, z=zs, lr_raw=y_raw, logdet=logdet_main + logdet_cond, hr_input=hr, levels=traces
        )

    def downscale(self, hr: Tensor) -> Tensor:
        """The 8-bit LR image the rescaling model stores: :math:`Q(\\operatorname{clamp}(\\hat y))`."""
        return quantize(self.encode(hr).lr)

    def upscale(self, lr: Tensor, temperature: Temperature = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Reconstruct the HR from a stored LR (latents drawn at τ, 1.0 as in the paper)."""
        return self.decode(lr, temperature, generator=generator)


def build_model(config: HCFlowConfig | str) -> HCFlow:
    """Build :class:`HCFlowSR` or :class:`HCFlowRescaling` from a config or a config name."""
    if isinstance(config, str):
        from .config import get_model_config

        config = get_model_config(config)
    if config.ablation != "none":  # a case of the paper's ablation study (Table 1)
        from .ablations import HCFlowAblation

        return HCFlowAblation(config)
    cls: Callable[[HCFlowConfig], HCFlow] = HCFlowSR if config.task == "sr" else HCFlowRescaling
    return cls(config)
