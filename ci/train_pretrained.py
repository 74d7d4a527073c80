#!/usr/bin/env python
"""Train the small checkpoints shipped in hcflow_lite/pretrained/, in order, and write <name>.pt + <name>.json.

    python ci/train_pretrained.py                       # every stage (about 2.5 h on 2 quiet cores)
    python ci/train_pretrained.py --only rescale_x4-lite sr_x4_plus-lite
    python ci/train_pretrained.py --list                # the stages, their configs and time estimates

Each stage is one `lite` recipe of hcflow_lite.experiments (the configs sr_x4-lite, sr_x4_plus-lite
… in hcflow_lite/configs), trained with the training engine in RUNS/<name> (default
runs/pretrained/<name>); HCFlow+ and HCFlow++ fine-tune the HCFlow of their experiment, as in the
paper, so the stages run in this order:

    sr_x4-lite → sr_x4_plus-lite → rescale_x4-lite → sr_x4_plusplus-lite
    → face_x8-lite → face_x8_plus-lite → face_x8_plusplus-lite

Everything is resumable: a killed stage continues from its newest checkpoint when the script runs
again (the engine's `--resume auto`), and stages whose .pt and .json are already in OUT are
skipped (--force trains them again).  For every stage the script evaluates the model on Set5
(faces: also on the two aligned faces of the sample set, ×8) beside the bicubic baseline and
writes OUT/<name>.json: the command, the resolved config, the wall time and the machine (cores,
threads, load average), the Set5 numbers, the training logs (the notebooks plot them) and the
SHA-256 of the .pt.  It checks the two numbers the book promises and exits with status 1 if one
fails (the files are written anyway, for inspection):

* rescale_x4-lite beats bicubic down & bicubic up on Set5 by ≥ 2 dB Y-PSNR (τ = 1, mean of 5 draws);
* sr_x4_plus-lite beats bicubic on Set5 at τ = 0, on RGB and on Y.

Run it on a quiet machine (other processes slow training down several times, and it disturbs
their measurements), e.g. `nice -n 10 python ci/train_pretrained.py`.  Offline, the VGG19
ImageNet weights are missing: the HCFlow++ stages then use the engine's random-weight VGG, and
their records and the notebooks say so ("random-weight VGG, not the paper's perceptual loss").
To use the real one, put vgg19-dcbb9e9d.pth into the torch hub cache first.

--quick N trains every stage for N iterations only (to test this script and the notebooks' "load"
path, e.g. `--quick 20 --out /tmp/pretrained` and then HCFLOW_PRETRAINED=/tmp/pretrained); it
refuses to write into the package.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (experiment, stage), in training order; the estimates are minutes on 2 quiet cores (see --list)
STAGES: list[tuple[str, str, float]] = [
    ("sr_x4", "hcflow", 20),
    ("sr_x4", "plus", 15),
    ("rescale_x4", "hcflow", 35),
    ("sr_x4", "plusplus", 17),
    ("face_x8", "hcflow", 15),
    ("face_x8", "plus", 25),
    ("face_x8", "plusplus", 15),
]


def machine(threads: int) -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "torch_threads": threads,
        "load_average": [round(x, 2) for x in load],
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "summary": f"{os.cpu_count()} cores ({cpu}), torch {threads} thread(s), load {load[0]:.1f}",
    }


def cli_equivalent(name: str, workdir: Path, config: Any, overrides: list[str]) -> str:
    """The `python -m hcflow_lite train` command that trains the same stage."""
    sets = [f"init_from={config.init_from}"] if config.init_from else []
    sets += ["losses.allow_random_vgg=true"] if config.losses.allow_random_vgg else []
    sets += overrides
    return f"python -m hcflow_lite train --config {name} --workdir {workdir} --resume auto" + (
        f" --set {' '.join(sets)}" if sets else "")


def json_ready(obj: Any) -> Any:
    """NaN (an empty log cell) becomes null: the record is strict JSON."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate_stage(run: Any, n_samples: int = 5, images: list[int] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Set5 (and faces) beside bicubic; the book's two promises as checks.

    ``n_samples`` draws per image at τ > 0; ``images``: only these Set5 images (the smoke profile
    evaluates two, to test this script quickly; the shipped records use all five).
    """
    from hcflow_lite.data import PairedDataset, sample_set
    from hcflow_lite.experiments import compare_to_bicubic

    model, name = run.model, run.name
    numbers: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    if model.config.task == "rescaling":
        cmp = compare_to_bicubic(model, "Set5", [1.0], n_samples=n_samples, images=images, label=name)
        numbers["set5"] = cmp.to_dict()
        r = cmp.row(1.0)
        checks.append({"requirement": f"Set5 Y-PSNR at τ = 1 (mean of {n_samples} draws) ≥ bicubic & bicubic + 2 dB",
                       "value": round(r["delta_psnr_y"], 3), "passed": r["delta_psnr_y"] >= 2.0})
    else:
        temps = [0.0, run.config.losses.temperature]
        if model.scale == 4:
            cmp = compare_to_bicubic(model, "Set5", temps, n_samples=n_samples, images=images, label=name)
            numbers["set5"] = cmp.to_dict()
            if run.stage == "plus":
                r = cmp.row(0.0)
                checks.append({"requirement": "Set5 PSNR and Y-PSNR at τ = 0 > bicubic",
                               "value": [round(r["delta_psnr"], 3), round(r["delta_psnr_y"], 3)],
                               "passed": cmp.beats_bicubic(0.0)})
        else:
            faces = PairedDataset(sample_set() / "faces" / "HR", None, 8, name="sample-set faces")
            numbers["faces"] = compare_to_bicubic(model, faces, temps, n_samples=n_samples, label=name).to_dict()
            numbers["set5_x8"] = compare_to_bicubic(model, "Set5", temps, n_samples=n_samples, images=images,
                                                    label=name).to_dict()
    return numbers, checks


def main(argv: list[str] | None = None) -> int:
    import torch

    from hcflow_lite import __version__
    from hcflow_lite.experiments import config_name, load_or_train, profile_config, run_dir
    from hcflow_lite.pretrained import PRETRAINED_DIR

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", metavar="NAME", help="train only these stages (names as --list shows them)")
    p.add_argument("--profile", choices=["lite", "smoke"], default="lite",
                   help="lite (what ships, default); smoke: tiny models in seconds, to test this script")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "pretrained", help="work directory of the runs (default: %(default)s)")
    p.add_argument("--out", type=Path, default=PRETRAINED_DIR, help="where <name>.pt and <name>.json go (default: the package's pretrained/)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice, one per core)")
    p.add_argument("--force", action="store_true", help="train stages whose files are already in --out again")
    p.add_argument("--quick", type=int, metavar="N", help="N iterations per stage, to test the pipeline (not into the package)")
    p.add_argument("--list", action="store_true", help="list the stages and exit")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="sets",
                   help="config overrides for the stages trained, e.g. init_from=null (HCFlow+ from scratch, "
                        "as its config describes, instead of fine-tuning the stage's HCFlow)")
    args = p.parse_args(argv)
    profile = args.profile
    names = [config_name(e, s, profile) for e, s, _ in STAGES]
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        p.error(f"unknown stage(s) {', '.join(unknown)}; the {profile} stages are {', '.join(names)}")

    if args.list:
        total = 0.0
        for (e, s, minutes), name in zip(STAGES, names, strict=True):
            cfg = profile_config(e, s, profile, workdir=args.runs)
            init = f", fine-tunes {cfg.init_from}" if cfg.init_from else ""
            estimate = f"; ~{minutes:.0f} min on 2 quiet cores" if profile == "lite" else ""
            print(f"{name:24s} {cfg.schedule.iterations:5d} iterations{init}{estimate}")
            total += minutes
        if profile == "lite":
            print(f"{'all':24s} ~{total / 60:.1f} h")
        return 0
    if (args.quick is not None or profile != "lite") and args.out.resolve() == PRETRAINED_DIR.resolve():
        p.error("--quick and --profile=smoke checkpoints must not go into the package: pass --out to another folder")
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    args.out.mkdir(parents=True, exist_ok=True)
    overrides = [f"schedule.iterations={args.quick}", "validation.every=0", f"checkpoint.every={max(args.quick // 2, 1)}",
                 f"log.every={max(args.quick // 5, 1)}"] if args.quick else []
    overrides += list(args.sets)
    failed: list[str] = []
    for (experiment, stage, _), name in zip(STAGES, names, strict=True):
        if args.only and name not in args.only:
            continue
        pt, js = args.out / f"{name}.pt", args.out / f"{name}.json"
        if pt.is_file() and js.is_file() and not args.force:
            print(f"==> {name}: {pt} exists (skipped; --force trains it again)", flush=True)
            continue
        wd = run_dir(args.runs, experiment, stage, profile)
        if args.force and wd.exists():
            shutil.rmtree(wd)
        before = machine(threads)
        print(f"==> {name}: training in {wd} ({before['summary']})", flush=True)
        start = time.time()
        run = load_or_train(experiment, stage, profile, args.runs, overrides=overrides, use_shipped=False)
        wall = time.time() - start
        numbers, checks = evaluate_stage(run, *((5, None) if profile == "lite" else (2, [2, 4])))
        shutil.copyfile(run.checkpoint, pt)
        seconds = run.train_log.get("seconds", [])
        record = {
            "name": name,
            "experiment": experiment,
            "stage": stage,
            "profile": profile,
            "description": run.config.description,
            "quick": bool(args.quick),
            "command": "python " + " ".join([str(Path(sys.argv[0])), *sys.argv[1:]]) if argv is None else " ".join(argv),
            "cli_equivalent": cli_equivalent(name, wd, run.config, overrides),
            "init_from": run.config.init_from,
            "iteration": int(run.train_log["iteration"][-1]) if run.train_log.get("iteration") else None,
            "seconds": round(sum(s for s in seconds if s == s), 1) if seconds else round(wall, 1),
            "wall_seconds_this_call": round(wall, 1),
            "machine": {**before, "load_average_after": machine(threads)["load_average"]},
            "perceptual": run.perceptual,
            "parameters": run.model.num_parameters(),
            **numbers,
            "checks": checks,
            "hcflow_lite_version": __version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "sha256": sha256(pt),
            "train_config": run.config.to_dict(),
            "train_log": run.train_log,
            "val_log": run.val_log,
        }
        js.write_text(json.dumps(json_ready(record), indent=1, ensure_ascii=False, allow_nan=False, default=str) + "\n")
        for key in ("set5", "faces"):
            if key in numbers:
                from hcflow_lite.experiments import Comparison

                c = numbers[key]
                print(Comparison(c["label"], c["task"], c["dataset"], c["n_samples"], c["rows"], {}, {}).text())
        for c in checks:
            status = "PASS" if c["passed"] else "FAIL"
            print(f"    [{status}] {name}: {c['requirement']} (Δ = {c['value']} dB)")
            if not c["passed"]:
                failed.append(f"{name}: {c['requirement']}")
        print(f"==> {name}: {record['seconds'] / 60:.1f} min of training; wrote {pt} ({pt.stat().st_size / 1e6:.1f} MB) "
              f"and {js}", flush=True)
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
