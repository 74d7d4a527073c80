"""Activation normalisation (Glow, :cite:`kingma2018glow`; book chapter 3).

Per channel :math:`c`, with parameters ``bias`` :math:`b_c` and ``logs`` :math:`s_c`:

.. math:: y_{c,h,w} = (x_{c,h,w} + b_c)\\, e^{s_c}, \\qquad
          \\log|\\det J| = H W \\sum_c s_c .

Note the order: the bias is added *before* scaling (as in the official HCFlow code).

Data-dependent initialisation: the first time the layer runs in training mode and is not yet
initialised, it sets :math:`b = -\\operatorname{mean}(x)` and
:math:`s = \\log\\big(1 / (\\operatorname{std}(x) + 10^{-6})\\big)` per channel (biased
statistics over batch and pixels), so the initial output has zero mean and unit variance.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Flow

__all__ = ["ActNorm"]


class ActNorm(Flow):
    """Per-channel affine normalisation with data-dependent initialisation.

    Args:
        channels: number of channels ``C``.
        eps: added to the standard deviation in the initialisation (official value ``1e-6``).

    The persistent buffer ``initialized`` records whether the data-dependent initialisation
    has run; it is saved in ``hcflow_lite`` checkpoints (the official checkpoints do not store
    it, so :func:`hcflow_lite.load_official` sets it).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))
        self._initialized = False  # host-side mirror of the buffer: no device sync per forward

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._initialized = bool(self.initialized)

    def mark_initialized(self, value: bool = True) -> None:
        """Mark the data-dependent initialisation as done (or undo it, for ``value=False``)."""
        self.initialized.fill_(value)
        self._initialized = value

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``bias`` and ``logs`` so that ``forward(x)`` has zero mean, unit variance per channel."""
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(0, 2, 3), keepdim=True).sqrt()
        self.bias.copy_(-mean)
        self.logs.copy_(torch.log(1.0 / (std + self.eps)))
        self.mark_initialized(True)

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        if self.training and not self._initialized:
            self.initialize(x)
        y = (x + self.bias) * torch.exp(self.logs)
        logdet = (x.shape[2] * x.shape[3]) * self.logs.sum()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor, cond: object = None) -> Tensor:
        return y * torch.exp(-self.logs) - self.bias

    def extra_repr(self) -> str:
        return f"{self.channels}"
