"""The paper's three experiments as staged training runs, in three profiles (book part II).

=============  =======================================  =====================  ==============
experiment     what (paper)                             stages                 τ of samples
=============  =======================================  =====================  ==============
``sr_x4``      general SR ×4 on DF2K (Table 2)          hcflow, plus, plusplus 0.9
``face_x8``    face SR ×8 on CelebA 160×160 (Table 3)   hcflow, plus, plusplus 0.8
``rescale_x4`` image rescaling ×4 on DF2K (Table 4)     hcflow                 1.0
=============  =======================================  =====================  ==============

A *stage* is one of the paper's recipes: ``hcflow`` (the NLL alone, from scratch), ``plus``
(HCFlow+: 2e-3·NLL and an L1 step on the τ = 0 reconstruction) and ``plusplus`` (HCFlow++: also
the VGG perceptual and GAN losses); HCFlow+ and HCFlow++ both fine-tune the trained HCFlow of the
same experiment, as in the paper.  A *profile* is a size:

* ``smoke``: tiny models, seconds on a CPU (CI runs every notebook this way);
* ``lite``: small models on the offline sample set, CPU minutes (what the rendered book shows;
  trained once by ``ci/train_pretrained.py`` and shipped in ``hcflow_lite/pretrained/``);
* ``full``: the paper's configuration and hyper-parameters (batch 16 of 160×160 patches, the
  loss weights, learning rates, iterations and milestones of the official training options),
  meant for a GPU.

:func:`config_name` names the config of a (experiment, stage, profile) (``sr_x4_plus-lite``);
:func:`profile_config` resolves it into a :class:`~hcflow_lite.train.TrainConfig`, pointing
``init_from`` of a fine-tuning stage at the HCFlow of the same profile (in ``workdir``, else the
shipped checkpoint); :func:`load_or_train` returns the trained model of a stage: the shipped
checkpoint when there is one ("load if present"), else the run in ``workdir`` (trained, resumed
after an interruption, or reused when complete).  :func:`compare_to_bicubic` puts a model's
Set5 numbers beside the bicubic baseline's.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .models import HCFlow, load_checkpoint, read_checkpoint
from .pretrained import available_pretrained, pretrained_info, pretrained_path
from .train import TrainConfig, load_config, parse_overrides, read_log, train

__all__ = [
    "EXPERIMENTS",
    "PROFILES",
    "STAGES",
    "Comparison",
    "Experiment",
    "StageRun",
    "cli_command",
    "compare_to_bicubic",
    "config_differences",
    "config_name",
    "load_or_train",
    "profile_config",
    "recipe_differences",
    "recipe_rows",
    "recipe_table",
    "run_dir",
    "split_by_temperature",
    "stage_label",
    "vgg19_available",
]

PROFILES = ("smoke", "lite", "full")
#: stage → suffix of the config name (``sr_x4`` + ``_plus``) and the paper's name of the method
STAGES: dict[str, tuple[str, str]] = {
    "hcflow": ("", "HCFlow"),
    "plus": ("_plus", "HCFlow+"),
    "plusplus": ("_plusplus", "HCFlow++"),
}


@dataclass(frozen=True)
class Experiment:
    """One of the paper's three experiments."""

    name: str
    title: str
    task: str
    scale: int
    stages: tuple[str, ...]
    temperature: float
    train_set: str
    test_set: str
    paper: str


EXPERIMENTS: dict[str, Experiment] = {
    "sr_x4": Experiment(
        "sr_x4", "General image super-resolution ×4", "sr", 4, ("hcflow", "plus", "plusplus"), 0.9,
        "DF2K (DIV2K train + Flickr2K), 160×160 patches", "DIV2K validation",
        "Table 2 of the paper: the rows HCFlow, HCFlow+ and HCFlow++ (PSNR, SSIM, LPIPS, diversity, LR-PSNR)",
    ),
    "face_x8": Experiment(
        "face_x8", "Face super-resolution ×8", "sr", 8, ("hcflow", "plus", "plusplus"), 0.8,
        "CelebA faces aligned and resized to 160×160 (20×20 LR)", "CelebA test faces",
        "Table 3 of the paper: the rows HCFlow, HCFlow+ and HCFlow++ (PSNR, SSIM, LPIPS, diversity, LR-PSNR)",
    ),
    "rescale_x4": Experiment(
        "rescale_x4", "Image rescaling ×4", "rescaling", 4, ("hcflow",), 1.0,
        "DF2K, 160×160 crops", "Set5, Set14, BSD100, Urban100, DIV2K validation",
        "Table 4 of the paper: the row HCFlow (Y-PSNR and Y-SSIM, reconstruction at τ = 1)",
    ),
}


def _experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; the paper's: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def _check(experiment: str, stage: str, profile: str) -> Experiment:
    exp = _experiment(experiment)
    if stage not in exp.stages:
        raise ValueError(f"experiment {experiment!r} has the stages {', '.join(exp.stages)}, not {stage!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    return exp


def config_name(experiment: str, stage: str = "hcflow", profile: str = "full") -> str:
    """The shipped config (and shipped checkpoint) of a stage: ``config_name("sr_x4", "plus", "lite")`` → ``"sr_x4_plus-lite"``."""
    _check(experiment, stage, profile)
    base = experiment + STAGES[stage][0]
    return base if profile == "full" else f"{base}-{profile}"


def stage_label(stage: str, profile: str | None = None) -> str:
    """``"HCFlow+"``, or ``"HCFlow+ (lite)"`` with a profile."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    name = STAGES[stage][1]
    return name if profile is None else f"{name} ({profile})"


def run_dir(workdir: str | Path, experiment: str, stage: str = "hcflow", profile: str = "full") -> Path:
    """Where a stage's run lives: ``<workdir>/<config name>`` (``_work/sr_x4_plus-lite``)."""
    return Path(workdir).expanduser() / config_name(experiment, stage, profile)


def vgg19_available() -> bool:
    """Whether the ImageNet VGG19 weights of the perceptual loss are in the torch hub cache."""
    from .losses.perceptual import default_vgg19_path

    return default_vgg19_path().is_file()


def _init_from(experiment: str, stage: str, profile: str, workdir: str | Path | None) -> str:
    """The HCFlow this fine-tuning stage starts from: the run in ``workdir``, else the shipped one."""
    if workdir is not None:
        last = run_dir(workdir, experiment, "hcflow", profile) / "last.pt"
        if last.is_file():
            return str(last)
    name = config_name(experiment, "hcflow", profile)
    if name in available_pretrained():
        return name
    # not trained yet: the engine's error will say to train the HCFlow stage first
    return str(run_dir(workdir if workdir is not None else "runs", experiment, "hcflow", profile) / "last.pt")


def profile_config(
    experiment: str,
    stage: str = "hcflow",
    profile: str = "lite",
    *,
    workdir: str | Path | None = None,
    data_root: str | Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> TrainConfig:
    """The resolved training config of one stage in one profile.

    ``full`` is exactly the paper's recipe (the shipped ``sr_x4``, ``sr_x4_plus`` … configs,
    checked against the paper in ``tests/test_experiments.py``).  Besides the config file,
    three things are resolved:

    * ``init_from`` of HCFlow+ / HCFlow++: the HCFlow of the same experiment and profile,
      ``<workdir>/<name>/last.pt`` when that run exists, else the shipped checkpoint of that name
      (an ``init_from`` in ``overrides`` wins);
    * ``data.root``: ``data_root`` when given (the folder that holds DIV2K, Flickr2K, CelebA …);
    * ``lite`` HCFlow++ only: without the ImageNet VGG19 weights (offline), the perceptual loss
      falls back to the engine's random-weight VGG (``losses.allow_random_vgg``), and the run
      says so wherever its numbers appear ("random-weight VGG, not the paper's perceptual loss").
      ``full`` never does: it stops and says where to put the weights.
    """
    _check(experiment, stage, profile)
    over = parse_overrides(overrides) if not isinstance(overrides, Mapping) else dict(overrides)
    cfg = load_config(config_name(experiment, stage, profile), over)
    if stage != "hcflow" and "init_from" not in over:
        cfg = dataclasses.replace(cfg, init_from=_init_from(experiment, stage, profile, workdir))
    if data_root is not None:
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root=str(Path(data_root).expanduser())))
    if profile == "lite" and cfg.losses.perceptual > 0 and cfg.losses.vgg_weights is None and not vgg19_available():
        cfg = dataclasses.replace(cfg, losses=dataclasses.replace(cfg.losses, allow_random_vgg=True))
    return cfg


def config_differences(a: TrainConfig | Mapping[str, Any], b: TrainConfig | Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, value in a, value in b)`` for every setting that differs (``name``/``description`` ignored).

    ``config_differences(lite, full)`` lists what the ``lite`` profile changes in the paper's recipe.
    """
    da = a.to_dict() if isinstance(a, TrainConfig) else dict(a)
    db = b.to_dict() if isinstance(b, TrainConfig) else dict(b)
    out: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            for k in list(x) + [k for k in y if k not in x]:
                walk(x.get(k), y.get(k), f"{path}{k}.")
        elif x != y:
            out.append((path.rstrip("."), x, y))

    for key in list(da) + [k for k in db if k not in da]:
        if key in ("name", "description"):
            continue
        walk(da.get(key), db.get(key), f"{key}.")
    return out


# settings that make two runs different experiments (not logging, validation, paths or devices)
_SAME_RUN = ("model", "seed", "data.train", "data.patch_size", "data.batch_size", "data.augment", "losses", "optim",
             "schedule")
_NOT_THE_RUN = ("losses.allow_random_vgg", "losses.vgg_weights")


def _run_conflicts(old: Mapping[str, Any], new: TrainConfig) -> list[tuple[str, Any, Any]]:
    return [d for d in config_differences(old, new)
            if d[0].startswith(_SAME_RUN) and not d[0].startswith(_NOT_THE_RUN)]


def recipe_differences(a: TrainConfig, b: TrainConfig) -> list[tuple[str, Any, Any]]:
    """:func:`config_differences` restricted to the recipe: model, data, losses, optimiser, schedule, seed.

    Logging, validation, checkpointing, devices and paths (``init_from``, ``data.root``) are left out.
    """
    return [d for d in config_differences(a, b) if d[0].startswith(_SAME_RUN)]


@dataclass
class StageRun:
    """A trained stage: the model, where it came from, and the logs of the run that made it.

    ``source``: ``"shipped"`` (loaded from ``hcflow_lite/pretrained``), ``"trained"`` (trained
    now), ``"resumed"`` (continued from a checkpoint in ``workdir``) or ``"reused"`` (a complete
    run found in ``workdir``).  ``train_log`` / ``val_log``: the columns of the run's CSV logs
    (:func:`hcflow_lite.train.read_log`; for a shipped checkpoint, as recorded in its JSON).
    """

    experiment: str
    stage: str
    profile: str
    config: TrainConfig
    model: HCFlow
    source: str
    checkpoint: Path
    workdir: Path | None = None
    train_log: dict[str, list[float]] = field(default_factory=dict)
    val_log: dict[str, list[float]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def perceptual(self) -> str | None:
        """How the perceptual loss was computed (HCFlow++), e.g. "random-weight VGG, not the paper's perceptual loss"."""
        return self.record.get("perceptual")

    @property
    def label(self) -> str:
        """``"HCFlow++ (lite; random-weight VGG, not the paper's perceptual loss)"``."""
        extra = [self.profile]
        if self.perceptual and "random" in self.perceptual:
            extra.append(self.perceptual)
        return f"{stage_label(self.stage)} ({'; '.join(extra)})"

    def describe(self) -> str:
        """One line saying which path was taken and how the model was trained."""
        r = self.record
        its = r.get("iteration") or r.get("iterations")
        secs = r.get("seconds") or r.get("wall_seconds")
        how = f"{its} iterations" if its else "training"
        if secs:
            how += f" in {secs / 60:.1f} min"
        if r.get("machine", {}).get("summary"):
            how += f" on {r['machine']['summary']}"
        where = {
            "shipped": f"loaded the shipped checkpoint {self.name!r} ({self.checkpoint})",
            "trained": f"trained {self.name!r} in {self.workdir}",
            "resumed": f"resumed and finished {self.name!r} in {self.workdir}",
            "reused": f"reused the complete run {self.name!r} in {self.workdir}",
        }[self.source]
        return f"{stage_label(self.stage)}, profile {self.profile}: {where}; {how}" + (
            f"; perceptual loss: {self.perceptual}" if self.perceptual else "")


def _logs(workdir: Path) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    out = []
    for which in ("train", "val"):
        try:
            out.append(read_log(workdir, which))
        except FileNotFoundError:
            out.append({})
    return out[0], out[1]


def _columns(log: Any) -> dict[str, list[float]]:
    """Log columns as recorded in JSON (null for an empty cell) → floats (NaN), as :func:`read_log` gives them."""
    if not isinstance(log, Mapping):
        return {}
    return {str(k): [math.nan if v is None else float(v) for v in values] for k, values in log.items()}


def _results(workdir: Path) -> dict[str, Any]:
    import json

    path = workdir / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def load_or_train(
    experiment: str,
    stage: str = "hcflow",
    profile: str = "lite",
    workdir: str | Path = "_work",
    *,
    data_root: str | Path | None = None,
    overrides: Sequence[str] = (),
    use_shipped: bool = True,
    echo: Callable[[str], None] | None = None,
) -> StageRun:
    """The trained model of one stage: load it if it is shipped, else train it (resumably) in ``workdir``.

    1. ``use_shipped`` and no ``overrides``, and a checkpoint of the config's name is shipped
       (``hcflow_lite/pretrained/sr_x4_plus-lite.pt``; :func:`hcflow_lite.pretrained.pretrained_dirs`):
       load it, with the logs and numbers recorded when it was trained.
    2. ``<workdir>/<config name>/last.pt`` exists and completed this config's iterations: reuse it
       (an error if it was trained with other settings: choose another ``workdir`` or delete it).
    3. Otherwise train with :func:`hcflow_lite.train.train` and ``resume="auto"``: a run that was
       interrupted (a Colab session that ended, a kernel restart) continues from its newest
       checkpoint in ``workdir``, exactly where it stopped.

    A fine-tuning stage (HCFlow+, HCFlow++) starts from the HCFlow of the same profile
    (:func:`profile_config`), so run the stages in order.  Prints which path it took.
    """
    say = echo or (lambda m: print(m, file=sys.stdout, flush=True))
    cfg = profile_config(experiment, stage, profile, workdir=workdir, data_root=data_root, overrides=overrides)
    name = cfg.name
    if use_shipped and not overrides and name in available_pretrained():
        path = pretrained_path(name)
        record = pretrained_info(name)
        if isinstance(record.get("train_config"), Mapping):  # the config that made it, as recorded
            cfg = TrainConfig.from_dict(record["train_config"])
        run = StageRun(experiment, stage, profile, cfg, load_checkpoint(path), "shipped", path, None,
                       _columns(record.get("train_log")), _columns(record.get("val_log")), record)
        say(run.describe())
        return run
    wd = run_dir(workdir, experiment, stage, profile)
    last = wd / "last.pt"
    if last.is_file():
        meta = read_checkpoint(last).get("meta", {})
        if int(meta.get("iteration", -1)) >= cfg.schedule.iterations:
            conflicts = _run_conflicts(meta.get("train_config", {}), cfg)
            if conflicts:
                lines = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, a, b in conflicts[:6])
                raise ValueError(f"{wd} holds a finished {name} run trained with other settings ({lines}). "
                                 "Choose another workdir, or delete that folder to train again.")
            train_log, val_log = _logs(wd)
            record = {**_results(wd), "perceptual": meta.get("perceptual")}
            run = StageRun(experiment, stage, profile, cfg, load_checkpoint(last), "reused", last, wd, train_log,
                           val_log, record)
            say(run.describe())
            return run
    say(f"{stage_label(stage)}, profile {profile}: no shipped checkpoint {name!r}; training it in {wd} "
        "(resumable: run this cell again after an interruption)")
    result = train(cfg, wd, resume="auto")
    if result.last_checkpoint is None:
        raise RuntimeError(f"training {name} in {wd} ended without a model (see the messages above)")
    train_log, val_log = _logs(wd)
    meta = read_checkpoint(result.last_checkpoint).get("meta", {})
    record = {**_results(wd), "perceptual": meta.get("perceptual")}
    run = StageRun(experiment, stage, profile, cfg, load_checkpoint(result.last_checkpoint),
                   "resumed" if result.resumed_from else "trained", Path(result.last_checkpoint), wd, train_log,
                   val_log, record)
    say(run.describe())
    return run


def cli_command(
    experiment: str,
    stage: str = "hcflow",
    profile: str = "full",
    workdir: str | Path = "runs",
    *,
    data_root: str | Path | None = None,
) -> str:
    """The ``python -m hcflow_lite train`` command that runs the same stage as :func:`load_or_train`."""
    cfg = profile_config(experiment, stage, profile, workdir=workdir, data_root=data_root)
    sets = [f"init_from={cfg.init_from}"] if stage != "hcflow" else []
    sets += [f"data.root={cfg.data.root}"] if data_root is not None else []
    sets += ["losses.allow_random_vgg=true"] if cfg.losses.allow_random_vgg and profile != "smoke" else []
    return (f"python -m hcflow_lite train --config {cfg.name} --workdir {run_dir(workdir, experiment, stage, profile)}"
            f" --resume auto" + (f" --set {' '.join(sets)}" if sets else ""))


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]" if v else "–"
    return "–" if v is None else str(v)


def recipe_rows(cfg: TrainConfig) -> dict[str, str]:
    """The settings that define a recipe, as the paper writes them (model, data, losses, optimiser, schedule)."""
    m, d, w, o, s = cfg.model_config(), cfg.data, cfg.losses, cfg.optim, cfg.schedule
    rows = {
        "model": f"{m.name}: L={m.L}, K={_fmt_value(m.K)}, P={_fmt_value(m.P)}, RRDB {_fmt_value(m.rrdb_nb)}×nf {m.rrdb_nf}",
        "training data": f"{d.train}, {d.patch_size}×{d.patch_size} patches, batch {d.batch_size}",
    }
    if m.task == "rescaling":
        rows["losses"] = (f"L1(HR, τ={w.temperature:g}) {w.pixel_hr:g} + L2(LR) {w.pixel_lr:g} + "
                          f"latent L2 {w.latent:g}")
    else:
        terms = [f"NLL {w.nll:g}"]
        if w.pixel_hr:
            terms.append(f"L1(τ=0) {w.pixel_hr:g}")
        if w.perceptual:
            terms.append(f"VGG {w.perceptual:g}" + (" (random-weight VGG if the ImageNet one is missing)"
                                                     if w.allow_random_vgg else ""))
        if w.gan:
            terms.append(f"GAN {w.gan:g} ({w.discriminator}, {w.d_init_iters} warm-up its)")
        rows["losses"] = " + ".join(terms)
    rows["optimiser"] = f"Adam {o.learning_rate:g} β=({o.beta1:g}, {o.beta2:g})" + (
        f", D {o.d_learning_rate:g}" if w.gan else "")
    sched = f"{s.iterations:,} iterations, {s.kind}"
    if s.kind == "multistep":
        sched += f" ×{s.gamma:g} at {_fmt_value(s.milestones)}"
    elif s.kind == "linear":
        sched += f" to {s.final_factor:g}×"
    rows["schedule"] = sched
    rows["starts from"] = "scratch" if cfg.init_from is None else str(cfg.init_from)
    return rows


def recipe_table(configs: Mapping[str, TrainConfig]) -> str:
    """A Markdown table of :func:`recipe_rows`, one column per config (e.g. the stages, or lite beside full)."""
    cols = {label: recipe_rows(cfg) for label, cfg in configs.items()}
    keys = list(next(iter(cols.values())))
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(c.get(k, "–").replace("|", "\\|") for c in cols.values()) + " |")
    return "\n".join(lines)


def split_by_temperature(val_log: Mapping[str, Sequence[float]]) -> dict[float, dict[str, list[float]]]:
    """The validation log (one row per iteration and τ) as one log per temperature, for plotting."""
    out: dict[float, dict[str, list[float]]] = {}
    temps = list(val_log.get("temperature", []))
    for i, t in enumerate(temps):
        log = out.setdefault(float(t), {k: [] for k in val_log})
        for k, col in val_log.items():
            log[k].append(col[i])
    return out


# ---------------------------------------------------------------------------------------- results
_METRICS = ("psnr", "psnr_y", "ssim", "ssim_y")


@dataclass
class Comparison:
    """A model's numbers beside the bicubic baseline's, from the same :func:`~hcflow_lite.evaluate.evaluate` code.

    ``rows``: one per temperature, ``{"temperature", "psnr", "bicubic_psnr", "delta_psnr", …}``
    for PSNR/SSIM on RGB and on Y (the bicubic baseline: bicubic ×s up of the dataset LR for SR,
    bicubic down and up for rescaling; Table 4's "Bicubic & Bicubic").
    """

    label: str
    task: str
    dataset: str
    n_samples: int
    rows: list[dict[str, Any]]
    model_results: dict[str, Any]
    bicubic_results: dict[str, Any]

    def row(self, temperature: float) -> dict[str, Any]:
        for r in self.rows:
            if math.isclose(float(r["temperature"]), float(temperature)):
                return r
        raise KeyError(f"no results at τ = {temperature} (have {[r['temperature'] for r in self.rows]})")

    def beats_bicubic(self, temperature: float, margin_db: float = 0.0, metrics: Sequence[str] = ("psnr", "psnr_y")) -> bool:
        """Whether the model's PSNR exceeds bicubic's by more than ``margin_db`` on each of ``metrics``."""
        r = self.row(temperature)
        return all(r[f"delta_{m}"] > margin_db for m in metrics)

    def text(self) -> str:
        """One line per temperature: the model, bicubic, and the difference, in dB."""
        lines = []
        for r in self.rows:
            n = f", mean of {self.n_samples} draws" if r["temperature"] > 0 and self.n_samples > 1 else ""
            lines.append(
                f"{self.label} on {self.dataset}, τ = {r['temperature']:g}{n}: "
                f"PSNR {r['psnr']:.2f} dB vs bicubic {r['bicubic_psnr']:.2f} dB ({r['delta_psnr']:+.2f} dB); "
                f"Y-PSNR {r['psnr_y']:.2f} vs {r['bicubic_psnr_y']:.2f} dB ({r['delta_psnr_y']:+.2f} dB); "
                f"Y-SSIM {r['ssim_y']:.4f} vs {r['bicubic_ssim_y']:.4f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "task": self.task, "dataset": self.dataset, "n_samples": self.n_samples,
                "rows": self.rows}


def compare_to_bicubic(
    model: HCFlow,
    dataset: Any = "Set5",
    temperatures: Sequence[float] | None = None,
    n_samples: int = 1,
    *,
    seed: int = 0,
    label: str | None = None,
    device: str = "cpu",
    progress: bool = False,
    lpips: bool | str = False,
    max_images: int | None = None,
    images: Sequence[int] | None = None,
    root: str | Path | None = None,
) -> Comparison:
    """Evaluate ``model`` and bicubic on ``dataset`` at each τ and put them side by side.

    ``dataset``: a benchmark name (:func:`~hcflow_lite.data.benchmark_dataset`, under ``root``;
    Set5 is shipped with the package) or a dataset of ``{"hr", "lr", "name"}`` items.
    ``temperatures``: default the official test ones (0 and 0.9 for ×4, 0 and 0.8 for ×8, 1 for
    rescaling); ``n_samples`` draws per image at τ > 0; ``max_images``: the first images only;
    ``images``: only these (indices into the dataset).
    """
    from .data import benchmark_dataset
    from .evaluate import default_temperatures, evaluate

    task, scale = model.config.task, model.scale
    ds_name = dataset if isinstance(dataset, str) else getattr(dataset, "name", type(dataset).__name__)
    ds = benchmark_dataset(dataset, root, scale=scale) if isinstance(dataset, str) else dataset
    if images is not None:
        from torch.utils.data import Subset

        ds = Subset(ds, list(images))
    temps = list(temperatures) if temperatures is not None else [float(t) for t in default_temperatures(model, task)]  # type: ignore[arg-type]
    ours = evaluate(model, ds, temps, n_samples, seed=seed, device=device, progress=progress, lpips=lpips,
                    label=label, dataset_name=str(ds_name), max_images=max_images)
    bic = evaluate("bicubic", ds, task=task, scale=scale, seed=seed, progress=False, lpips=False,
                   dataset_name=str(ds_name), max_images=max_images)
    base = bic["runs"][0]
    rows = []
    for run in ours["runs"]:
        row: dict[str, Any] = {"temperature": float(run["temperature"])}
        for m in _METRICS:
            row[m] = run[m]
            row[f"bicubic_{m}"] = base[m]
            row[f"delta_{m}"] = run[m] - base[m]
        rows.append(row)
    return Comparison(label or model.config.name, task, str(ds_name), n_samples, rows, ours, bic)
