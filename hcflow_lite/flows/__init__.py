"""Invertible layers, one module per idea.  Every layer is a :class:`Flow`:
``forward(x, cond=None) -> (y, logdet)`` and ``inverse(y, cond=None) -> x``."""

from .actnorm import ActNorm
from .base import Flow, SequentialFlow, zeros_logdet
from .coupling import AdditiveCoupling, AffineCoupling, soft_clamp
from .flow_step import FlowStep
from .gaussian import LOG_2PI, DiagonalGaussian, gaussian_log_prob, gaussian_sample
from .haar import HaarDownsampling, haar_filters
from .invconv import InvConv1x1, InvConv1x1LU
from .rescaling_coupling import LRCoupling
from .split import Split
from .squeeze import Squeeze, squeeze2d, unsqueeze2d

__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "DiagonalGaussian",
    "Flow",
    "FlowStep",
    "HaarDownsampling",
    "InvConv1x1",
    "InvConv1x1LU",
    "LOG_2PI",
    "LRCoupling",
    "SequentialFlow",
    "Split",
    "Squeeze",
    "gaussian_log_prob",
    "gaussian_sample",
    "haar_filters",
    "soft_clamp",
    "squeeze2d",
    "unsqueeze2d",
    "zeros_logdet",
]
