"""Per-stage tensor shapes and parameter counts of an HCFlow network (book chapter 5; spec §5).

:func:`model_summary` runs one forward pass (``encode``) of a real model with forward hooks on
every stage and records, in execution order, what each stage outputs and how many parameters
it holds:

* main flow, level :math:`l = 0, \\dots, L-1`: squeeze (or Haar) → ``K`` flow steps → split into
  the kept channels :math:`y_l` (the LR :math:`\\hat y` at the last level) and the latent
  :math:`a_l`;
* conditional part, level :math:`l = L-1, \\dots, 0`: the conditioning input :math:`u_l`
  (eq. 5), the RRDB features :math:`h_l = E_l(u_l)`, the ``P`` conditional steps
  :math:`z_l = g_l(a_l; h_l)` and the prior head :math:`(\\mu_l, \\log\\sigma_l)`.

Given a config name or an :class:`~hcflow_lite.models.HCFlowConfig`, the network is built on
PyTorch's ``meta`` device: no memory is allocated and nothing is computed, but every module
runs its real ``forward`` and reports real shapes, so a summary of the 23-million-parameter
paper model at 160×160 costs a few seconds of Python overhead and no memory.  A model
instance is traced as it is, on its own device, with one no-gradient forward pass on a black
image.

    >>> s = model_summary("sr_x4", hr_size=160)
    >>> s.num_parameters
    23232539
    >>> print(s)          # or display(s) in a notebook for an HTML table
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .config import HCFlowConfig
from .hcflow import HCFlow, build_model

__all__ = ["ModelSummary", "Stage", "model_summary"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Stage:
    """One row of a :class:`ModelSummary`.

    Attributes:
        level: the level :math:`l` (0 is the finest).
        part: ``"main"`` (the main flow) or ``"cond"`` (the level's conditional part).
        name: ``squeeze`` | ``haar`` | ``steps`` | ``split`` | ``cond_input`` | ``features`` |
            ``cond_steps`` | ``prior``.
        shape: the stage's output shape (``split``: the kept channels; ``cond_input``:
            :math:`u_l`; ``prior``: :math:`\\mu_l`, which has the shape of :math:`\\log\\sigma_l`).
        params: parameters held by the stage (the Haar filters count, as in the official
            ``state_dict``, although they are frozen).
        steps: number of flow steps (``steps`` and ``cond_steps``).
        nets: distinct ``(in, out)`` channel pairs of the coupling networks, in step order
            (the rescaling model alternates two kinds).
        halves: channels of the coupling's ``(z_1, z_2)`` halves (``cond_steps``).
        latent: shape of the latent :math:`a_l` (``split``).
        composition: channel composition of :math:`u_l` (``cond_input``): kept channels first,
            then the feature channels of each coarser level.
        detail: a human-readable description.
    """

    level: int
    part: str
    name: str
    shape: Shape
    params: int = 0
    steps: int = 0
    nets: tuple[tuple[int, int], ...] = ()
    halves: tuple[int, int] | None = None
    latent: Shape | None = None
    composition: tuple[int, ...] = ()
    detail: str = ""


def _fmt(shape: Sequence[int]) -> str:
    return "×".join(str(int(s)) for s in shape)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _net_channels(net: nn.Module) -> tuple[int, int]:
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    return convs[0].in_channels, convs[-1].out_channels


def _coupling_nets(steps: nn.Module) -> tuple[tuple[int, int], ...]:
    pairs: list[tuple[int, int]] = []
    for step in steps:
        pair = _net_channels(step.coupling.net)
        if pair not in pairs:
            pairs.append(pair)
    return tuple(pairs)


@dataclass(repr=False)
class ModelSummary:
    """Per-stage shapes and parameter counts, in execution order (see :func:`model_summary`)."""

    config: HCFlowConfig
    hr_shape: Shape
    stages: list[Stage]
    num_parameters: int

    def stage(self, level: int, name: str) -> Stage:
        """The row of ``name`` at ``level`` (``KeyError`` if there is none)."""
        for s in self.stages:
            if s.level == level and s.name == name:
                return s
        raise KeyError(f"no stage {name!r} at level {level}")

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """``(level, stage, output shape, detail, parameters)`` strings, one per stage."""
        out = [("", "input x", _fmt(self.hr_shape), "HR image", "")]
        for s in self.stages:
            where = f"L{s.level} " + ("main" if s.part == "main" else "cond")
            out.append((where, s.name.replace("_", " "), _fmt(s.shape), s.detail, f"{s.params:,}" if s.params else "–"))
        out.append(("", "total", "", f"{self.config.name}: L={self.config.L}, K={list(self.config.K)}, P={list(self.config.P)}", f"{self.num_parameters:,}"))
        return out

    def __str__(self) -> str:
        head = ("level", "stage", "output shape", "detail", "parameters")
        rows = [head, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for k, r in enumerate(rows):
            cells = [r[i].ljust(widths[i]) if i < 4 else r[i].rjust(widths[i]) for i in range(5)]
            lines.append("  ".join(cells).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_markdown(self) -> str:
        head = "| level | stage | output shape | detail | parameters |\n|---|---|---|---|---:|\n"
        return head + "\n".join("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in self.rows())

    def _repr_html_(self) -> str:
        right = ' style="text-align:right"'
        cells = "".join(
            "<tr>" + "".join(f"<td{right if i == 4 else ''}>{html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
            for r in self.rows()
        )
        head = "".join(f"<th>{h}</th>" for h in ("level", "stage", "output shape", "detail", "parameters"))
        title = f"{html.escape(self.config.name)} at HR {_fmt(self.hr_shape[2:])}"
        return f"<table><caption>{title}</caption><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


class _Recorder:
    """Forward hooks that append a :class:`Stage` per stage call."""

    def __init__(self, model: HCFlow) -> None:
        self.model = model
        self.stages: list[Stage] = []
        self.handles: list[Any] = []
        for level in model.levels:
            self._hook(level.squeeze, self._squeeze, level)
            self._hook(level.steps, self._steps, level)
            self._hook(level.split, self._split, level)
            self._hook(level.cond.extractor, self._features, level)
            self._hook(level.cond.steps, self._cond_steps, level)
            self._hook(level.cond.prior, self._prior, level)

    def _hook(self, module: nn.Module, fn: Any, level: nn.Module) -> None:
        self.handles.append(module.register_forward_hook(lambda m, args, out: fn(level, m, args, out)))

    def close(self) -> None:
        for h in self.handles:
            h.remove()

    def _add(self, **kw: Any) -> None:
        self.stages.append(Stage(**kw))

    def _squeeze(self, level, module, args, out) -> None:
        y = out[0]
        haar = self.model.config.task == "rescaling"
        detail = "Haar wavelet (channels 0–2: 2×2 averages of RGB)" if haar else "space-to-depth 2×2"
        self._add(level=level.index, part="main", name="haar" if haar else "squeeze", shape=tuple(y.shape), params=_count(module), detail=detail)

    def _steps(self, level, module, args, out) -> None:
        y = out[0]
        nets = _coupling_nets(module)
        n = len(module)
        if n == 0:
            detail = "no flow steps"
        else:
            step = module[0]
            parts = ["ActNorm"] + (["1×1 conv"] if step.permute is not None else [])
            net = type(step.coupling.net).__name__
            if self.model.config.task == "rescaling":
                kind = "3-vs-rest coupling"
                labels = ["affine", "additive"]
                pairs = " | ".join(f"{labels[k % 2]} {i} → {o}" for k, (i, o) in enumerate(nets))
            else:
                kind = "affine coupling"
                pairs = " | ".join(f"{i} → {o}" for i, o in nets)
            detail = f"{n} steps: {', '.join(parts)}, {kind} ({net} {pairs})"
        self._add(level=level.index, part="main", name="steps", shape=tuple(y.shape), params=_count(module), steps=n, nets=nets, detail=detail)

    def _split(self, level, module, args, out) -> None:
        (kept, a), _ = out
        last = level.index == self.model.config.L - 1
        kept_name = "LR ŷ" if last else f"y_{level.index}"
        detail = f"keep {kept_name} {_fmt(kept.shape)}, latent a_{level.index} {_fmt(a.shape)}"
        self._add(level=level.index, part="main", name="split", shape=tuple(kept.shape), latent=tuple(a.shape), detail=detail)

    def _features(self, level, module, args, out) -> None:
        cfg = self.model.config
        u = args[0]
        keep = cfg.level_channels()[level.index][1]
        coarser = list(range(level.index + 1, cfg.L))
        composition = (keep,) + tuple(cfg.feature_channels for _ in coarser)
        kept_name = "ŷ" if level.index == cfg.L - 1 else f"y_{level.index}"
        if coarser:
            ups = " | ".join(f"up{2 ** (j - level.index)}(h_{j}) ({cfg.feature_channels})" for j in coarser)
            detail = f"u_{level.index} = [{kept_name} ({keep}) | {ups}]"
        else:
            detail = f"u_{level.index} = {kept_name}"
        self._add(level=level.index, part="cond", name="cond_input", shape=tuple(u.shape), composition=composition, detail=detail)
        nb = cfg.rrdb_nb
        stream = "[f1 | f2]" if module.dual else "single stream"
        detail = f"h_{level.index}: conv {u.shape[1]} → {cfg.rrdb_nf}, {nb[0]}+{nb[1]} RRDBs, {stream}"
        self._add(level=level.index, part="cond", name="features", shape=tuple(out.shape), params=_count(module), detail=detail)

    def _cond_steps(self, level, module, args, out) -> None:
        z = out[0]
        a_channels = z.shape[1]
        halves = (a_channels // 2, a_channels - a_channels // 2)
        nets = _coupling_nets(module)
        pairs = " | ".join(f"{i} → {o}" for i, o in nets)
        detail = f"{len(module)} steps on a_{level.index}: halves {halves[0]}/{halves[1]}, FCN {pairs}" if len(module) else "no conditional steps"
        self._add(level=level.index, part="cond", name="cond_steps", shape=tuple(z.shape), params=_count(module), steps=len(module), nets=nets, halves=halves, detail=detail)

    def _prior(self, level, module, args, out) -> None:
        shape = (out.shape[0], out.shape[1] // 2, *out.shape[2:])
        detail = f"ZeroConv {module.in_channels} → {module.out_channels}: μ_{level.index}, log σ_{level.index}"
        self._add(level=level.index, part="cond", name="prior", shape=shape, params=_count(module), detail=detail)


def model_summary(model: HCFlow | HCFlowConfig | str, hr_size: int | tuple[int, int] = 160, batch: int = 1) -> ModelSummary:
    """Trace one forward pass and tabulate every stage's output shape and parameters.

    Args:
        model: a config name (``"sr_x4"``…), an :class:`HCFlowConfig` (both built on the
            ``meta`` device: shapes without memory or compute), or a model instance (traced on
            its own device and dtype, in eval mode, without gradients; its mode is restored).
        hr_size: HR height and width (one int for a square); must be divisible by :math:`2^L`.
        batch: batch size ``B`` of the traced input.

    Returns:
        A :class:`ModelSummary`; ``print`` it, or display it in a notebook (HTML table).
    """
    if isinstance(model, (str, HCFlowConfig)):
        with torch.device("meta"):
            net = build_model(model)
        device, dtype = torch.device("meta"), torch.float32
    elif isinstance(model, HCFlow):
        net = model
        p = next(net.parameters())
        device, dtype = p.device, p.dtype
    else:
        raise TypeError(f"expected a model, an HCFlowConfig or a config name, got {type(model).__name__}")
    h, w = (hr_size, hr_size) if isinstance(hr_size, int) else hr_size
    s = net.scale
    if h % s or w % s:
        raise ValueError(f"HR size {h}×{w} is not divisible by 2^L = {s}")
    hr = torch.zeros(batch, net.config.in_channels, h, w, device=device, dtype=dtype)
    was_training = net.training
    recorder = _Recorder(net)
    try:
        net.eval()
        with torch.no_grad():
            if net.config.task == "sr":
                lr = torch.zeros(batch, net.config.in_channels, h // s, w // s, device=device, dtype=dtype)
                net.encode(hr, lr, dequant_noise=torch.zeros_like(hr))
            else:
                net.encode(hr)
    finally:
        recorder.close()
        net.train(was_training)
    return ModelSummary(config=net.config, hr_shape=tuple(hr.shape), stages=recorder.stages, num_parameters=net.num_parameters())

