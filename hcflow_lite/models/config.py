"""Model configurations, with the paper's names (book chapter 5).

* ``L`` levels (scale :math:`2^L`);
* ``K`` unconditional flow steps per level (the official option ``K`` counts *all* steps of a
  level, i.e. our ``K + P``);
* ``P`` conditional flow steps per level (official ``after_flowstep``);
* the RRDB conditional feature extractor of each level: ``rrdb_nb`` blocks in its two trunks,
  width ``rrdb_nf``, growth ``rrdb_gc``.

Named configurations: ``sr_x4``, ``face_x8`` and ``rescale_x4`` are the paper sizes (their
parameter counts equal the official networks': 23,232,539 / 27,017,723 / 4,396,350); the
``-lite`` variants are small models that train on a CPU; ``-tiny`` ones are for tests and smoke
runs.  :func:`config_from_official_options` reads an official option dict.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["ABLATIONS", "HCFlowConfig", "MODEL_CONFIGS", "get_model_config", "config_from_official_options", "load_options"]

Task = Literal["sr", "rescaling"]

#: the cases of the paper's ablation study (Table 1), defined in :mod:`hcflow_lite.models.ablations`
ABLATIONS = ("none", "no_lr_in_latent", "external_prior", "no_conditional_prior", "single_scale")


def _per_level(value: int | tuple[int, ...] | list[int], L: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * L
    value = tuple(int(v) for v in value)
    if len(value) != L:
        raise ValueError(f"{name} must have one entry per level (L={L}), got {value}")
    return value


@dataclass(frozen=True)
class HCFlowConfig:
    """Architecture of an HCFlow network.

    Attributes:
        task: ``"sr"`` (super-resolution: squeeze, 1×1 convs, FCN couplings, NLL) or
            ``"rescaling"`` (Haar, "LR vs rest" couplings with DenseBlocks, no likelihood).
        L: number of levels; the scale is :math:`2^L`.
        K: unconditional flow steps per level (int or one per level).
        P: conditional flow steps per level (int or one per level).
        hidden_channels: width of the main-flow coupling networks (FCN hidden width, or the
            DenseBlock growth for rescaling).
        cond_hidden_channels: FCN hidden width of the conditional steps.
        rrdb_nb: RRDBs in the two trunks of each level's feature extractor.
        rrdb_nf: RRDB width.
        rrdb_gc: RRDB growth.
        quant: dequantisation levels (SR: 64 for DF2K ×4, 256 for faces ×8); ``None`` for
            rescaling.
        lr_logs: log σ of the Gaussian around the LR image in the SR likelihood (−6).
        in_channels: image channels (3).
        ablation: ``"none"`` (HCFlow as published) or a case of the paper's ablation study,
            one of :data:`ABLATIONS` (SR only; :mod:`hcflow_lite.models.ablations`).
    """

    task: Task = "sr"
    L: int = 2
    K: tuple[int, ...] | int = 13
    P: tuple[int, ...] | int = 13
    hidden_channels: int = 64
    cond_hidden_channels: int = 64
    rrdb_nb: tuple[int, int] = (7, 7)
    rrdb_nf: int = 64
    rrdb_gc: int = 32
    quant: float | None = 64
    lr_logs: float = -6.0
    in_channels: int = 3
    ablation: str = "none"
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        if self.task not in ("sr", "rescaling"):
            raise ValueError(f"task must be 'sr' or 'rescaling', got {self.task!r}")
        if self.L < 1:
            raise ValueError(f"L must be ≥ 1, got {self.L}")
        object.__setattr__(self, "K", _per_level(self.K, self.L, "K"))
        object.__setattr__(self, "P", _per_level(self.P, self.L, "P"))
        object.__setattr__(self, "rrdb_nb", tuple(int(v) for v in self.rrdb_nb))
        if len(self.rrdb_nb) != 2:
            raise ValueError(f"rrdb_nb must have two entries (two trunks), got {self.rrdb_nb}")
        if self.task == "rescaling" and self.quant is not None:
            object.__setattr__(self, "quant", None)
        if self.task == "sr" and (self.quant is None or self.quant <= 0):
            raise ValueError("the SR model needs a positive dequantisation level `quant`")
        if self.ablation not in ABLATIONS:
            raise ValueError(f"unknown ablation {self.ablation!r}; known: {', '.join(ABLATIONS)}")
        if self.ablation != "none" and self.task != "sr":
            raise ValueError(f"the ablation cases are defined for the SR model, not for {self.task}")

    @property
    def scale(self) -> int:
        return 2**self.L

    @property
    def feature_channels(self) -> int:
        """F: channels of each level's conditional feature (2·nf for SR, nf for rescaling)."""
        return 2 * self.rrdb_nf if self.task == "sr" else self.rrdb_nf

    def level_channels(self) -> list[tuple[int, int, int]]:
        """Per level ``(C, S, A)``: channels before the split, kept, and split off (latent)."""
        out, c = [], self.in_channels
        for level in range(self.L):
            c *= 4
            keep = c // 2 if level < self.L - 1 else self.in_channels
            out.append((c, keep, c - keep))
            c = keep
        return out

    def replace(self, **changes: Any) -> HCFlowConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("K", "P", "rrdb_nb"):
            d[k] = list(d[k])
        if d["ablation"] == "none":  # checkpoints of the published model stay readable by older versions
            del d["ablation"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HCFlowConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**dict(d))


_PAPER = {
    "sr_x4": HCFlowConfig(task="sr", L=2, K=13, P=13, rrdb_nb=(7, 7), rrdb_nf=64, rrdb_gc=32, quant=64),
    "face_x8": HCFlowConfig(task="sr", L=3, K=13, P=13, rrdb_nb=(5, 5), rrdb_nf=64, rrdb_gc=32, quant=256),
    "rescale_x4": HCFlowConfig(
        task="rescaling", L=2, K=8, P=6, hidden_channels=32, rrdb_nb=(2, 1), rrdb_nf=64, rrdb_gc=16, quant=None
    ),
}
_LITE = {
    "sr_x4-lite": HCFlowConfig(task="sr", L=2, K=4, P=4, hidden_channels=32, cond_hidden_channels=32, rrdb_nb=(1, 1), rrdb_nf=32, rrdb_gc=16, quant=64),
    "face_x8-lite": HCFlowConfig(task="sr", L=3, K=4, P=4, hidden_channels=32, cond_hidden_channels=32, rrdb_nb=(1, 1), rrdb_nf=32, rrdb_gc=16, quant=256),
    "rescale_x4-lite": HCFlowConfig(task="rescaling", L=2, K=6, P=4, hidden_channels=16, cond_hidden_channels=32, rrdb_nb=(1, 1), rrdb_nf=32, rrdb_gc=16, quant=None),
}
_TINY = {
    "sr_x4-tiny": HCFlowConfig(task="sr", L=2, K=2, P=2, hidden_channels=8, cond_hidden_channels=8, rrdb_nb=(1, 1), rrdb_nf=8, rrdb_gc=4, quant=64),
    "face_x8-tiny": HCFlowConfig(task="sr", L=3, K=2, P=2, hidden_channels=8, cond_hidden_channels=8, rrdb_nb=(1, 1), rrdb_nf=8, rrdb_gc=4, quant=256),
    "rescale_x4-tiny": HCFlowConfig(task="rescaling", L=2, K=2, P=2, hidden_channels=8, cond_hidden_channels=8, rrdb_nb=(1, 1), rrdb_nf=8, rrdb_gc=4, quant=None),
}
MODEL_CONFIGS: dict[str, HCFlowConfig] = {
    name: cfg.replace(name=name) for name, cfg in {**_PAPER, **_LITE, **_TINY}.items()
}


def get_model_config(name: str) -> HCFlowConfig:
    """A named configuration (``sr_x4``, ``face_x8``, ``rescale_x4``, with ``-lite``/``-tiny``)."""
    try:
        return MODEL_CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown model config {name!r}; known: {', '.join(sorted(MODEL_CONFIGS))}") from None


def load_options(options: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Read an official option dict from a mapping or a ``.json``/``.yml`` file."""
    if isinstance(options, Mapping):
        return dict(options)
    path = Path(options)
    if not path.is_file():
        raise FileNotFoundError(f"official options file not found: {path}")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        return json.loads(text)
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml

        return yaml.safe_load(text)
    raise ValueError(f"options must be a .json or .yml file, got {path.name}")


def config_from_official_options(options: Mapping[str, Any] | str | Path) -> HCFlowConfig:
    """Translate the official option dict (``network_G``…) into an :class:`HCFlowConfig`.

    Raises ``ValueError`` naming the option when something is missing or unsupported.
    """
    opt = load_options(options)
    try:
        net = opt["network_G"]
        fd = net["flowDownsampler"]
        so = fd["splitOff"]
    except (KeyError, TypeError) as e:
        raise ValueError(f"not an official HCFlow option dict: missing {e}") from None
    which = net.get("which_model_G", "HCFlowNet_SR")
    if which not in ("HCFlowNet_SR", "HCFlowNet_Rescaling"):
        raise ValueError(f"unsupported network_G.which_model_G {which!r}")
    task: Task = "sr" if which == "HCFlowNet_SR" else "rescaling"
    L = int(fd["L"])
    scale = int(net.get("scale", opt.get("scale", 2**L)))
    if scale != 2**L:
        raise ValueError(f"scale {scale} does not match L={L} (scale must be 2**L)")
    p = so["after_flowstep"]
    P = _per_level(p, L, "after_flowstep")
    K = tuple(int(fd["K"]) - pl for pl in P)
    if min(K) < 0:
        raise ValueError(f"option K={fd['K']} is smaller than after_flowstep={P}")
    allowed = {
        "squeeze": ("haar",) if task == "rescaling" else (None, "checkerboard"),
        "flow_permutation": ("none",) if task == "rescaling" else ("invconv",),
        "flow_coupling": ("Affine3shift",) if task == "rescaling" else ("Affine",),
        "nn_module": ("DenseBlock",) if task == "rescaling" else ("FCN",),
    }
    for key, values in allowed.items():
        if fd.get(key) not in values:
            raise ValueError(f"unsupported flowDownsampler.{key}={fd.get(key)!r} for {which} (expected {values[0]!r})")
    return HCFlowConfig(
        task=task,
        L=L,
        K=K,
        P=P,
        hidden_channels=int(fd.get("hidden_channels", 64)),
        cond_hidden_channels=int(so.get("hidden_channels", 64)),
        rrdb_nb=tuple(so.get("RRDB_nb", (7, 7))),
        rrdb_nf=int(so.get("RRDB_nf", 64)),
        rrdb_gc=int(so.get("RRDB_gc", 32)),
        quant=float(opt.get("quant", 64)) if task == "sr" else None,
        in_channels=int(net.get("in_nc", 3)),
        name="official",
    )
