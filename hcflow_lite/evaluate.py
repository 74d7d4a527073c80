"""Evaluate a model (or the bicubic baseline) on a dataset, as the paper's tables (spec §9).

:func:`evaluate` streams the dataset one image at a time and draws the ``n`` SR samples one at
a time (memory for a few images, also at 2K), computing per image and temperature τ:

* SR models: ``sr = model.decode(lr, τ)``; **PSNR/SSIM** on RGB and on Y (crop = scale),
  **LPIPS** (AlexNet, when its ImageNet trunk is available), **diversity** (per-pixel std of
  the ``n`` samples, 0–255), **consistency** (MATLAB-bicubic ×1/s of GT vs of SR), plus once
  per image the **LR-PSNR** (dataset LR vs the LR of the forward pass ``model.encode(hr, lr)``,
  i.e. ``clamp(Q(ŷ))``) and the **NLL**.
* Rescaling models: ``lr = model.downscale(hr)`` (the model's own 8-bit LR,
  ``Q(clamp(ŷ))``), ``sr = model.upscale(lr, τ)`` (τ = 1.0 in the paper); the same metrics,
  Table 4 reporting Y-PSNR/SSIM; LR-PSNR compares the model's LR with the bicubic LR.
* ``"bicubic"``: the baseline rows, from the same code path: SR task ``sr = imresize(lr, s)``;
  rescaling task ``sr = imresize(imresize(hr, 1/s), s)``, both on 8-bit images as MATLAB's
  ``imresize`` on ``uint8`` (bicubic ×4 down and up on Set5: 28.42 dB Y-PSNR, Table 4).

Every value is averaged over the ``n`` samples of an image, then over images, as
``test_HCFlow.py`` does.  Conventions (recorded in the results): 8-bit RGB (the official
``tensor2img`` rounding); Y = BT.601 luma, rounded to 8 bits (``y_convention="matlab"``, the
published tables) or not (``"float"``, the official test script: +0.01 dB); HR metrics crop
``scale`` pixels per side, LR metrics none.  :func:`format_table` renders the Markdown table
in the paper's column order; :func:`save_results` writes the JSON and the table.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .data.images import save_image
from .data.resize import imresize
from .metrics import (
    LPIPS,
    LPIPSUnavailableError,
    RunningDiversity,
    YConvention,
    consistency,
    image_metrics,
    psnr,
    ssim,
)
from .models.hcflow import HCFlow, HCFlowRescaling

__all__ = ["METRIC_NAMES", "default_temperatures", "evaluate", "format_table", "save_results"]

METRIC_NAMES = ("psnr", "ssim", "psnr_y", "ssim_y", "lpips", "diversity", "consistency", "lr_psnr", "lr_ssim",
                "lr_psnr_y", "lr_ssim_y", "nll")
_HR_KEYS = ("psnr", "ssim", "psnr_y", "ssim_y", "lpips", "consistency")
_LR_KEYS = ("lr_psnr", "lr_ssim", "lr_psnr_y", "lr_ssim_y", "nll")


def default_temperatures(model: HCFlow | str, task: str) -> list[float | None]:
    """The official test temperatures: SR ×4 ``[0, 0.9]``, faces ×8 ``[0, 0.8]``, rescaling ``[1.0]``."""
    if isinstance(model, str):
        return [None]
    if task == "rescaling":
        return [1.0]
    return [0.0, 0.8] if model.scale == 8 else [0.0, 0.9]


def _key(t: float | None) -> str:
    return "bicubic" if t is None else str(float(t))


def _mean(values: Iterable[float]) -> float:
    v = list(values)
    return float(sum(v) / len(v)) if v else math.nan


def _jsonable(obj: Any) -> Any:
    """JSON has no inf/nan: inf (identical images) becomes the string "inf", nan becomes null."""
    if isinstance(obj, float):
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return None if math.isnan(obj) else obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _dataset_scale(dataset: Dataset) -> int | None:
    s = getattr(dataset, "scale", None)
    return int(s) if s is not None else None


def _describe_model(model: HCFlow | str, label: str | None, task: str, scale: int) -> dict[str, Any]:
    if isinstance(model, str):
        return {"label": label or "Bicubic", "kind": "bicubic", "task": task, "scale": scale}
    cfg = model.config
    return {
        "label": label or cfg.name,
        "kind": "hcflow",
        "task": cfg.task,
        "scale": cfg.scale,
        "config": cfg.to_dict(),
        "parameters": model.num_parameters(),
    }


def _lpips_module(lpips: bool | str, device: torch.device) -> tuple[LPIPS | None, str | None]:
    if lpips is False or lpips == "no":
        return None, "disabled"
    try:
        return LPIPS("alex", device=device, allow_download=lpips is True or lpips == "yes"), None
    except LPIPSUnavailableError as e:
        if lpips is True or lpips == "yes":
            raise
        return None, str(e)


class _Accumulator:
    """Per-image, per-temperature metric lists over the samples, plus the running diversity."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.diversity = RunningDiversity()

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(float(value))


def _hr_metrics(
    sr: Tensor, hr: Tensor, scale: int, crop: int, y_convention: YConvention, lpips_model: LPIPS | None
) -> dict[str, float]:
    out = image_metrics(sr, hr, crop, y_convention=y_convention)
    out["consistency"] = float(consistency(sr, hr, scale))
    if lpips_model is not None:
        out["lpips"] = float(lpips_model(sr, hr)[0])
    return out


def _lr_metrics(generated: Tensor, lr: Tensor, y_convention: YConvention) -> dict[str, float]:
    return {  # type: ignore[return-value]
        "lr_psnr": psnr(generated, lr),
        "lr_ssim": ssim(generated, lr) if min(lr.shape[-2:]) >= 11 else math.nan,
        "lr_psnr_y": psnr(generated, lr, 0, True, y_convention=y_convention),
        "lr_ssim_y": ssim(generated, lr, 0, True, y_convention=y_convention) if min(lr.shape[-2:]) >= 11 else math.nan,
    }


@dataclass
class _Setup:
    """What every image of one :func:`evaluate` call shares."""

    model: HCFlow | str
    task: str
    scale: int
    crop: int
    temps: list[float | None]
    n_samples: int
    y_convention: YConvention
    lpips_model: LPIPS | None
    out_dir: Path | None
    seed: int
    device: torch.device

    @property
    def is_bicubic(self) -> bool:
        return isinstance(self.model, str)


def _evaluate_image(st: _Setup, index: int, item: Mapping[str, Any]) -> dict[str, Any]:
    """All metrics of one image: LR metrics once, then HR metrics per temperature and sample."""
    hr = item["hr"].to(st.device)[None]
    lr = item["lr"].to(st.device)[None]
    name = str(item.get("name", index))
    s = st.scale
    if hr.shape[-2] != lr.shape[-2] * s or hr.shape[-1] != lr.shape[-1] * s:
        raise ValueError(
            f"image {name}: HR {hr.shape[-2]}×{hr.shape[-1]} is not ×{s} of LR {lr.shape[-2]}×{lr.shape[-1]} "
            "(mod-crop the HR to a multiple of the scale)"
        )
    record: dict[str, Any] = {"name": name, "hr_size": list(hr.shape[-2:])}
    image_seed = st.seed * 1_000_003 + index
    gen = torch.Generator(device=st.device).manual_seed(image_seed)  # latent draws
    model = st.model
    # the SR forward draws dequantisation noise from the global RNG: seed it, then restore the caller's
    with torch.random.fork_rng(devices=[st.device] if st.device.type == "cuda" else []):
        torch.manual_seed(image_seed)
        if isinstance(model, str):
            source_lr = imresize(hr, 1 / s, uint8=True) if st.task == "rescaling" else lr
        else:
            if st.task == "sr":
                enc = model.encode(hr, lr)
                generated_lr, source_lr = enc.lr, lr
                record["nll"] = float(enc.nll)  # type: ignore[arg-type]
            else:
                assert isinstance(model, HCFlowRescaling)
                generated_lr = source_lr = model.downscale(hr)
            record.update(_lr_metrics(generated_lr[0], lr[0], st.y_convention))
            if st.out_dir is not None:
                save_image(generated_lr[0], st.out_dir / f"{name}_lr.png")
        runs = []
        for t in st.temps:
            acc = _Accumulator()
            draws = 1 if (t is None or t == 0.0) else st.n_samples
            for k in range(draws):
                if isinstance(model, str):
                    sr = imresize(source_lr, s, uint8=True)
                elif st.task == "sr":
                    sr = model.decode(source_lr, temperature=t, generator=gen)  # type: ignore[arg-type]
                else:
                    sr = model.upscale(source_lr, temperature=t, generator=gen)  # type: ignore[union-attr, arg-type]
                for key, value in _hr_metrics(sr[0], hr[0], s, st.crop, st.y_convention, st.lpips_model).items():
                    acc.add(key, value)
                acc.diversity.update(sr[0])
                if st.out_dir is not None:
                    save_image(sr[0], st.out_dir / f"{name}_t{_key(t)}_{k}.png")
            run: dict[str, Any] = {"temperature": t}
            for key in _HR_KEYS:
                if key in acc.values:
                    run[key] = _mean(acc.values[key])
            if not st.is_bicubic and st.n_samples >= 2:
                run["diversity"] = 0.0 if draws == 1 else acc.diversity.value()
            run["draws"] = draws  # τ = 0 (and bicubic) is deterministic: one draw stands for all n
            runs.append(run)
    record["runs"] = runs
    return record


def _summarise(images: Sequence[Mapping[str, Any]], temps: Sequence[float | None]) -> list[dict[str, Any]]:
    """Means over images per temperature (HR metrics per run, LR metrics and NLL per image)."""
    mean_runs = []
    for i, t in enumerate(temps):
        m: dict[str, Any] = {"temperature": t}
        for key in (*_HR_KEYS, "diversity"):
            vals = [img["runs"][i][key] for img in images if key in img["runs"][i]]
            if vals:
                m[key] = _mean(vals)
        for key in _LR_KEYS:
            vals = [img[key] for img in images if key in img and not math.isnan(img[key])]
            if vals:
                m[key] = _mean(vals)
        mean_runs.append(m)
    return mean_runs


@torch.no_grad()
def evaluate(
    model: HCFlow | str,
    dataset: Dataset,
    temperatures: Sequence[float] | None = None,
    n_samples: int = 1,
    *,
    task: str | None = None,
    scale: int | None = None,
    crop_border: int | None = None,
    lpips: bool | str = "auto",
    y_convention: YConvention = "matlab",
    device: str | torch.device = "cpu",
    seed: int = 0,
    max_images: int | None = None,
    progress: bool = True,
    save_images: str | Path | None = None,
    label: str | None = None,
    dataset_name: str | None = None,
) -> dict[str, Any]:
    """Run ``model`` over ``dataset`` at each temperature with ``n_samples`` draws; return the results.

    Args:
        model: an :class:`~hcflow_lite.HCFlow` (SR or rescaling) or ``"bicubic"``.
        dataset: items ``{"hr", "lr", "name"}`` (e.g. :func:`~hcflow_lite.data.benchmark_dataset`),
            HR sizes multiples of the scale.
        temperatures: τ values (default: the official test ones, :func:`default_temperatures`);
            ignored for ``"bicubic"``.
        n_samples: SR draws per image and temperature (τ = 0 is deterministic: one draw is
            computed and counted ``n`` times, diversity 0).
        task: ``"sr"`` or ``"rescaling"``; only needed for ``"bicubic"`` (default ``"sr"``).
        scale: the factor (default: the model's, or the dataset's for ``"bicubic"``).
        crop_border: border removed for HR metrics (default: the scale).
        lpips: ``"auto"`` (if the AlexNet trunk is cached; else skipped, with the reason in the
            results), ``True`` (required; may download), ``False`` (skip).
        y_convention: Y rounding, ``"matlab"`` (the published tables) or ``"float"``
            (``test_HCFlow.py``).
        device: where the model runs.
        seed: seeds the latent draws and the dequantisation noise (results are reproducible).
        max_images: evaluate only the first images.
        progress: show a tqdm progress bar.
        save_images: folder to write SR images (``<name>_t<τ>_<k>.png``) and, for models, the
            generated LR (``<name>_lr.png``).
        label: the model's name in tables (default: the config name or "Bicubic").
        dataset_name: the dataset's name in the results (default: ``dataset.name``).

    Returns:
        A JSON-ready dict: ``mean`` (one object, or one per temperature when there are
        several), ``runs`` (per temperature), ``images`` (per image), and the settings.
    """
    device = torch.device(device)
    is_bicubic = isinstance(model, str)
    if is_bicubic and model != "bicubic":
        raise ValueError(f"model must be an HCFlow model or 'bicubic', got {model!r}")
    if not is_bicubic:
        assert isinstance(model, HCFlow)
        if task is not None and task != model.config.task:
            raise ValueError(f"task={task!r} but the model is a {model.config.task} model")
        task = model.config.task
        model_scale = model.scale
        if scale is not None and scale != model_scale:
            raise ValueError(f"scale={scale} but the model is ×{model_scale}")
        scale = model_scale
        model = model.to(device).eval()
    else:
        task = task or "sr"
        scale = scale or _dataset_scale(dataset)
        if scale is None:
            raise ValueError("pass scale=… for the bicubic baseline (the dataset has no .scale)")
    if task not in ("sr", "rescaling"):
        raise ValueError(f"task must be 'sr' or 'rescaling', got {task!r}")
    ds_scale = _dataset_scale(dataset)
    if ds_scale is not None and ds_scale != scale:
        raise ValueError(f"the dataset is ×{ds_scale} but the model is ×{scale}: build the dataset with scale={scale}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be ≥ 1, got {n_samples}")
    temps: list[float | None] = (
        [None] if is_bicubic else [float(t) for t in temperatures] if temperatures is not None else default_temperatures(model, task)
    )
    if not temps:
        raise ValueError("give at least one temperature")
    crop = scale if crop_border is None else crop_border
    lpips_model, lpips_reason = _lpips_module(lpips, device)
    out_dir = Path(save_images) if save_images is not None else None
    n_images = len(dataset) if max_images is None else min(len(dataset), max_images)  # type: ignore[arg-type]

    setup = _Setup(model, task, scale, crop, temps, n_samples, y_convention, lpips_model, out_dir, seed, device)
    bar: Any = range(n_images)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc=f"evaluate {label or ('bicubic' if is_bicubic else model.config.name)}", unit="img")
    start = time.time()
    images: list[dict[str, Any]] = []
    for index in bar:
        images.append(_evaluate_image(setup, index, dataset[index]))
        if progress and hasattr(bar, "set_postfix"):
            bar.set_postfix(psnr=f"{_mean(r['runs'][-1]['psnr'] for r in images):.2f}")
    if progress and hasattr(bar, "close"):
        bar.close()
    mean_runs = _summarise(images, temps)
    strip = lambda r: {k: v for k, v in r.items() if k != "temperature"}  # noqa: E731
    mean = strip(mean_runs[0]) if len(temps) == 1 else {_key(r["temperature"]): strip(r) for r in mean_runs}
    results = {
        "format": "hcflow_lite.evaluate/1",
        "model": _describe_model(model, label, task, scale),
        "dataset": {
            "name": dataset_name or getattr(dataset, "name", type(dataset).__name__),
            "n_images": n_images,
            "scale": scale,
            "lr_source": getattr(dataset, "lr_source", "dataset items"),
        },
        "task": task,
        "temperatures": temps,
        "n_samples": n_samples,
        "crop_border": crop,
        "conventions": {
            "rgb": "images clamped to [0, 1] and rounded to 8 bits before PSNR/SSIM (official tensor2img)",
            "y": f"BT.601 luma (MATLAB rgb2ycbcr), {'rounded to 8 bits' if y_convention == 'matlab' else 'not rounded (test_HCFlow.py)'}",
            "y_convention": y_convention,
            "ssim": "Gaussian 11×11, σ=1.5, valid region; RGB: mean over channels",
            "hr_crop_border": crop,
            "lr_crop_border": 0,
            "lpips": "lpips.LPIPS(net='alex') on float images mapped to [-1, 1]",
            "diversity": "per-pixel unbiased std over the samples, 0–255 scale, averaged (needs n_samples ≥ 2)",
            "consistency": "PSNR of MATLAB-bicubic ×1/s of the 8-bit GT and SR, unrounded, no crop",
            "lr_psnr": "PSNR of the model's forward LR vs the dataset LR, 8-bit, no crop",
            "averaging": "over samples per image, then over images",
        },
        "lpips": {"available": lpips_model is not None, "reason": lpips_reason},
        "mean": mean,
        "runs": mean_runs,
        "images": images,
        "seed": seed,
        "device": str(device),
        "seconds": round(time.time() - start, 2),
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
    }
    return _jsonable(results)


# ---------------------------------------------------------------------------------------- tables
_COLUMNS = {
    # Table 2/3 (general and face SR): the paper's column order
    "sr": [("psnr", "PSNR ↑", 2), ("ssim", "SSIM ↑", 4), ("lpips", "LPIPS ↓", 3), ("diversity", "Diversity ↑", 2),
           ("consistency", "Consistency ↑", 2), ("lr_psnr", "LR-PSNR ↑", 2)],
    # Table 4 (image rescaling): Y-channel PSNR/SSIM
    "rescaling": [("psnr_y", "PSNR (Y) ↑", 2), ("ssim_y", "SSIM (Y) ↑", 4), ("psnr", "PSNR (RGB) ↑", 2),
                  ("lr_psnr", "LR-PSNR ↑", 2)],
}


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "–"
    if value == "inf":
        return "∞"
    return f"{float(value):.{digits}f}"


def format_table(results: Mapping[str, Any] | Sequence[Mapping[str, Any]], table: str | None = None) -> str:
    """Markdown table of one or several :func:`evaluate` results, in the paper's column order.

    ``table="sr"`` (Tables 2/3: PSNR, SSIM, LPIPS, diversity, consistency, LR-PSNR) or
    ``"rescaling"`` (Table 4: Y-PSNR, Y-SSIM, …); default from the first result's task.
    One row per model and temperature; "–" where a metric does not apply or was unavailable.
    """
    rows = [results] if isinstance(results, Mapping) else list(results)
    if not rows:
        raise ValueError("no results to tabulate")
    table = table or str(rows[0]["task"])
    if table not in _COLUMNS:
        raise ValueError(f"table must be one of {sorted(_COLUMNS)}, got {table!r}")
    cols = _COLUMNS[table]
    header = "| Method | τ | " + " | ".join(c[1] for c in cols) + " |"
    lines = [header, "|" + "---|" * (len(cols) + 2)]
    notes = []
    for res in rows:
        for run in res["runs"]:
            t = run["temperature"]
            cells = [_fmt(run.get(key), digits) for key, _, digits in cols]
            lines.append(f"| {res['model']['label']} | {'–' if t is None else f'{t:g}'} | " + " | ".join(cells) + " |")
        ds = res["dataset"]
        notes.append(
            f"{res['model']['label']}: {ds['name']} ({ds['n_images']} images, ×{ds['scale']}), "
            f"{res['n_samples']} sample(s) per τ, crop {res['crop_border']}, Y {res['conventions']['y_convention']}"
            + ("" if res["lpips"]["available"] else ", LPIPS unavailable")
        )
    return "\n".join(lines) + "\n\n" + "\n".join(f"* {n}" for n in notes) + "\n"


def save_results(results: Mapping[str, Any], path: str | Path, table: str | None = None) -> tuple[Path, Path]:
    """Write ``results`` as JSON to ``path`` and its Markdown table next to it (``.md``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    md = path.with_suffix(".md")
    md.write_text(format_table(results, table))
    return path, md
