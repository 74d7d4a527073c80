"""The ablation study of book chapter 12 (the paper's Table 1), at CPU scale.

Every case of :mod:`hcflow_lite.models.ablations` is trained with the same recipe (HCFlow's NLL
objective, the training engine of :mod:`hcflow_lite.train`) and evaluated with the same code as
the paper's tables (:func:`hcflow_lite.evaluate.evaluate`) on the held-out photographs of the
offline sample set.  Two sizes:

``lite``  ``sr_x4-lite`` (1.1M parameters), 800 iterations of batches of 8 crops of 48×48,
          Adam 1e-3 decaying linearly; evaluated on 192×192 centre crops of the three
          validation photographs at τ = 0 and 0.9 with 3 samples.  About half an hour for the
          five cases on two CPU cores (a 100-iteration run took 4 minutes with one thread on
          shared cores): too long for the book build, so it runs as a named reproduction
          (``python -m hcflow_lite.reproduce ablations-lite``) that writes
          ``book/_data/ablations_lite.json``, which the chapter reads.
``smoke`` ``sr_x4-tiny``, 3 iterations per case, one 64×64 crop: seconds; checks the pipeline
          (the chapter re-runs it live in CI).

Runs are written to ``<workdir>/<case>/`` and resumed (``--resume auto``), so an interrupted
study continues where it stopped; a finished case is only evaluated again.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .data import load_image, sample_set
from .data.folders import list_images
from .evaluate import evaluate
from .models import ABLATION_DESCRIPTIONS, ABLATIONS, load_checkpoint
from .reproduce import provenance

__all__ = [
    "FORMAT",
    "STUDIES",
    "AblationStudy",
    "ablation_table",
    "evaluation_images",
    "load_ablation_results",
    "run_ablation_study",
    "save_ablation_results",
]

FORMAT = "hcflow_lite.ablations/1"


@dataclass(frozen=True)
class AblationStudy:
    """One size of the study: the training recipe shared by all cases, and the evaluation."""

    profile: str
    train_config: str  #: a shipped training config (its model and objective)
    iterations: int
    batch_size: int
    patch_size: int
    learning_rate: float = 1e-3  #: decays linearly to 0, as the lite recipes
    cases: tuple[str, ...] = ABLATIONS
    eval_crop: int = 192
    eval_images: int | None = None
    temperatures: tuple[float, ...] = (0.0, 0.9)
    n_samples: int = 3
    seed: int = 0

    def overrides(self) -> list[str]:
        """The ``--set`` overrides of the training config (plus ``model.ablation`` per case)."""
        every = max(1, min(100, self.iterations))
        return ["data.train=sample_set", "data.val=null", "validation.every=0", "data.num_workers=0",
                f"schedule.iterations={self.iterations}", f"data.batch_size={self.batch_size}",
                f"data.patch_size={self.patch_size}", f"optim.learning_rate={self.learning_rate}", "schedule.kind=linear",
                "schedule.final_factor=0.0", f"checkpoint.every={every}", f"log.every={max(1, min(20, self.iterations))}"]

    def describe(self) -> str:
        from .train import load_config

        model = load_config(self.train_config).model_config()
        return (f"{model.name} ({self.train_config} recipe), {self.iterations:,} iterations of batches of "
                f"{self.batch_size} crops of {self.patch_size}×{self.patch_size}, Adam {self.learning_rate:g} decaying linearly")


STUDIES: dict[str, AblationStudy] = {
    # about 30–40 minutes for the five cases on two quiet CPU cores (the chapter-8 model trains 3,000 × 8 × 64²)
    "lite": AblationStudy("lite", "sr_x4-lite", iterations=800, batch_size=8, patch_size=48),
    # seconds: checks the pipeline, learns nothing
    "smoke": AblationStudy("smoke", "sr_x4-smoke", iterations=3, batch_size=2, patch_size=32, learning_rate=2e-3,
                           eval_crop=64, eval_images=1, n_samples=2),
}


def evaluation_images(crop: int, max_images: int | None = None, scale: int = 4) -> list[dict[str, Any]]:
    """Centre crops (``crop``×``crop``) of the sample set's held-out photographs, with their 8-bit bicubic LR."""
    from .train import bicubic_lr

    if crop % scale:
        raise ValueError(f"crop ({crop}) must be a multiple of the scale ({scale})")
    files = list_images(Path(sample_set()) / "val" / "HR", "validation images")[:max_images]
    items = []
    for path in files:
        hr = load_image(path)
        h, w = hr.shape[-2:]
        if min(h, w) < crop:
            raise ValueError(f"{path.name} ({h}×{w}) is smaller than the crop {crop}")
        top, left = (h - crop) // 2, (w - crop) // 2
        hr = hr[:, top : top + crop, left : left + crop].contiguous()
        items.append({"hr": hr, "lr": bicubic_lr(hr, scale), "name": path.stem})
    return items


def _train_seconds(workdir: Path) -> float:
    from .train import read_log

    try:
        return round(sum(read_log(workdir)["seconds"]), 1)
    except (FileNotFoundError, KeyError):
        return math.nan


def run_ablation_study(
    study: str | AblationStudy,
    workdir: str | Path,
    *,
    cases: Sequence[str] | None = None,
    iterations: int | None = None,
    progress: bool = True,
    command: str | None = None,
) -> dict[str, Any]:
    """Train (or resume) and evaluate every case of ``study``; return the results (see :func:`save_ablation_results`).

    ``iterations`` replaces the study's number of training iterations (a quicker, reduced run;
    the results file says so).  Use a separate ``workdir`` per size: runs are resumed from it.
    """
    from .train import load_config, train

    st = STUDIES[study] if isinstance(study, str) else study
    default_iterations = st.iterations
    if iterations is not None:
        if iterations < 1:
            raise ValueError(f"iterations must be ≥ 1, got {iterations}")
        st = replace(st, iterations=int(iterations))
    cases = tuple(cases or st.cases)
    unknown = sorted(set(cases) - set(ABLATIONS))
    if unknown:
        raise ValueError(f"unknown ablation cases {unknown}; known: {', '.join(ABLATIONS)}")
    workdir = Path(workdir)
    images = evaluation_images(st.eval_crop, st.eval_images)
    start = time.time()
    rows: list[dict[str, Any]] = []
    for case in cases:
        cfg = load_config(st.train_config, [*st.overrides(), f"model.ablation={case}", f"log.progress={str(progress).lower()}"])
        run = train(cfg, workdir / case, resume="auto", echo=None if progress else (lambda _m: None))
        assert run.last_checkpoint is not None
        model = load_checkpoint(run.last_checkpoint)
        ev = evaluate(model, images, list(st.temperatures), st.n_samples, lpips="auto", seed=st.seed,
                      progress=False, label=case, dataset_name=f"sample set, validation ({st.eval_crop}² centre crops)")
        rows.append({
            "case": case,
            "description": ABLATION_DESCRIPTIONS[case],
            "parameters": model.num_parameters(),
            "iterations": run.iteration,
            "train_seconds": _train_seconds(workdir / case),
            "nonfinite_steps": run.nonfinite_steps,
            "runs": ev["runs"],
        })
    bicubic = evaluate("bicubic", images, scale=4, lpips="auto", progress=False, dataset_name="sample set validation")
    return {
        "format": FORMAT,
        "profile": st.profile,
        "reduced": st.iterations != default_iterations,
        "default_iterations": default_iterations,
        "study": {**asdict(st), "cases": list(cases), "overrides": st.overrides(), "description": st.describe()},
        "evaluation": {
            "images": [it["name"] for it in images],
            "crop": st.eval_crop,
            "temperatures": list(st.temperatures),
            "n_samples": st.n_samples,
            "lpips": ev["lpips"] if cases else None,
            "conventions": ev["conventions"] if cases else None,
        },
        "cases": rows,
        "bicubic": bicubic["runs"][0],
        "seconds": round(time.time() - start, 1),
        **provenance(command),
    }


def save_ablation_results(results: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``results`` as JSON (and the Markdown table beside it, ``.md``); returns the JSON path."""
    from .evaluate import _jsonable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(results), indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    path.with_suffix(".md").write_text(ablation_table(results) + "\n")
    return path


def load_ablation_results(path: str | Path) -> dict[str, Any]:
    """Read a results file written by :func:`save_ablation_results` (clear errors otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no ablation results at {path}: run `python -m hcflow_lite.reproduce ablations-lite` "
            "(about 30–40 minutes on two CPU cores) to make them"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not an ablation results file (expected format {FORMAT!r})")
    return data


def _run(row: Mapping[str, Any], temperature: float) -> Mapping[str, Any]:
    for r in row["runs"]:
        if r["temperature"] is not None and abs(float(r["temperature"]) - temperature) < 1e-9:
            return r
    return {}


def _fmt(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def ablation_table(results: Mapping[str, Any]) -> str:
    """Markdown table of a results file: one row per case, then bicubic, then a line saying which run made it."""
    temps = [float(t) for t in results["evaluation"]["temperatures"]]
    t0, t1 = temps[0], temps[-1]
    cols = [
        ("NLL ↓", lambda r: _run(r, t0).get("nll"), 3),
        (f"PSNR τ={t0:g} ↑", lambda r: _run(r, t0).get("psnr"), 2),
        (f"PSNR τ={t1:g} ↑", lambda r: _run(r, t1).get("psnr"), 2),
        (f"SSIM τ={t1:g} ↑", lambda r: _run(r, t1).get("ssim"), 3),
        (f"LPIPS τ={t1:g} ↓", lambda r: _run(r, t1).get("lpips"), 3),
        (f"Diversity τ={t1:g} ↑", lambda r: _run(r, t1).get("diversity"), 2),
        (f"LR-consistency τ={t1:g} ↑", lambda r: _run(r, t1).get("consistency"), 2),
        ("forward LR-PSNR ↑", lambda r: _run(r, t0).get("lr_psnr"), 2),
    ]
    head = "| case | " + " | ".join(c[0] for c in cols) + " | parameters |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for row in results["cases"]:
        cells = [_fmt(get(row), d) for _, get, d in cols]
        lines.append(f"| {row['case']} | " + " | ".join(cells) + f" | {row['parameters']:,} |")
    b = results.get("bicubic") or {}
    lines.append("| bicubic | – | " + " | ".join(_fmt(b.get(k), d) for k, d in
                 (("psnr", 2), ("psnr", 2), ("ssim", 3), ("lpips", 3))) + " | – | " + _fmt(b.get("consistency"), 2) + " | – | – |")
    ev = results["evaluation"]
    machine = results.get("machine", {})
    lines += [
        "",
        f"*{results['profile']} profile: {results['study'].get('description', '')}; evaluated on {', '.join(ev['images'])} "
        f"({ev['crop']}×{ev['crop']} centre crops), {ev['n_samples']} samples per τ > 0. Run: `{results.get('command')}`, "
        f"{results.get('date')}, commit {results.get('commit')}, {machine.get('processor')} ×{machine.get('cpus')}, "
        f"torch {machine.get('torch')}.*",
    ]
    return "\n".join(lines)
