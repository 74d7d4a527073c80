"""One training iteration of each recipe, step by step as the official code (spec §7).

**SR** (HCFlow, HCFlow+, HCFlow++), iteration :math:`i` counted from 1, one Adam optimiser for
the flow — each loss group is its own backward, clipping and Adam step:

1. *NLL step* (``nll > 0``): :math:`\\lambda_{nll}\\,\\mathcal L_{nll}`;
2. *HR pixel step* (``pixel_hr > 0``): :math:`\\lambda_{pix}\\,\\operatorname{mean}|f^{-1}(y^*, 0) - x|`;
3. *perceptual/GAN step* (``perceptual > 0`` or ``gan > 0``): on a sample
   :math:`\\hat x = f^{-1}(y^*, \\tau)`, :math:`\\lambda_{fea}\\,\\mathcal L_{fea}(\\hat x, x) + \\lambda_{gan}\\,\\mathcal L_G(D(\\hat x))`;
4. *discriminator step* (``gan > 0``): :math:`\\mathcal L_D(D(x), D(\\hat x))` with its own Adam.

With a GAN the flow is updated only when :math:`i > ` ``d_init_iters`` (1,500: the
discriminator warms up on a frozen generator) and :math:`i` is a multiple of ``d_update_ratio``.

**Rescaling**: one combined step on
:math:`\\lambda_{hr}\\mathcal L_{hr} + \\lambda_{lr}\\mathcal L_{lr} + \\lambda_z\\mathcal L_z`
(:mod:`hcflow_lite.losses.rescaling`).

After every backward: gradients clipped element-wise to ±``max_grad_clip`` (5), then to a
global norm of ``max_grad_norm`` (100).

**Non-finite guard.** A step whose loss is not finite on any process is skipped on all of them
(no backward, no Adam step — the official code does this for the loss); a step whose clipped
gradient is not finite is skipped too (the official code would apply it and poison the
weights).  The rescaling step is skipped as a whole when any of its terms is not finite (the
official code silently drops the non-finite terms and steps on the rest).

**The official HCFlow+ gradient leak** (``losses.official_grad_leak``).  The official
``optimize_parameters`` never clears the gradients at the start of an iteration; it clears
them after the NLL step, before the perceptual/GAN step and in the discriminator section.  In
HCFlow+ (pixel step, no GAN) the pixel step's gradients therefore survive into the next
iteration and are added to the NLL gradients, so every NLL Adam step also re-applies the
previous iteration's (already clipped) pixel gradient.  By default this engine clears the
gradients before every step; ``official_grad_leak: true`` reproduces the official behaviour
(and keeps the carried gradients in checkpoints, so that resuming stays exact).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..losses import (
    PerceptualLoss,
    VGG19Features,
    build_discriminator,
    discriminator_loss,
    generator_loss,
    nll_loss,
    pixel_criterion,
    rescaling_losses,
)
from ..models import HCFlow
from .config import LossConfig, OptimConfig
from .distributed import all_reduce_sum

__all__ = ["FlowObjectives", "IterationResult", "Recipe", "adam"]


class FlowObjectives(nn.Module):
    """The flow as ``DistributedDataParallel`` sees it: one ``forward`` per optimisation step.

    DDP synchronises gradients of what runs through its ``forward``; the flow's losses need
    ``encode`` *or* ``decode``, so this wrapper dispatches on ``kind``.
    """

    def __init__(self, model: HCFlow) -> None:
        super().__init__()
        self.model = model

    def forward(  # type: ignore[override]
        self,
        kind: str,
        hr: Tensor | None = None,
        lr: Tensor | None = None,
        noise: Tensor | None = None,
        eps: Sequence[Tensor] | None = None,
        temperature: float = 0.0,
    ) -> tuple[Tensor, ...]:
        m = self.model
        if kind == "nll":
            assert hr is not None and lr is not None
            return (nll_loss(m, hr, lr, noise)[0],)
        if kind == "decode":
            assert lr is not None
            return (m.decode(lr, temperature, eps=eps),)
        if kind == "rescaling":
            assert hr is not None and lr is not None
            t = rescaling_losses(m, hr, lr, temperature, eps=eps)
            return t.hr_l1, t.lr_l2, t.latent_l2, t.reconstruction
        raise ValueError(f"unknown objective {kind!r}")


@dataclass
class IterationResult:
    """What one iteration did: unweighted loss terms, the weighted generator loss, skipped steps."""

    values: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    generator_updated: bool = False


def adam(
    params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999), weight_decay: float = 0.0
) -> torch.optim.Adam:
    """The recipe's Adam, with PyTorch's fused kernel where it has one (CPU and CUDA, float params).

    The fused kernel updates every parameter in one pass (one kernel per dtype and device)
    instead of a dozen elementwise calls per tensor: on a CPU about 3× faster for the paper-size
    SR network's 23 M parameters (1,478 tensors; ``ci/benchmark.py``).  Same update rule, same
    state-dict (``tests/test_training.py`` checks both against the plain implementation).
    """
    params = list(params)
    # (the fused kernel also assumes each gradient has its parameter's memory layout, which
    # autograd guarantees for contiguous parameters)
    fused = bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.is_floating_point() and p.is_contiguous() for p in params
    )
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused or None)


def _finite_everywhere(x: Tensor) -> bool:
    """Whether ``x`` is finite on every process (one all-reduce under DDP)."""
    bad = torch.tensor([0.0 if bool(torch.isfinite(x.detach()).all()) else 1.0], device=x.device)
    return float(all_reduce_sum(bad)) == 0.0


def _f(x: Tensor) -> float:
    return float(x.detach())


def _psnr_float(x: Tensor, y: Tensor) -> float:
    """PSNR of a batch in float (a progress indicator; validation uses the official 8-bit metric)."""
    mse = float((x.detach().float() - y.float()).pow(2).mean())
    return 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")


class Recipe:
    """The optimisation steps of one run (the models, optimisers and losses they need).

    Args:
        model: the flow (its raw module; ``flow`` may wrap it in DDP).
        flow: what to call for the flow's forwards (``FlowObjectives(model)`` or its DDP wrapper).
        losses, optim: the run's loss and optimiser configs.
        patch_size: the training HR patch size (the discriminator's input size).
        autocast: a factory of the autocast context for forward passes (``nullcontext`` on CPU).
        wrap: wraps a module for data parallelism (identity in a single process).
    """

    def __init__(
        self,
        model: HCFlow,
        flow: nn.Module,
        losses: LossConfig,
        optim: OptimConfig,
        patch_size: int,
        device: torch.device,
        autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
        wrap: Callable[[nn.Module], nn.Module] = lambda m: m,
    ) -> None:
        self.model, self.flow = model, flow
        self.losses, self.optim = losses, optim
        self.autocast = autocast
        self.task = model.config.task
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = adam(self.params, optim.learning_rate, (optim.beta1, optim.beta2), optim.weight_decay)
        self.perceptual: PerceptualLoss | None = None
        self.discriminator: nn.Module | None = None
        self.d_wrapped: nn.Module | None = None
        self.optimizer_d: torch.optim.Optimizer | None = None
        if self.task == "rescaling" and (losses.perceptual > 0 or losses.gan > 0):
            raise ValueError("the rescaling recipe has no perceptual or GAN loss (set losses.perceptual=0, losses.gan=0)")
        if self.task == "rescaling" and losses.nll > 0:
            raise ValueError("the rescaling model has no likelihood: set losses.nll=0")
        if self.task == "sr" and (losses.pixel_lr > 0 or losses.latent > 0):
            raise ValueError("losses.pixel_lr and losses.latent belong to the rescaling recipe")
        if self.task == "sr" and losses.nll == 0 and losses.pixel_hr == 0 and losses.perceptual == 0 and losses.gan == 0:
            raise ValueError("all SR loss weights are 0: nothing to train")
        if losses.perceptual > 0:
            vgg = VGG19Features(weights_path=losses.vgg_weights, allow_random=losses.allow_random_vgg)
            self.perceptual = PerceptualLoss(vgg, losses.feature_criterion).to(device)
        if losses.gan > 0:
            if losses.discriminator in ("discriminator_vgg", "auto"):
                d = build_discriminator("discriminator_vgg", losses.discriminator_nf, patch_size)
            else:
                d = build_discriminator(losses.discriminator, losses.discriminator_nf, patch_size)
            self.discriminator = d.to(device)
            self.d_wrapped = wrap(self.discriminator)
            self.optimizer_d = adam(self.discriminator.parameters(), optim.d_learning_rate, (optim.d_beta1, optim.d_beta2))

    # ------------------------------------------------------------------ helpers
    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer] + ([self.optimizer_d] if self.optimizer_d is not None else [])

    @property
    def perceptual_label(self) -> str | None:
        return self.perceptual.label if self.perceptual is not None else None

    def zero_flow_grads(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def carried_grads(self) -> list[Tensor | None]:
        return [None if p.grad is None else p.grad.detach().clone() for p in self.params]

    def restore_grads(self, grads: Sequence[Tensor | None]) -> None:
        for p, g in zip(self.params, grads, strict=True):
            p.grad = None if g is None else g.to(p.device, p.dtype).clone()

    def _clip(self, params: Iterable[nn.Parameter]) -> Tensor:
        params = list(params)
        if self.optim.max_grad_clip is not None:
            torch.nn.utils.clip_grad_value_(params, self.optim.max_grad_clip)
        max_norm = self.optim.max_grad_norm if self.optim.max_grad_norm is not None else math.inf
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def _step(
        self,
        loss: Tensor,
        name: str,
        result: IterationResult,
        optimizer: torch.optim.Optimizer | None = None,
        params: Sequence[nn.Parameter] | None = None,
        clip: bool = True,
    ) -> bool:
        """Backward, clip, Adam step — or skip (and record) when the loss or gradient is not finite."""
        optimizer = optimizer or self.optimizer
        params = params if params is not None else self.params
        if not _finite_everywhere(loss):
            result.skipped.append(name)
            return False
        loss.backward()
        if clip:
            norm = self._clip(params)
            finite = bool(torch.isfinite(norm))
        else:
            finite = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)
        if not finite:
            optimizer.zero_grad(set_to_none=True)
            result.skipped.append(name + "_grad")
            return False
        optimizer.step()
        return True

    # ------------------------------------------------------------------ iterations
    def iteration(
        self,
        iteration: int,
        hr: Tensor,
        lr: Tensor,
        noise: Tensor | None,
        eps: Sequence[Tensor] | None,
    ) -> IterationResult:
        """One iteration (``iteration`` counted from 1) on this process's part of the batch."""
        if self.task == "rescaling":
            return self._rescaling(hr, lr, eps)
        return self._sr(iteration, hr, lr, noise, eps)

    def _rescaling(self, hr: Tensor, lr: Tensor, eps: Sequence[Tensor] | None) -> IterationResult:
        w, res = self.losses, IterationResult()
        self.zero_flow_grads()
        with self.autocast():
            hr_l1, lr_l2, z_l2, x_hat = self.flow("rescaling", hr, lr, eps=eps, temperature=w.temperature)
        total = w.pixel_hr * hr_l1 + w.pixel_lr * lr_l2 + w.latent * z_l2
        res.values.update(pixel_hr=_f(hr_l1), pixel_lr=_f(lr_l2), latent=_f(z_l2), loss=_f(total),
                          batch_psnr=_psnr_float(x_hat, hr))
        res.generator_updated = self._step(total, "rescaling", res)
        return res

    def _sr(
        self, iteration: int, hr: Tensor, lr: Tensor, noise: Tensor | None, eps: Sequence[Tensor] | None
    ) -> IterationResult:
        w, res = self.losses, IterationResult()
        gan = w.gan > 0
        update_flow = not gan or (iteration % w.d_update_ratio == 0 and iteration > w.d_init_iters)
        fake: Tensor | None = None
        total = 0.0
        if update_flow:
            if not w.official_grad_leak:
                self.zero_flow_grads()
            if w.nll > 0:
                with self.autocast():
                    (nll,) = self.flow("nll", hr, lr, noise)
                res.values["nll"] = _f(nll)
                total += w.nll * _f(nll)
                res.generator_updated |= self._step(w.nll * nll, "nll", res)
            self.zero_flow_grads()
            if w.pixel_hr > 0:
                with self.autocast():
                    (x0,) = self.flow("decode", lr=lr, temperature=0.0)
                pix = pixel_criterion(x0.float(), hr, w.pixel_criterion)  # type: ignore[arg-type]
                res.values.update(pixel_hr=_f(pix), batch_psnr=_psnr_float(x0, hr))
                total += w.pixel_hr * _f(pix)
                res.generator_updated |= self._step(w.pixel_hr * pix, "pixel_hr", res)
                # (no zero_grad here: in official mode these gradients leak into the next NLL step)
            if w.perceptual > 0 or gan:
                self.zero_flow_grads()
                with self.autocast():
                    (fake,) = self.flow("decode", lr=lr, eps=eps, temperature=w.temperature)
                fake = fake.float()
                loss = fake.new_zeros(())
                if self.perceptual is not None:
                    fea = self.perceptual(fake, hr)
                    res.values["perceptual"] = _f(fea)
                    loss = loss + w.perceptual * fea
                if gan:
                    assert self.discriminator is not None
                    d = self.discriminator
                    for p in d.parameters():
                        p.requires_grad_(False)
                    pred_fake = d(fake)
                    pred_real = d(hr) if w.gan_type == "ragan" else None
                    g_loss = generator_loss(pred_fake, pred_real, w.gan_type)
                    for p in d.parameters():
                        p.requires_grad_(True)
                    res.values["gan"] = _f(g_loss)
                    loss = loss + w.gan * g_loss
                total += _f(loss)
                res.generator_updated |= self._step(loss, "perceptual_gan", res)
            res.values["loss"] = total
        if gan:
            assert self.d_wrapped is not None and self.optimizer_d is not None and self.discriminator is not None
            self.zero_flow_grads()
            if fake is None:
                with torch.no_grad(), self.autocast():
                    fake = self.model.decode(lr, w.temperature, eps=eps).float()
            self.optimizer_d.zero_grad(set_to_none=True)
            pred_real = self.d_wrapped(hr)
            pred_fake = self.d_wrapped(fake.detach())
            d_real, d_fake = discriminator_loss(pred_real, pred_fake, w.gan_type)
            res.values.update(d_real=_f(d_real), d_fake=_f(d_fake))
            self._step(d_real + d_fake, "discriminator", res, self.optimizer_d, list(self.discriminator.parameters()), clip=False)
        return res
