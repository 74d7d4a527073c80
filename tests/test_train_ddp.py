"""Data-parallel training: ``torchrun --nproc_per_node 2`` (gloo, CPU) against one process.

Two processes with a global batch of 4 (2 each) must make the same updates as one process with
batch 4: the same images, crops and noise reach the same rows of the global batch
(``hcflow_lite.train.sampling``), and DDP averages the two halves' gradients.  Only the order of
floating-point sums differs, so the weights agree to a stated tolerance: after 4 iterations
(HCFlow+, two Adam steps each, learning rate 2e-3) every weight within 1e-4 of the
single-process one and the logged losses within a relative 1e-5.  The same launch also stops
after 2 iterations and resumes to 4 (``--resume auto`` under DDP), and only rank 0 writes.

Run by hand: ``torchrun --nproc_per_node 2 tests/test_train_ddp.py WORKDIR``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["data.train=synthetic", "data.val=none", "data.batch_size=4", "log.progress=false", "log.every=1",
            "runtime.threads=1", "schedule.kind=multistep", "schedule.milestones=[3]", "checkpoint.every=1",
            "data.synthetic_images=8"]
CONFIG = "sr_x4_plus-smoke"


def _config(iterations: int):
    from hcflow_lite.train import load_config

    return load_config(CONFIG, [*SETTINGS, f"schedule.iterations={iterations}"])


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path) -> None:
    from hcflow_lite.train import train
    from hcflow_lite.train.logs import CSVLog

    single = tmp_path / "single"
    train(_config(4), single)

    ddp = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", __file__, str(ddp)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming from" in proc.stderr and proc.stderr.count("done: 4 iterations") == 1  # rank 0 speaks, once

    a = torch.load(single / "last.pt", weights_only=True)["state_dict"]
    b = torch.load(ddp / "last.pt", weights_only=True)["state_dict"]
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    moved = max(float((a[k].double() - torch.load(ddp / "checkpoints" / "iter_0000003.pt", weights_only=True)
                       ["state_dict"][k].double()).abs().max()) for k in a)
    assert worst <= 1e-4, f"DDP weights differ from the single process by {worst:.3g}"
    assert moved > 100 * worst  # the tolerance is far below what one iteration changes
    rows_a, rows_b = CSVLog.read(single / "train_log.csv"), CSVLog.read(ddp / "train_log.csv")
    assert [r["iteration"] for r in rows_b] == [1, 2, 3, 4]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        for key in ("loss", "nll", "pixel_hr", "learning_rate"):
            assert abs(ra[key] - rb[key]) <= 1e-5 * abs(ra[key]), (key, ra[key], rb[key])


if __name__ == "__main__":  # one torchrun worker: 2 iterations, then resume to 4
    import torch.distributed as dist

    from hcflow_lite.train import train

    workdir = Path(sys.argv[1])
    dist.init_process_group("gloo")
    try:
        train(_config(2), workdir)
        train(_config(4), workdir, resume="auto")
    finally:
        dist.destroy_process_group()
