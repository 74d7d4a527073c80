"""Training configurations: small typed dataclasses read from YAML (book part II).

A configuration is a YAML file in ``hcflow_lite/configs/`` (or any path) whose sections map
one to one onto the dataclasses below; unknown keys are errors (with a suggestion), values are
converted to the field's type (``5e3`` → 5000 for an integer field).  A file may start from
another one with ``base: NAME`` and change only what differs (the ``-lite`` and ``-smoke``
variants do).  ``--set section.key=value`` overrides any field from the command line.

The seven paper recipes (spec §7) are ``sr_x4``, ``sr_x4_plus``, ``sr_x4_plusplus``,
``face_x8``, ``face_x8_plus``, ``face_x8_plusplus`` and ``rescale_x4`` (HCFlow, HCFlow+,
HCFlow++ for general ×4 and face ×8 SR, and rescaling ×4); each has a ``-lite`` (CPU, under an
hour, on the offline sample set) and a ``-smoke`` (seconds) variant.

Which optimisation steps an SR iteration makes follows from the loss weights, as in the
official code: the NLL step when ``nll > 0``, the HR-pixel step when ``pixel_hr > 0``, the
perceptual/GAN step when ``perceptual > 0`` or ``gan > 0`` and the discriminator step when
``gan > 0``.  A rescaling model always makes one combined step.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from ..models import MODEL_CONFIGS, HCFlowConfig

__all__ = [
    "CONFIG_DIR",
    "CheckpointConfig",
    "DataConfig",
    "LogConfig",
    "LossConfig",
    "OptimConfig",
    "RuntimeConfig",
    "ScheduleConfig",
    "TrainConfig",
    "ValidationConfig",
    "available_configs",
    "load_config",
    "parse_overrides",
    "resolve_model_config",
]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class DataConfig:
    """Training and validation data.

    ``train`` / ``val``: a dataset name of :mod:`hcflow_lite.data` (``DF2K``, ``CelebA-train``,
    ``Set5`` …, found under ``root`` or ``$HCFLOW_DATA``), ``sample_set`` (the offline sample
    images, :func:`hcflow_lite.data.sample_set`), ``synthetic`` (random smooth images, for tests),
    or a folder of HR images.  ``train_lr`` / ``val_lr``: a folder of the matching LR images;
    without one the LR is the MATLAB-bicubic ×1/s of the HR, rounded to 8 bits.
    ``batch_size`` is the **global** batch: with ``N`` processes each takes ``batch_size / N``.
    """

    train: str = "sample_set"
    train_lr: str | None = None
    val: str | None = "sample_set"
    val_lr: str | None = None
    root: str | None = None
    patch_size: int = 160
    batch_size: int = 16
    augment: bool = True
    num_workers: int = 0
    synthetic_images: int = 32

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "data.batch_size must be ≥ 1")
        _check(self.patch_size >= 1, "data.patch_size must be ≥ 1")
        _check(self.num_workers >= 0, "data.num_workers must be ≥ 0")


@dataclass
class LossConfig:
    """Loss weights (the paper's, spec §7) and the options of each loss.

    ``temperature`` is the τ of the sampled reconstructions (official ``eps_std_reverse``:
    0.9 general SR, 0.8 faces, 1.0 rescaling).  ``official_grad_leak`` reproduces a defect of
    the official HCFlow+ training (see :mod:`hcflow_lite.train.steps`).
    """

    nll: float = 1.0
    pixel_hr: float = 0.0
    perceptual: float = 0.0
    gan: float = 0.0
    pixel_lr: float = 0.0
    latent: float = 0.0
    pixel_criterion: str = "l1"
    feature_criterion: str = "l1"
    temperature: float = 0.9
    gan_type: str = "gan"
    discriminator: str = "discriminator_vgg_160"
    discriminator_nf: int = 64
    d_init_iters: int = 1500
    d_update_ratio: int = 1
    vgg_weights: str | None = None
    allow_random_vgg: bool = False
    official_grad_leak: bool = False

    def __post_init__(self) -> None:
        for name in ("nll", "pixel_hr", "perceptual", "gan", "pixel_lr", "latent"):
            _check(getattr(self, name) >= 0, f"losses.{name} must be ≥ 0")
        _check(self.pixel_criterion in ("l1", "l2"), "losses.pixel_criterion must be l1 or l2")
        _check(self.feature_criterion in ("l1", "l2"), "losses.feature_criterion must be l1 or l2")
        _check(self.gan_type in ("gan", "lsgan", "wgan", "ragan"), "losses.gan_type must be gan, lsgan, wgan or ragan")
        _check(self.d_update_ratio >= 1, "losses.d_update_ratio must be ≥ 1")
        _check(self.d_init_iters >= 0, "losses.d_init_iters must be ≥ 0")


@dataclass
class OptimConfig:
    """Adam for the flow (and the discriminator), gradient clipping, the non-finite guard.

    After every backward the gradients are clipped to ±``max_grad_clip`` element-wise, then to
    a global norm of ``max_grad_norm`` (``null`` disables either).  A step whose loss or
    gradient is not finite is skipped; ``max_nonfinite`` such iterations in a row stop training.
    """

    learning_rate: float = 2.5e-4
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.0
    max_grad_clip: float | None = 5.0
    max_grad_norm: float | None = 100.0
    d_learning_rate: float = 5e-5
    d_beta1: float = 0.9
    d_beta2: float = 0.99
    max_nonfinite: int = 20

    def __post_init__(self) -> None:
        _check(self.learning_rate > 0, "optim.learning_rate must be > 0")
        _check(self.max_nonfinite >= 1, "optim.max_nonfinite must be ≥ 1")


@dataclass
class ScheduleConfig:
    """Iterations and the learning-rate schedule.

    ``multistep`` (the paper): the rate is multiplied by ``gamma`` at each of ``milestones``;
    as in the official code the scheduler steps before the optimisation step, so iteration
    ``m`` (counted from 1) already runs at the decayed rate.  ``linear``: from the full rate
    down to ``final_factor`` × rate at the last iteration.  ``constant``.  ``warmup`` > 0
    ramps the rate up linearly over the first iterations (official ``warmup_iter``).
    """

    iterations: int = 300_000
    kind: str = "multistep"
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.5
    warmup: int = 0
    final_factor: float = 0.0

    def __post_init__(self) -> None:
        _check(self.iterations >= 1, "schedule.iterations must be ≥ 1")
        _check(self.kind in ("multistep", "linear", "constant"), "schedule.kind must be multistep, linear or constant")
        _check(list(self.milestones) == sorted(self.milestones), "schedule.milestones must be increasing")
        _check(self.warmup >= 0, "schedule.warmup must be ≥ 0")
        _check(0 <= self.final_factor <= 1, "schedule.final_factor must be in [0, 1]")


@dataclass
class ValidationConfig:
    """Periodic validation: PSNR (RGB and Y, border ``scale`` cropped) at each temperature.

    ``samples`` reconstructions per image and τ > 0 (official 3); ``max_images`` and ``crop``
    (centre crop of the HR, a multiple of the scale) keep it fast; the first ``save_images``
    images are written to ``<workdir>/samples/``.  ``every: 0`` validates only at the end.
    """

    every: int = 5000
    temperatures: list[float] = field(default_factory=lambda: [0.0, 0.9])
    samples: int = 3
    max_images: int | None = None
    crop: int | None = None
    save_images: int = 3

    def __post_init__(self) -> None:
        _check(self.every >= 0, "validation.every must be ≥ 0")
        _check(self.samples >= 1, "validation.samples must be ≥ 1")


@dataclass
class CheckpointConfig:
    """Training checkpoints ``<workdir>/checkpoints/iter_XXXXXXX.pt`` every ``every`` iterations; the newest ``keep`` stay."""

    every: int = 5000
    keep: int = 2

    def __post_init__(self) -> None:
        _check(self.every >= 1, "checkpoint.every must be ≥ 1")
        _check(self.keep >= 1, "checkpoint.keep must be ≥ 1")


@dataclass
class LogConfig:
    """A CSV row (``<workdir>/train_log.csv``) every ``every`` iterations; TensorBoard if installed and asked for."""

    every: int = 200
    tensorboard: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        _check(self.every >= 1, "log.every must be ≥ 1")


@dataclass
class RuntimeConfig:
    """Where and how to compute.

    ``device``: ``auto`` (CUDA when available, the process's ``LOCAL_RANK`` GPU under
    ``torchrun``), ``cpu`` or ``cuda``.  ``precision``: ``bf16`` opens a bfloat16 autocast
    context on CUDA (ignored on CPU); ``fp32`` never does.  ``channels_last`` (CUDA only).
    ``deterministic`` calls ``torch.use_deterministic_algorithms(True)``.  ``threads``: torch's
    intra-op threads (``null``: leave as is).
    """

    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = True
    deterministic: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        _check(self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"), "runtime.device must be auto, cpu or cuda")
        _check(self.precision in ("fp32", "bf16"), "runtime.precision must be fp32 or bf16")


@dataclass
class TrainConfig:
    """One training run.  ``model``: a named model config (``sr_x4``, ``rescale_x4-lite`` …) or a
    mapping of :class:`~hcflow_lite.HCFlowConfig` fields (optionally on top of ``base: NAME``).
    ``init_from``: a checkpoint to fine-tune from (ours, a shipped name, or an official
    ``.pth`` together with its ``init_options`` yml/json)."""

    name: str = "custom"
    description: str = ""
    model: Any = "sr_x4"
    init_from: str | None = None
    init_options: str | None = None
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    losses: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    # ------------------------------------------------------------------ derived
    def model_config(self) -> HCFlowConfig:
        return resolve_model_config(self.model)

    @property
    def task(self) -> str:
        return self.model_config().task

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        return _build(cls, d, "")


# ---------------------------------------------------------------------------- helpers
def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def resolve_model_config(model: Any) -> HCFlowConfig:
    """A named model config, an :class:`HCFlowConfig`, or a mapping (``base: NAME`` + fields)."""
    if isinstance(model, HCFlowConfig):
        return model
    if isinstance(model, str):
        if model not in MODEL_CONFIGS:
            raise ValueError(f"unknown model {model!r}; known: {', '.join(MODEL_CONFIGS)}")
        return MODEL_CONFIGS[model]
    if isinstance(model, Mapping):
        fields = dict(model)
        base = fields.pop("base", None)
        if base is not None:
            cfg = resolve_model_config(base)
            known = {f.name for f in dataclasses.fields(HCFlowConfig)}
            unknown = sorted(set(fields) - known)
            if unknown:
                raise ValueError(f"unknown model config keys: {unknown} (known: {', '.join(sorted(known))})")
            return cfg.replace(**fields, name=fields.get("name", f"{cfg.name}*"))
        return HCFlowConfig.from_dict(fields)
    raise ValueError(f"model must be a name or a mapping of model fields, got {type(model).__name__}")


def _unknown_key_error(key: str, path: str, known: Sequence[str]) -> ValueError:
    full = f"{path}{key}"
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {path}{close[0]!r}?" if close else ""
    return ValueError(f"unknown config key {full!r}{hint} (known in {path.rstrip('.') or 'the top level'}: {', '.join(known)})")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert a YAML value to the annotated type (``5e3`` → 5000, ``"1e-3"`` → 0.001 …)."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if errors else f"{where}: cannot be {value!r}")
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            value = [value]
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} must be a section (a mapping), got {value!r}")
        return _build(hint, value, f"{where}.")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ValueError(f"{where} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be an integer, got {value!r}") from None
        if f != int(f):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return int(f)
    if hint is float:
        if isinstance(value, bool):
            raise ValueError(f"{where} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be a number, got {value!r}") from None
    if hint is str:
        if isinstance(value, (Mapping, list)):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return str(value)
    return value


def _build(cls: type, d: Mapping[str, Any], path: str) -> Any:
    if not isinstance(d, Mapping):
        raise ValueError(f"{path.rstrip('.') or 'the config'} must be a mapping, got {d!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in d.items():
        if key not in known:
            raise _unknown_key_error(str(key), path, known)
        kwargs[key] = _coerce(value, hints[key], f"{path}{key}")
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - all fields have defaults
        raise ValueError(f"{path}: {e}") from None


def available_configs() -> list[str]:
    """Names of the configs shipped in ``hcflow_lite/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _config_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        return p
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    close = difflib.get_close_matches(str(name_or_path), available_configs(), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise FileNotFoundError(
        f"no config named {str(name_or_path)!r}{hint}; shipped configs: {', '.join(available_configs())}; "
        "or pass the path of a .yaml file"
    )


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if k == "model" and isinstance(v, Mapping) and isinstance(out.get("model"), str):
            out["model"] = {"base": out["model"], **v}
        elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _resolve_base(base: str, child: Path) -> Path:
    """``base:`` names a shipped config, or a file relative to the config that names it."""
    if not Path(base).suffix and (CONFIG_DIR / f"{base}.yaml").is_file():
        return CONFIG_DIR / f"{base}.yaml"
    for candidate in (child.parent / base, child.parent / f"{base}.yaml"):
        if candidate.is_file():
            return candidate
    return _config_path(base)


def _load_raw(name_or_path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = _config_path(name_or_path).resolve()
    if path in seen:
        raise ValueError(f"config {path.name}: circular 'base' chain")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"config {path} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config {path} must be a YAML mapping")
    raw.setdefault("name", path.stem)
    base = raw.pop("base", None)
    if base is None:
        return raw
    parent = _load_raw(_resolve_base(str(base), path), (*seen, path))
    merged = _deep_merge(parent, raw)
    merged["name"] = raw["name"]
    return merged


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["data.batch_size=1", "model=sr_x4-tiny"]`` → a nested mapping (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ValueError(f"--set: bad key {key!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"--set: {key!r} conflicts with another override")
            node = child
        node[parts[-1]] = value
    return out


def load_config(name_or_path: str | Path | Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any] = ()) -> TrainConfig:
    """Read a config (shipped name, path, or mapping), apply ``--set`` overrides, check it.

    Raises ``FileNotFoundError`` for an unknown name and ``ValueError`` naming the key for an
    unknown key or a value of the wrong type.
    """
    raw = dict(name_or_path) if isinstance(name_or_path, Mapping) else _load_raw(name_or_path)
    over = parse_overrides(overrides) if not isinstance(overrides, Mapping) else dict(overrides)
    merged = _deep_merge(raw, over)
    cfg = TrainConfig.from_dict(merged)
    cfg.model_config()  # an unknown model name fails here, not in the middle of a run
    return cfg
