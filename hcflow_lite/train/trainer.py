"""The training loop (book chapter 10): one code path for one CPU, one GPU or many GPUs.

:class:`Trainer` builds (or loads) the model, the data, the optimisers of the recipe
(:mod:`~hcflow_lite.train.steps`) and runs the iterations, with

* ActNorm data-dependent initialisation on the first global batch (runs that start from
  scratch; fine-tuning starts from an initialised model);
* the learning-rate schedule (:mod:`~hcflow_lite.train.schedule`);
* the non-finite guard (skipped steps are counted and reported; ``optim.max_nonfinite``
  iterations in a row stop the run with :class:`TrainingDiverged`);
* a tqdm progress bar (loss, PSNR, iterations per second), ``train_log.csv`` /
  ``val_log.csv`` (and TensorBoard), validation images in ``samples/``;
* atomic training checkpoints every ``checkpoint.every`` iterations and ``--resume auto``
  continuing exactly (:mod:`~hcflow_lite.train.state`, :mod:`~hcflow_lite.train.sampling`);
* ``last.pt`` at the end: an ``hcflow_lite`` checkpoint (model config inside) that
  :func:`hcflow_lite.load_checkpoint` reads, plus ``results.json``.

Under ``torchrun`` every process runs this same loop on its slice of each global batch, the
flow (and discriminator) wrapped in ``DistributedDataParallel``; only rank 0 writes files.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..models import HCFlow, HCFlowConfig, build_model, load_checkpoint, load_official, save_checkpoint
from .config import TrainConfig
from .data import build_train_dataset, build_val_dataset
from .distributed import DistInfo, all_reduce_sum, barrier, cleanup_distributed, init_distributed
from .logs import CSVLog, RunningMeans, TensorBoardLog
from .sampling import (
    STREAM_EPS,
    STREAM_INIT,
    GlobalBatchSampler,
    SeededItems,
    dequantization_noise,
    make_generator,
    sample_latents,
)
from .schedule import LRSchedule
from .state import (
    checkpoint_path,
    find_checkpoints,
    get_rng_state,
    load_training_checkpoint,
    prune_checkpoints,
    select_resume_checkpoint,
    set_rng_state,
)
from .steps import FlowObjectives, Recipe
from .validation import format_rows, validate

__all__ = ["TrainResult", "Trainer", "TrainingDiverged", "train"]

LOG_TERMS = ("loss", "nll", "pixel_hr", "perceptual", "gan", "d_real", "d_fake", "pixel_lr", "latent", "batch_psnr")


class TrainingDiverged(RuntimeError):
    """Too many iterations in a row had non-finite losses or gradients."""


@dataclass
class TrainResult:
    """Summary of a finished run."""

    iteration: int
    workdir: Path
    last_checkpoint: Path | None
    validation: list[dict[str, Any]] = field(default_factory=list)
    nonfinite_steps: int = 0
    seconds: float = 0.0
    resumed_from: int = 0


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))  # the invertible 1×1 convolutions draw from NumPy (spec §2.4)  # noqa: NPY002 - the global generator itself is what is saved, seeded or restored
    torch.manual_seed(seed)


class Trainer:
    """Train one configuration in ``workdir``.

    Args:
        config: the run's :class:`~hcflow_lite.train.config.TrainConfig`.
        workdir: where checkpoints, logs, samples and ``last.pt`` go.
        resume: ``None`` (a fresh run; an error if ``workdir`` already holds checkpoints),
            ``"auto"`` (continue from the newest checkpoint in ``workdir`` if there is one) or
            the path of a training checkpoint.
        train_dataset, val_dataset: datasets to use instead of ``config.data`` (items
            ``{"hr", "lr", "name"}``; training items already cropped to the patch size).
        echo: where to print messages (default ``sys.stderr``; rank 0 only).
    """

    def __init__(
        self,
        config: TrainConfig,
        workdir: str | Path,
        resume: str | Path | None = None,
        train_dataset: Dataset | None = None,
        val_dataset: Dataset | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.workdir = Path(workdir)
        self.resume = resume
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self._echo = echo
        self.info = DistInfo()

    # ------------------------------------------------------------------ messages
    def echo(self, message: str) -> None:
        if not self.info.is_main:
            return
        if self._echo is not None:
            self._echo(message)
        else:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)

    # ------------------------------------------------------------------ model
    def _initial_model(self, mcfg: HCFlowConfig) -> tuple[HCFlow, bool]:
        """The model to start from, and whether its ActNorms still need the data-dependent init."""
        cfg = self.config
        _seed_everything(cfg.seed)
        if cfg.init_from is None:
            return build_model(mcfg), True
        source = cfg.init_from
        if cfg.init_options is not None:
            model = load_official(source, cfg.init_options)
        else:
            if not Path(source).is_file() and str(source).endswith((".pt", ".pth")):
                raise FileNotFoundError(
                    f"init_from checkpoint not found: {source} (train the recipe it fine-tunes first, e.g. "
                    "`python -m hcflow_lite train --config sr_x4 --workdir runs/sr_x4`, or point init_from at an "
                    "official .pth and init_options at its .yml)"
                )
            model = load_checkpoint(source)
        theirs = model.config
        if theirs.replace(name=mcfg.name) != mcfg:
            raise ValueError(
                f"init_from {source} holds a {theirs.task} model (L={theirs.L}, K={list(theirs.K)}, P={list(theirs.P)}, "
                f"nf={theirs.rrdb_nf}) that differs from this config's model {mcfg.name!r} "
                f"(L={mcfg.L}, K={list(mcfg.K)}, P={list(mcfg.P)}, nf={mcfg.rrdb_nf})"
            )
        model.mark_initialized(True)
        return model, False

    # ------------------------------------------------------------------ run
    def run(self) -> TrainResult:
        cfg = self.config
        if cfg.runtime.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        if cfg.runtime.threads:
            torch.set_num_threads(cfg.runtime.threads)
        started_group = not torch.distributed.is_initialized()
        self.info, device = init_distributed(cfg.runtime.device)
        try:
            return self._run(device)
        finally:
            if started_group:
                cleanup_distributed()

    def _run(self, device: torch.device) -> TrainResult:  # noqa: C901 - the loop reads best in one piece
        cfg, info = self.config, self.info
        t_start = time.time()
        mcfg = cfg.model_config()
        total = cfg.schedule.iterations
        B = cfg.data.batch_size
        if B % info.world_size:
            raise ValueError(f"data.batch_size ({B}) must be divisible by the number of processes ({info.world_size})")
        b = B // info.world_size
        rows = slice(info.rank * b, (info.rank + 1) * b)
        if cfg.data.patch_size % mcfg.scale:
            raise ValueError(f"data.patch_size ({cfg.data.patch_size}) must be a multiple of the scale ({mcfg.scale})")

        # ---------------------------------------------------------- resume or start
        ckpt: dict[str, Any] | None = None
        if self.resume == "auto":
            found = select_resume_checkpoint(self.workdir, mcfg)
            if found is not None:
                ckpt = found[1]
                self.echo(f"resuming from {found[0]}")
        elif self.resume is not None:
            ckpt = load_training_checkpoint(self.resume, mcfg)
        elif find_checkpoints(self.workdir):
            newest = find_checkpoints(self.workdir)[0]
            raise ValueError(
                f"{self.workdir} already holds a run (checkpoint at iteration {newest[0]}): continue it with "
                "--resume auto, or choose another --workdir"
            )
        start = int(ckpt["train_state"]["iteration"]) if ckpt is not None else 0
        if start >= total and (self.workdir / "last.pt").is_file():
            self.echo(f"{self.workdir}: the run is complete ({start} of {total} iterations); nothing to do")
            return TrainResult(start, self.workdir, self.workdir / "last.pt", resumed_from=start)
        if ckpt is not None:
            changed = self._changed_settings(ckpt["train_state"].get("train_config", {}))
            if changed:
                self.echo(f"note: settings changed since the checkpoint: {', '.join(changed)}")

        if ckpt is not None:
            _seed_everything(cfg.seed)
            model = build_model(mcfg)
            model.load_state_dict(ckpt["state_dict"])
            needs_init = False
        else:
            model, needs_init = self._initial_model(mcfg)
        model.to(device).train()
        use_cuda = device.type == "cuda"
        channels_last = use_cuda and cfg.runtime.channels_last
        if channels_last:
            model.to(memory_format=torch.channels_last)

        def autocast() -> AbstractContextManager[object]:
            if use_cuda and cfg.runtime.precision == "bf16":
                return torch.autocast("cuda", dtype=torch.bfloat16)
            return nullcontext()

        # ---------------------------------------------------------- data
        train_ds = self.train_dataset if self.train_dataset is not None else build_train_dataset(cfg.data, mcfg.scale, cfg.seed)
        val_ds = self.val_dataset
        if val_ds is None and info.is_main:
            val_ds = build_val_dataset(cfg.data, mcfg.scale, cfg.seed)
        sampler = GlobalBatchSampler(len(train_ds), B, cfg.seed, start, total, info.rank, info.world_size)  # type: ignore[arg-type]
        items = SeededItems(train_ds)
        loader = DataLoader(items, batch_sampler=sampler, num_workers=cfg.data.num_workers, pin_memory=use_cuda,
                            persistent_workers=False)

        def to_device(t: torch.Tensor) -> torch.Tensor:
            t = t.to(device, non_blocking=True)
            return t.contiguous(memory_format=torch.channels_last) if channels_last else t

        # ---------------------------------------------------------- ActNorm initialisation on the first global batch
        if needs_init and start == 0:
            from torch.utils.data import default_collate

            first = default_collate([items[k] for k in sampler.global_batch(1)])
            hr0, lr0 = to_device(first["hr"]), to_device(first["lr"])
            with torch.no_grad():
                if mcfg.task == "sr":
                    g = make_generator(cfg.seed, STREAM_INIT, device=device)
                    noise0 = torch.rand(hr0.shape, generator=g, device=device) / float(mcfg.quant or 1)
                    model.encode(hr0, lr0, dequant_noise=noise0)
                else:
                    model.encode(hr0)
            del first, hr0, lr0
        model.mark_initialized(True)

        # ---------------------------------------------------------- DDP, optimisers
        def wrap(m: nn.Module) -> nn.Module:
            if not info.enabled:
                return m
            return nn.parallel.DistributedDataParallel(m, device_ids=[device.index] if use_cuda else None)

        flow = wrap(FlowObjectives(model))
        recipe = Recipe(model, flow, cfg.losses, cfg.optim, cfg.data.patch_size, device, autocast, wrap)
        if recipe.perceptual_label and recipe.perceptual is not None and recipe.perceptual.vgg.is_random:
            self.echo(f"WARNING: the perceptual loss uses a {recipe.perceptual_label}")
        rates = [cfg.optim.learning_rate] + ([cfg.optim.d_learning_rate] if recipe.optimizer_d is not None else [])
        schedule = LRSchedule(cfg.schedule, recipe.optimizers, rates)
        means = RunningMeans()
        nonfinite_total, nonfinite_run = 0, 0
        if ckpt is not None:
            st = ckpt["train_state"]
            for opt, state in zip(recipe.optimizers, st["optimizers"], strict=True):
                opt.load_state_dict(state)
            if recipe.discriminator is not None:
                recipe.discriminator.load_state_dict(st["discriminator"])
            schedule.load_state_dict(st["schedule"])
            means.load_state_dict(st.get("log", {}))
            nonfinite_total = int(st.get("nonfinite", {}).get("total", 0))
            nonfinite_run = int(st.get("nonfinite", {}).get("in_a_row", 0))
            if st.get("grads") is not None:
                recipe.restore_grads(st["grads"])
            set_rng_state(st["rng"])
        del ckpt

        # ---------------------------------------------------------- logs
        columns = ["iteration", "learning_rate"] + [t for t in LOG_TERMS if self._logs_term(t, recipe)] + [
            "nonfinite_steps", "seconds"]
        if recipe.perceptual is not None and recipe.perceptual.vgg.is_random:
            columns[columns.index("perceptual")] = "perceptual_random_vgg"
        val_columns = ["iteration", "temperature", "psnr", "psnr_y", "nll" if mcfg.task == "sr" else "lr_psnr", "images"]
        train_log = val_log = None
        tb = TensorBoardLog(self.workdir / "tensorboard", cfg.log.tensorboard and info.is_main)
        if info.is_main:
            self.workdir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "config.yaml").write_text(cfg.to_yaml())
            train_log = CSVLog(self.workdir / "train_log.csv", columns, resume_from=start)
            val_log = CSVLog(self.workdir / "val_log.csv", val_columns, resume_from=start)
        barrier()

        # ---------------------------------------------------------- loop
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, desc=cfg.name, disable=not (info.is_main and cfg.log.progress),
                   dynamic_ncols=True, file=sys.stderr)
        needs_eps = (mcfg.task == "rescaling") or cfg.losses.perceptual > 0 or cfg.losses.gan > 0
        last_val: list[dict[str, Any]] = []
        interval_skipped = 0
        iteration = start
        saved_at = start
        t_interval = time.time()

        def save(it: int) -> None:
            nonlocal saved_at
            if info.is_main:
                path = checkpoint_path(self.workdir, it)
                state = {
                    "iteration": it,
                    "train_config": cfg.to_dict(),
                    "optimizers": [o.state_dict() for o in recipe.optimizers],
                    "discriminator": recipe.discriminator.state_dict() if recipe.discriminator is not None else None,
                    "schedule": schedule.state_dict(),
                    "rng": get_rng_state(),
                    "sampler": {"seed": cfg.seed, "iteration": it, "batch_size": B},
                    "log": means.state_dict(),
                    "nonfinite": {"total": nonfinite_total, "in_a_row": nonfinite_run},
                    "grads": recipe.carried_grads() if cfg.losses.official_grad_leak else None,
                }
                save_checkpoint(model, path, meta={"name": cfg.name, "iteration": it}, train_state=state)
                prune_checkpoints(self.workdir, cfg.checkpoint.keep)
            saved_at = it

        try:
            for batch in loader:
                iteration += 1
                hr, lr = to_device(batch["hr"]), to_device(batch["lr"])
                rate = schedule.step_to(iteration)
                noise = eps = None
                if mcfg.task == "sr" and cfg.losses.nll > 0:
                    noise = dequantization_noise((B, *hr.shape[1:]), float(mcfg.quant or 1), cfg.seed, iteration, rows, device)
                if needs_eps:
                    g = make_generator(cfg.seed, STREAM_EPS, iteration, device=device)
                    eps = sample_latents(mcfg, B, (hr.shape[-2], hr.shape[-1]), g, rows, device)
                res = recipe.iteration(iteration, hr, lr, noise, eps)
                values = self._global_values(res.values, device)
                means.add(values)
                if res.skipped:
                    nonfinite_total += len(res.skipped)
                    nonfinite_run += 1
                    interval_skipped += len(res.skipped)
                    self.echo(f"iteration {iteration}: non-finite {', '.join(res.skipped)} — step skipped "
                              f"({nonfinite_run} iteration(s) in a row, {nonfinite_total} step(s) in all)")
                    if nonfinite_run >= cfg.optim.max_nonfinite:
                        good = find_checkpoints(self.workdir)
                        where = f"; the last checkpoint is {good[0][1]}" if good else ""
                        raise TrainingDiverged(
                            f"training stopped at iteration {iteration}: losses or gradients were not finite in "
                            f"{nonfinite_run} iterations in a row{where}. Lower optim.learning_rate, check the data "
                            "for NaNs, and fine-tune HCFlow+/++ from a trained HCFlow rather than from scratch "
                            "(HCFlow issue #3)"
                        )
                else:
                    nonfinite_run = 0
                bar.update(1)
                if info.is_main and cfg.log.progress:
                    post = {"loss": f"{values.get('loss', math.nan):.4g}"}
                    psnr_show = last_val[0]["psnr"] if last_val else values.get("batch_psnr")
                    if psnr_show is not None:
                        post["psnr"] = f"{psnr_show:.2f}"
                    if nonfinite_total:
                        post["skipped"] = str(nonfinite_total)
                    bar.set_postfix(post, refresh=False)

                if iteration % cfg.log.every == 0 or iteration == total:
                    row = {"iteration": iteration, "learning_rate": rate, **means.means(),
                           "nonfinite_steps": interval_skipped, "seconds": round(time.time() - t_interval, 3)}
                    if "perceptual_random_vgg" in columns:
                        row["perceptual_random_vgg"] = row.get("perceptual")
                    if train_log is not None:
                        train_log.write(row)
                    tb.scalars({k: v for k, v in row.items() if k != "iteration"}, iteration, "train/")
                    means.reset()
                    interval_skipped = 0
                    t_interval = time.time()
                due_val = cfg.validation.every and iteration % cfg.validation.every == 0
                if (due_val or iteration == total) and info.is_main and val_ds is not None:
                    image_dir = self.workdir / "samples" / f"iter_{iteration:07d}"
                    last_val = validate(model, val_ds, cfg.validation, seed=cfg.seed, device=device, image_dir=image_dir)
                    model.train()
                    for r in last_val:
                        if val_log is not None:
                            val_log.write({"iteration": iteration, **r})
                        tb.scalars({"psnr": r["psnr"], "psnr_y": r["psnr_y"]}, iteration, f"val/t{r['temperature']:g}/")
                    self.echo(f"iteration {iteration} validation: {format_rows(last_val)}")
                if iteration % cfg.checkpoint.every == 0 or iteration == total:
                    save(iteration)
        except KeyboardInterrupt:
            if info.world_size == 1 and iteration > saved_at:
                save(iteration)
                self.echo(f"interrupted: checkpoint saved at iteration {iteration}; continue with --resume auto")
            raise
        finally:
            bar.close()
            tb.close()

        # ---------------------------------------------------------- the end
        seconds = time.time() - t_start
        last = None
        if info.is_main:
            meta = {
                "name": cfg.name,
                "description": cfg.description,
                "iteration": iteration,
                "train_config": cfg.to_dict(),
                "validation": last_val,
                "seconds": round(seconds, 1),
                "world_size": info.world_size,
                "device": str(device),
                "perceptual": recipe.perceptual_label,
                "nonfinite_steps": nonfinite_total,
            }
            last = save_checkpoint(model, self.workdir / "last.pt", meta=meta)
            summary = {k: v for k, v in meta.items() if k != "train_config"}
            summary.update(model_parameters=model.num_parameters(), resumed_from=start,
                           command_config=cfg.name, last_checkpoint=str(last))
            (self.workdir / "results.json").write_text(json.dumps(summary, indent=2, default=str))
            self.echo(f"done: {iteration} iterations; model written to {last}")
        barrier()
        return TrainResult(iteration, self.workdir, last, last_val, nonfinite_total, seconds, start)

    # ------------------------------------------------------------------ helpers
    def _logs_term(self, term: str, recipe: Recipe) -> bool:
        w = self.config.losses
        if recipe.task == "rescaling":
            return term in ("loss", "pixel_hr", "pixel_lr", "latent", "batch_psnr")
        return {
            "loss": True,
            "nll": w.nll > 0,
            "pixel_hr": w.pixel_hr > 0,
            "batch_psnr": w.pixel_hr > 0,
            "perceptual": w.perceptual > 0,
            "gan": w.gan > 0,
            "d_real": w.gan > 0,
            "d_fake": w.gan > 0,
        }.get(term, False)

    def _global_values(self, values: dict[str, float], device: torch.device) -> dict[str, float]:
        """Mean of the logged values over processes (identity in a single process)."""
        if not self.info.enabled or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
        all_reduce_sum(t)
        return {k: float(v) / self.info.world_size for k, v in zip(keys, t.tolist(), strict=True)}

    def _changed_settings(self, old: dict[str, Any]) -> list[str]:
        changed = []
        new = self.config.to_dict()
        for section, values in new.items():
            before = old.get(section)
            if isinstance(values, dict) and isinstance(before, dict):
                changed += [f"{section}.{k}" for k, v in values.items() if before.get(k) != v]
            elif before != values and section not in ("name", "description"):
                changed.append(section)
        return changed


def train(config: TrainConfig, workdir: str | Path, resume: str | Path | None = None, **kwargs: Any) -> TrainResult:
    """Run :class:`Trainer` (see its arguments)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
        return Trainer(config, workdir, resume, **kwargs).run()
