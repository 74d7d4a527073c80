"""Killed runs resume exactly.

A training process is killed with SIGKILL mid-run (after its first checkpoint); ``--resume auto``
continues it, and the loss trajectory and the final weights equal those of an uninterrupted
run **bit for bit** (CPU, one thread, ``torch.use_deterministic_algorithms(True)``).  Cheaper
in-process variants check the states that only some recipes have: the discriminator and its
optimiser (HCFlow++) and the gradients the official HCFlow+ carries over.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hcflow_lite.train import load_config, train

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["data.train=synthetic", "data.val=none", "data.batch_size=2", "log.progress=false", "log.every=1",
            "runtime.deterministic=true", "runtime.threads=1"]


def log_rows(workdir: Path) -> list[list[str]]:
    """The CSV rows without the timing column."""
    lines = (workdir / "train_log.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c != "seconds"]
    return [[row.split(",")[i] for i in keep] for row in lines]


def assert_same_weights(a: Path, b: Path) -> None:
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs"


def test_sigkilled_run_resumes_bit_for_bit(tmp_path) -> None:
    settings = [*SETTINGS, "schedule.iterations=24", "checkpoint.every=8"]
    reference = tmp_path / "reference"
    train(load_config("sr_x4_plus-smoke", settings), reference)

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "hcflow_lite", "train", "--config", "sr_x4_plus-smoke", "--workdir", str(killed),
           "--set", *settings]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = killed / "checkpoints" / "iter_0000008.pt"
    deadline = time.time() + 120
    while not first.exists():
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        assert time.time() < deadline, "no checkpoint after 120 s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "last.pt").exists()

    result = train(load_config("sr_x4_plus-smoke", settings), killed, resume="auto")
    assert result.resumed_from >= 8
    assert log_rows(killed) == log_rows(reference)
    assert_same_weights(killed / "last.pt", reference / "last.pt")


@pytest.mark.parametrize(
    ("config", "extra"),
    [("sr_x4_plusplus-smoke", []), ("sr_x4_plus-smoke", ["losses.official_grad_leak=true"])],
    ids=["discriminator", "official_grad_leak"],
)
def test_resume_restores_every_training_state(tmp_path, config: str, extra: list[str]) -> None:
    settings = [*SETTINGS, *extra, "schedule.iterations=8", "checkpoint.every=4", "data.patch_size=32"]
    reference = tmp_path / "reference"
    train(load_config(config, settings), reference)
    resumed = tmp_path / "resumed"
    shutil.copytree(reference, resumed)
    (resumed / "last.pt").unlink()
    (resumed / "checkpoints" / "iter_0000008.pt").unlink()
    state = torch.load(resumed / "checkpoints" / "iter_0000004.pt", weights_only=True)["train_state"]
    if any("official_grad_leak" in e for e in extra):
        assert state["grads"] is not None and any(g is not None for g in state["grads"])
    else:
        assert state["discriminator"] is not None and len(state["optimizers"]) == 2
    result = train(load_config(config, settings), resumed, resume="auto")
    assert result.resumed_from == 4
    assert log_rows(resumed) == log_rows(reference)
    assert_same_weights(resumed / "last.pt", reference / "last.pt")
