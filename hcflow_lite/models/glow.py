"""A small unconditional multi-scale Glow (RealNVP's multi-scale architecture; book chapter 3).

The image :math:`x \\in [0, 1]^{C\\times H\\times W}` is centred (:math:`x - \\tfrac12`, log-det 0)
and passes ``L`` levels.  Level :math:`l` is

    squeeze → ``K`` flow steps (ActNorm → invertible 1×1 conv → affine coupling) → split

where the split keeps half of the channels, which flow on to the next level, and factors out
the other half as the latent :math:`z_l`; the last level keeps everything as :math:`z_{L-1}`.
The bijection :math:`f(x) = (z_0, \\dots, z_{L-1})` has the log-determinant of its layers, and
the latents get a *learned prior*: :math:`z_l \\sim \\mathcal N(\\mu_l, \\sigma_l^2)` with
:math:`[\\mu_l, \\log\\sigma_l]` = even / odd channels of a zero-initialised 3×3 convolution of the
kept channels :math:`h_l` (the same convention as HCFlow's priors), and a learned constant
:math:`(\\mu, \\log\\sigma)` at the top.  Hence

.. math::
   \\log p(x) = \\sum_{l<L-1} \\log\\mathcal N\\big(z_l; \\mu_l(h_l), \\sigma_l(h_l)^2\\big)
              + \\log\\mathcal N(z_{L-1}; \\mu_{\\rm top}, \\sigma_{\\rm top}^2)
              + \\log\\left|\\det \\frac{\\partial f}{\\partial x}\\right| .

Discrete images (integers :math:`k \\in \\{0, \\dots, n-1\\}`, ``num_bins`` :math:`= n`) are
dequantised, :math:`x = (k + u)/n` with :math:`u \\sim U(0, 1)` (:func:`dequantize`), and scored in
bits per dimension (:func:`bits_per_dim`),

.. math:: \\text{bpd} = -\\frac{\\log p(x) - D \\log n}{D \\ln 2}, \\qquad D = CHW,

an upper bound on the code length of :math:`k` under the model.  Sampling at temperature
:math:`\\tau` draws every latent as :math:`\\mu + \\sigma\\,\\tau\\,\\varepsilon`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..flows import (
    ActNorm,
    AffineCoupling,
    Flow,
    FlowStep,
    InvConv1x1,
    InvConv1x1LU,
    SequentialFlow,
    Split,
    Squeeze,
    gaussian_log_prob,
)
from ..nets import FCN, ZeroConv2d

__all__ = ["Glow", "GlowConfig", "GlowLevel", "bits_per_dim", "dequantize"]


@dataclass(frozen=True)
class GlowConfig:
    """Architecture of :class:`Glow`.

    Attributes:
        in_channels: image channels ``C``.
        image_size: height = width of the images (divisible by :math:`2^L`).
        L: number of levels (squeeze + steps + split each).
        K: flow steps per level.
        hidden_channels: hidden width of the coupling networks (:class:`~hcflow_lite.nets.FCN`).
        lu: use the LU-parametrised 1×1 convolution (:class:`~hcflow_lite.flows.InvConv1x1LU`).
    """

    in_channels: int = 1
    image_size: int = 8
    L: int = 3
    K: int = 4
    hidden_channels: int = 64
    lu: bool = False

    def __post_init__(self) -> None:
        if self.L < 1 or self.K < 1 or self.in_channels < 1 or self.hidden_channels < 1:
            raise ValueError(f"L, K, in_channels and hidden_channels must be ≥ 1: {self}")
        if self.image_size % 2**self.L:
            raise ValueError(f"image_size {self.image_size} is not divisible by 2^L = {2**self.L}")

    def level_shapes(self) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
        """Per level: the ``(C, H, W)`` the flow steps run on and the latent's ``(C, H, W)``."""
        c, s = self.in_channels, self.image_size
        out = []
        for level in range(self.L):
            c, s = 4 * c, s // 2
            last = level == self.L - 1
            latent_c = c if last else c - c // 2
            out.append(((c, s, s), (latent_c, s, s)))
            c = c if last else c // 2
        return out

    @property
    def num_dims(self) -> int:
        """:math:`D = C H W`."""
        return self.in_channels * self.image_size**2


def _prior_params(h: Tensor) -> tuple[Tensor, Tensor]:
    """``[μ, log σ]`` = even / odd channels (the HCFlow convention)."""
    return h[:, 0::2], h[:, 1::2]


class GlowLevel(nn.Module):
    """One level: ``squeeze``, ``steps`` (a :class:`SequentialFlow` of :class:`FlowStep`), ``split``
    and ``prior`` (a zero-initialised conv of the kept channels; ``None`` on the last level)."""

    def __init__(self, channels: int, K: int, hidden: int, last: bool, lu: bool) -> None:
        super().__init__()
        self.squeeze = Squeeze()
        steps = []
        for _ in range(K):
            permute: Flow = InvConv1x1LU(channels) if lu else InvConv1x1(channels)
            coupling = AffineCoupling(channels, lambda i, o: FCN(i, o, hidden))
            steps.append(FlowStep(ActNorm(channels), permute, coupling))
        self.steps = SequentialFlow(*steps)
        keep = channels // 2
        self.split = None if last else Split(keep)
        self.prior = None if last else ZeroConv2d(keep, 2 * (channels - keep))


class Glow(Flow):
    """A multi-scale Glow for small images, levels in a loop (see the module docstring).

    * ``forward(x) -> ((z_0, …, z_{L-1}), logdet)``: the bijection, ``x`` in ``[0, 1]``;
    * ``inverse(zs) -> x``;
    * :meth:`log_prob`, :meth:`bits_per_dim`, :meth:`sample`, :meth:`initialize`.
    """

    def __init__(self, config: GlowConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = GlowConfig(**overrides)
        elif overrides:
            raise TypeError("pass either a GlowConfig or keyword overrides, not both")
        self.config = config
        shapes = config.level_shapes()
        self.levels = nn.ModuleList(
            GlowLevel(shape[0], config.K, config.hidden_channels, last=(i == config.L - 1), lu=config.lu)
            for i, (shape, _) in enumerate(shapes)
        )
        top = shapes[-1][1]
        self.top_mean = nn.Parameter(torch.zeros(1, *top))
        self.top_logs = nn.Parameter(torch.zeros(1, *top))

    # ------------------------------------------------------------------ the bijection
    def _check(self, x: Tensor) -> None:
        c, s = self.config.in_channels, self.config.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"expected images B×{c}×{s}×{s}, got {tuple(x.shape)}")

    def _encode(self, x: Tensor) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """Latents, the kept tensor each latent is conditioned on (``h_l``), and the log-det."""
        self._check(x)
        h = x - 0.5
        logdet = x.new_zeros(x.shape[0])
        zs, kept = [], []
        for level in self.levels:
            h, ld = level.squeeze(h)
            logdet = logdet + ld
            h, ld = level.steps(h)
            logdet = logdet + ld
            if level.split is not None:
                (h, z), _ = level.split(h)
                zs.append(z)
                kept.append(h)
            else:
                zs.append(h)
        return zs, kept, logdet

    def forward(self, x: Tensor, cond: object = None) -> tuple[tuple[Tensor, ...], Tensor]:
        zs, _, logdet = self._encode(x)
        return tuple(zs), logdet

    def inverse(self, zs: tuple[Tensor, ...] | list[Tensor], cond: object = None) -> Tensor:
        if len(zs) != self.config.L:
            raise ValueError(f"expected {self.config.L} latents (level 0 first), got {len(zs)}")
        h = zs[-1]
        for index in reversed(range(self.config.L)):
            level = self.levels[index]
            if level.split is not None:
                h = level.split.inverse((h, zs[index]))
            h = level.steps.inverse(h)
            h = level.squeeze.inverse(h)
        return h + 0.5

    # ------------------------------------------------------------------ densities
    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x)` per image, a density on :math:`\\mathbb R^D` (nats)."""
        zs, kept, logdet = self._encode(x)
        logp = logdet + gaussian_log_prob(zs[-1], self.top_mean, self.top_logs)
        for level, z, h in zip(self.levels, zs[:-1], kept):
            mean, logs = _prior_params(level.prior(h))
            logp = logp + gaussian_log_prob(z, mean, logs)
        return logp

    def bits_per_dim(
        self, k: Tensor, num_bins: int, centered: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """Bits per dimension of integer images ``k`` (values ``0..num_bins-1``), one dequantisation draw."""
        x = dequantize(k, num_bins, centered=centered, generator=generator)
        return bits_per_dim(self.log_prob(x), self.config.num_dims, num_bins)

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Data-dependent initialisation of every ActNorm (in the flow steps and in the coupling
        networks) from one batch ``x``, as Glow does before training."""
        was_training = self.training
        for m in self.modules():
            if isinstance(m, ActNorm):
                m.mark_initialized(False)
        self.train()
        self.log_prob(x)
        self.train(was_training)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        eps: list[Tensor] | None = None,
    ) -> Tensor:
        """``n`` images (not clamped): every latent is :math:`\\mu + \\sigma\\tau\\varepsilon`, coarsest first.

        ``eps`` (level 0 first, shapes of the latents) fixes the standard-normal draws.
        """
        if n < 1:
            raise ValueError("n must be ≥ 1")
        ref = self.top_mean
        shapes = [latent for _, latent in self.config.level_shapes()]

        def draw(index: int) -> Tensor:
            if eps is not None:
                e = eps[index]
                if tuple(e.shape) != (n, *shapes[index]):
                    raise ValueError(f"eps[{index}] has shape {tuple(e.shape)}, expected {(n, *shapes[index])}")
                return e.to(ref)
            return torch.randn((n, *shapes[index]), generator=generator).to(ref)

        L = self.config.L
        h = self.top_mean + torch.exp(self.top_logs) * temperature * draw(L - 1)
        for index in reversed(range(L)):
            level = self.levels[index]
            if level.split is not None:
                mean, logs = _prior_params(level.prior(h))
                z = mean + torch.exp(logs) * temperature * draw(index)
                h = level.split.inverse((h, z))
            h = level.steps.inverse(h)
            h = level.squeeze.inverse(h)
        return h + 0.5

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


# ---------------------------------------------------------------------- dequantisation
def dequantize(k: Tensor, num_bins: int, centered: bool = False, generator: torch.Generator | None = None) -> Tensor:
    """Uniform dequantisation of integer data ``k ∈ {0, …, n−1}`` (``n = num_bins``) to ``[0, 1]``.

    One-sided (default; RealNVP, Glow and, with its own constants, the official HCFlow code):
    :math:`x = (k + u)/n`, :math:`u \\sim U(0, 1)`, so grey level :math:`k` owns the box
    :math:`[k/n, (k+1)/n)`.  Centred: :math:`x = (k + u - \\tfrac12)/n`, the box
    :math:`[(k-\\tfrac12)/n, (k+\\tfrac12)/n)` around :math:`k/n`.  Either way the boxes tile the line,
    so the dequantised likelihood bounds the discrete one (:func:`bits_per_dim`).
    """
    if k.dtype.is_floating_point and not torch.equal(k, k.round()):
        raise ValueError("dequantize expects integer grey levels k (got non-integer values)")
    if int(k.min()) < 0 or int(k.max()) >= num_bins:
        raise ValueError(f"grey levels must lie in 0..{num_bins - 1}, got {int(k.min())}..{int(k.max())}")
    u = torch.rand(k.shape, generator=generator, dtype=torch.float32).to(k.device)
    if centered:
        u = u - 0.5
    return (k.float() + u) / num_bins


def bits_per_dim(log_prob: Tensor, num_dims: int, num_bins: int) -> Tensor:
    """:math:`-(\\log p(x) - D\\log n)/(D\\ln 2)` for a density ``log_prob`` of dequantised data in
    ``[0, 1]^D`` (the :math:`-D\\log n` converts the density on :math:`[0,1]` to one per grey level)."""
    return -(log_prob - num_dims * math.log(num_bins)) / (num_dims * math.log(2.0))
