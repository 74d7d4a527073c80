"""Learning-rate schedules as pure functions of the iteration (book chapter 10).

Iterations are counted from 1, like the official ``current_step``.  The official
``MultiStepLR_Restart`` scheduler is stepped once per iteration *before* the optimisation
step, so with milestones :math:`m_1 < m_2 < \\dots` the rate used by iteration :math:`i` is

.. math:: \\eta_i = \\eta_0\\,\\gamma^{\\#\\{k:\\ m_k \\le i\\}}

— iteration :math:`m_k` itself already runs at the decayed rate (HCFlow+: iterations
1…19,999 at 5e-5, 20,000…39,999 at 2.5e-5, from 40,000 on 1.25e-5).  The linear schedule
decays from :math:`\\eta_0` at iteration 1 to ``final_factor``·:math:`\\eta_0` at the last
iteration.  A warm-up (official ``warmup_iter`` :math:`w`) multiplies the rate by
:math:`i/w` for :math:`i < w`.

Because the rate is a function of the iteration only, resuming needs nothing but the
iteration number: :class:`LRSchedule` sets ``group["lr"]`` for each iteration.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch.optim import Optimizer

from .config import ScheduleConfig

__all__ = ["LRSchedule", "lr_factor"]


def lr_factor(schedule: ScheduleConfig, iteration: int) -> float:
    """The factor :math:`\\eta_i/\\eta_0` for ``iteration`` (counted from 1)."""
    if iteration < 1:
        raise ValueError(f"iterations are counted from 1, got {iteration}")
    if schedule.kind == "multistep":
        factor = schedule.gamma ** sum(1 for m in schedule.milestones if m <= iteration)
    elif schedule.kind == "linear":
        start = max(schedule.warmup, 1)
        span = max(schedule.iterations - start, 1)
        t = min(max(iteration - start, 0) / span, 1.0)
        factor = 1.0 - (1.0 - schedule.final_factor) * t
    else:
        factor = 1.0
    if iteration < schedule.warmup:
        factor *= iteration / schedule.warmup
    return factor


class LRSchedule:
    """Sets the learning rate of one or more optimisers for each iteration."""

    def __init__(self, schedule: ScheduleConfig, optimizers: Sequence[Optimizer], base_rates: Sequence[float]) -> None:
        if len(optimizers) != len(base_rates):
            raise ValueError("one base learning rate per optimiser")
        self.schedule = schedule
        self.optimizers = list(optimizers)
        self.base_rates = [float(r) for r in base_rates]
        self.iteration = 0

    def rate(self, iteration: int, which: int = 0) -> float:
        return self.base_rates[which] * lr_factor(self.schedule, iteration)

    def step_to(self, iteration: int) -> float:
        """Set the rates for ``iteration``; returns the first optimiser's rate."""
        self.iteration = iteration
        for k, opt in enumerate(self.optimizers):
            r = self.rate(iteration, k)
            for group in opt.param_groups:
                group["lr"] = r
        return self.rate(iteration, 0)

    def state_dict(self) -> dict[str, object]:
        return {"iteration": self.iteration, "base_rates": list(self.base_rates), "kind": self.schedule.kind,
                "milestones": list(self.schedule.milestones)}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.iteration = int(state["iteration"])  # type: ignore[call-overload]
