"""One level's conditional flow: feature extractor, conditional prior, conditional steps.

Book chapter 5.  For level :math:`l` with latent :math:`a_l` (``A`` channels) and conditioning
input :math:`u_l` (the kept channels :math:`y_l` and the upsampled features of all coarser
levels, eq. 5 of the paper):

1. features :math:`h_l = E_l(u_l)` (an RRDB network, :class:`FeatureExtractor`);
2. :math:`z_l = g_l(a_l; h_l)`, ``P`` conditional flow steps (ActNorm, 1×1 conv, affine
   coupling that reads :math:`[z_1 \\mid h_l]`);
3. the prior :math:`\\mathcal N(z_l; \\mu_l, \\sigma_l^2)` with
   :math:`[\\mu_l, \\log\\sigma_l]` = even / odd channels of a zero-initialised 3×3 conv of
   :math:`h_l` (for rescaling :math:`\\log\\sigma_l` is soft-clamped by :math:`0.318\\arctan(2\\,\\cdot)`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..flows import ActNorm, AffineCoupling, FlowStep, InvConv1x1, SequentialFlow, soft_clamp
from ..nets import FCN, RRDB, ZeroConv2d
from ..nets.precision import caller_autocast, caller_autocast_active

__all__ = ["ConditionalLevel", "FeatureExtractor"]


class FeatureExtractor(nn.Module):
    """RRDB features of a level's conditioning input :math:`u_l`.

    ``f0 = conv_first(u)``; SR (``dual=True``): ``f1 = trunk0(f0)``,
    ``f2 = trunk_conv(trunk1(f1)) + f0`` and the feature is ``[f1 | f2]`` (2·nf channels);
    rescaling (``dual=False``): ``trunk_conv(trunk1(trunk0(f0))) + f0`` (nf channels).

    Precision and layout (these networks are 56–88 % of the model's FLOPs; book appendix
    *Performance*): inside a model called under ``torch.autocast``, the extractor re-opens the
    caller's autocast, which the model switched off for the flow
    (:mod:`hcflow_lite.nets.precision`), so the RRDBs' convolutions run in bfloat16, while
    ``conv_first`` and ``trunk_conv`` (together 0.6 % of the FLOPs) and the skip connections
    around the RRDBs stay in the dtype of ``u`` (float32): the features then carry the rounding
    of the RRDB branches only, each damped by the RRDB's 0.2 (all-bfloat16 features put the NLL
    about 4× further from float32 on the parity fixtures, a bfloat16 ``trunk_conv`` alone 0.46 %
    at paper size).  The output is in the dtype of ``u``, contiguous, ready for the flow.

    Layout: the tensors inside are ``channels_last`` (NHWC) when :attr:`channels_last` is set,
    except in float32 training.  Without autograd (inference, sampling) oneDNN's forward
    convolutions read and write NHWC directly instead of reordering from and to NCHW around every
    convolution (measured about 10 % faster in float32 on a CPU); in bfloat16 training its
    backward convolutions gain too (the paper-size SR training step 6 % faster, paired, 8 of 8
    repetitions); in float32 training they do not (1.00×), and the tensors stay NCHW there.
    """

    #: run the RRDBs on channels-last (NHWC) tensors (except in float32 training)
    channels_last: bool = True

    def __init__(self, in_channels: int, nf: int, gc: int, nb: tuple[int, int], dual: bool) -> None:
        super().__init__()
        self.dual = dual
        self.conv_first = nn.Conv2d(in_channels, nf, 3, padding=1)
        self.trunk0 = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb[0])])
        self.trunk1 = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb[1])])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.out_channels = 2 * nf if dual else nf

    def forward(self, u: Tensor) -> Tensor:
        dtype = u.dtype
        if self.channels_last and u.dim() == 4 and (not torch.is_grad_enabled() or caller_autocast_active()):
            u = u.contiguous(memory_format=torch.channels_last)
        # conv_first in the input's dtype (1 % of the FLOPs); so the residual streams through
        # the RRDBs stay float32 too: under autocast only their branches run in bfloat16
        f0 = self.conv_first(u)
        del u  # (intermediates are released as soon as they are used: lower peak memory)
        with caller_autocast():
            f1 = self.trunk0(f0)
            t = self.trunk1(f1)
        # trunk_conv in the input's dtype too: its output enters the features undamped (the RRDBs
        # add 0.2 × their branch); in bfloat16 its rounding alone put the NLL of the paper-size
        # SR network 0.46 % off float32 (``ci/benchmark.py`` checks), in float32 0.02 %
        f2 = self.trunk_conv(t.to(dtype))
        del t
        f2 = f2.add_(f0)  # in place: a convolution's backward pass does not need its output
        del f0
        h = torch.cat([f1, f2], 1) if self.dual else f2
        del f1, f2
        # back to the flow's dtype and layout (a no-op without autocast and channels_last)
        return h.to(dtype=dtype, memory_format=torch.contiguous_format)


class ConditionalLevel(nn.Module):
    """The conditional part of one level (``flow.level{l}_condFlow`` in the official code).

    Args:
        latent_channels: ``A``, channels of the split-off latent :math:`a_l`.
        cond_in_channels: channels of :math:`u_l`.
        steps: ``P``, the number of conditional flow steps.
        hidden_channels: FCN hidden width of the conditional couplings.
        nf, gc, nb: RRDB width, growth and blocks per trunk.
        sr: SR variant (dual-stream features, unbounded prior scale) or rescaling.
    """

    def __init__(
        self,
        latent_channels: int,
        cond_in_channels: int,
        steps: int,
        hidden_channels: int,
        nf: int,
        gc: int,
        nb: tuple[int, int],
        sr: bool,
    ) -> None:
        super().__init__()
        self.sr = sr
        self.extractor = FeatureExtractor(cond_in_channels, nf, gc, nb, dual=sr)
        feat = self.extractor.out_channels
        a = latent_channels

        def subnet(cin: int, cout: int) -> nn.Module:
            # mixed precision (nets.precision): the coupling network runs under the caller's
            # autocast; the coupling itself (shift, scale, log-det) stays float32
            return FCN(cin, cout, hidden_channels, low_precision=True)

        self.steps = SequentialFlow(
            *[FlowStep(ActNorm(a), InvConv1x1(a), AffineCoupling(a, subnet, cond_channels=feat)) for _ in range(steps)]
        )
        self.prior = ZeroConv2d(feat, 2 * a)

    def prior_params(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`(\\mu_l, \\log\\sigma_l)` from the feature: even / odd output channels."""
        h = self.prior(feature)
        mean, logs = h[:, 0::2], h[:, 1::2]
        return mean, (logs if self.sr else soft_clamp(logs))
