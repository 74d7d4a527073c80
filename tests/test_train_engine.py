"""The training loop end to end, in process: learning, logs, NaN guard, checkpoints and their errors.

Runs use the ``-smoke`` configs (tiny models, a few iterations) on synthetic images unless a
test is about the data path; the paper-size models run a few iterations with batch 1 on 32×32
crops (``rescale_x4`` and ``sr_x4``: the full path, end to end).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

import hcflow_lite as hc
from hcflow_lite.models import CheckpointMismatchError
from hcflow_lite.train import SyntheticImages, Trainer, TrainingDiverged, find_checkpoints, load_config, read_log, train
from hcflow_lite.train.logs import CSVLog

FAST = ["data.train=synthetic", "data.val=none", "log.progress=false", "runtime.deterministic=true"]


def nll_column(workdir: Path) -> list[float]:
    log = read_log(workdir)
    assert log["iteration"] == sorted(log["iteration"])
    return log["nll"]


def test_sr_smoke_learns_and_leaves_a_loadable_model(tmp_path) -> None:
    """``sr_x4-smoke`` as shipped (the offline sample set): the NLL falls; last.pt loads."""
    cfg = load_config("sr_x4-smoke", ["log.progress=false"])
    result = train(cfg, tmp_path)
    nll = nll_column(tmp_path)
    assert len(nll) == cfg.schedule.iterations // cfg.log.every
    assert sum(nll[-2:]) / 2 < nll[0] * 0.6, f"NLL did not fall: {nll}"
    model = hc.load_checkpoint(tmp_path / "last.pt")
    assert model.config == cfg.model_config() and not model.training
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ckpt["format"] == "hcflow_lite" and ckpt["meta"]["iteration"] == cfg.schedule.iterations
    assert "train_state" not in ckpt  # last.pt is the model; training states live in checkpoints/
    val = CSVLog.read(tmp_path / "val_log.csv")
    assert [r["temperature"] for r in val] == [0.0, 0.9] and all(math.isfinite(r["psnr"]) for r in val)
    assert result.validation and (tmp_path / "results.json").is_file()
    assert sorted(p.name for p in (tmp_path / "samples" / "iter_0000030").iterdir())[0].endswith("_t0.9.png")
    assert [i for i, _ in find_checkpoints(tmp_path)] == [30, 15]


def test_rescaling_smoke_improves_the_reconstruction(tmp_path) -> None:
    cfg = load_config("rescale_x4-smoke", [*FAST, "schedule.iterations=30", "log.every=10", "log.tensorboard=true"])
    try:
        import tensorboard  # noqa: F401

        expect = contextlib.nullcontext()
    except ImportError:  # optional: without it, one warning and CSV logs only
        expect = pytest.warns(UserWarning, match="tensorboard package is not installed")
    with expect:
        train(cfg, tmp_path)
    rows = CSVLog.read(tmp_path / "train_log.csv")
    assert rows[-1]["pixel_hr"] < rows[0]["pixel_hr"] and rows[-1]["batch_psnr"] > rows[0]["batch_psnr"]
    assert {"pixel_lr", "latent"} <= set(rows[0]) and "nll" not in rows[0]
    assert hc.load_checkpoint(tmp_path / "last.pt", expect_task="rescaling").config.task == "rescaling"


class NaNAt(Dataset):
    """Synthetic images; item ``bad`` (or every item) has a NaN pixel."""

    def __init__(self, n: int, bad: int | None) -> None:
        self.base = SyntheticImages(n, 32, 4, seed=3)
        self.bad = bad

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.base[i])
        if self.bad is None or i == self.bad:
            item["hr"] = item["hr"].clone()
            item["hr"][0, 1, 1] = float("nan")
        return item


def test_a_nan_in_a_batch_is_skipped_logged_and_training_goes_on(tmp_path, capsys) -> None:
    cfg = load_config("sr_x4_plus-smoke", [*FAST, "schedule.iterations=8", "log.every=1", "data.batch_size=2"])
    ds = NaNAt(8, bad=5)  # 8 images, batch 2: item 5 is in one batch per 4 iterations
    messages: list[str] = []
    result = Trainer(cfg, tmp_path, train_dataset=ds, echo=messages.append).run()
    rows = CSVLog.read(tmp_path / "train_log.csv")
    skipped = [int(r["iteration"]) for r in rows if r["nonfinite_steps"] > 0]
    assert len(skipped) == 2 and result.nonfinite_steps == 4  # two iterations, NLL and pixel step each
    assert all(r["nonfinite_steps"] == 2 for r in rows if int(r["iteration"]) in skipped)
    assert any(f"iteration {skipped[0]}: non-finite nll, pixel_hr — step skipped" in m for m in messages)
    model = hc.load_checkpoint(tmp_path / "last.pt")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert result.iteration == 8


def test_too_many_nonfinite_iterations_in_a_row_stop_with_a_clear_message(tmp_path) -> None:
    cfg = load_config("sr_x4-smoke", [*FAST, "schedule.iterations=20", "optim.max_nonfinite=3", "checkpoint.every=100"])
    with pytest.raises(TrainingDiverged, match=r"not finite in 3 iterations in a row.*learning_rate.*HCFlow issue #3"):
        Trainer(cfg, tmp_path, train_dataset=NaNAt(4, bad=None), echo=lambda m: None).run()


def test_checkpoint_errors_are_clear(tmp_path) -> None:
    sr = tmp_path / "sr"
    cfg = load_config("sr_x4-smoke", [*FAST, "schedule.iterations=4", "checkpoint.every=2"])
    train(cfg, sr)
    ckpts = find_checkpoints(sr)
    assert [i for i, _ in ckpts] == [4, 2]
    # a workdir that holds a run is not overwritten by accident
    with pytest.raises(ValueError, match=r"already holds a run.*--resume auto"):
        train(cfg, sr)
    # a rescaling run cannot resume from an SR checkpoint
    other = load_config("rescale_x4-smoke", FAST)
    with pytest.raises(CheckpointMismatchError, match="holds a sr model, but this run trains a rescaling model"):
        train(other, sr, resume="auto")
    with pytest.raises(CheckpointMismatchError, match="another architecture.*differs in K"):
        train(load_config("sr_x4-smoke", [*FAST, "model.K=3"]), sr, resume=ckpts[0][1])
    with pytest.raises(CheckpointMismatchError, match="model weights only"):
        train(cfg, tmp_path / "x", resume=sr / "last.pt")
    # a corrupt newest checkpoint: --resume auto falls back to the previous one, an explicit path fails
    ckpts[0][1].write_bytes(ckpts[0][1].read_bytes()[:1000])
    with pytest.raises(CheckpointMismatchError, match="cannot read checkpoint"):
        train(cfg, tmp_path / "y", resume=ckpts[0][1])
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        result = train(load_config("sr_x4-smoke", [*FAST, "schedule.iterations=6", "checkpoint.every=2"]), sr, resume="auto")
    assert result.resumed_from == 2 and result.iteration == 6
    with pytest.raises(FileNotFoundError, match="init_from checkpoint not found.*train the recipe it fine-tunes first"):
        train(load_config("sr_x4_plus-smoke", [*FAST, "init_from=runs/nothing/last.pt"]), tmp_path / "z")
    with pytest.raises(ValueError, match="init_from .* differs from this config's model"):
        train(load_config("face_x8_plus-smoke", [*FAST, f"init_from={sr / 'last.pt'}"]), tmp_path / "w")


def test_fine_tuning_starts_from_the_given_checkpoint(tmp_path) -> None:
    base = load_config("sr_x4-smoke", [*FAST, "schedule.iterations=3"])
    train(base, tmp_path / "hcflow")
    start = hc.load_checkpoint(tmp_path / "hcflow" / "last.pt")
    plus = load_config("sr_x4_plus-smoke", [*FAST, "schedule.iterations=1", f"init_from={tmp_path / 'hcflow' / 'last.pt'}",
                                             "optim.learning_rate=1e-12"])
    train(plus, tmp_path / "plus")
    tuned = hc.load_checkpoint(tmp_path / "plus" / "last.pt")
    # no ActNorm re-initialisation, and a vanishing learning rate: the weights barely move
    for (k, a), b in zip(start.state_dict().items(), tuned.state_dict().values(), strict=True):
        torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=1e-8, msg=k)
    # an official checkpoint (the parity fixture) with its options
    fixture = Path(__file__).parent / "fixtures" / "parity" / "sr_x4"
    arch = hc.models.config_from_official_options(fixture / "options.json")
    official = dataclasses.replace(
        load_config("sr_x4_plus-smoke", [*FAST, "schedule.iterations=2"]),
        model=arch.to_dict(), init_from=str(fixture / "state_dict.pt"), init_options=str(fixture / "options.json"),
    )
    result = train(official, tmp_path / "official")
    assert result.iteration == 2


@pytest.mark.parametrize("name", ["rescale_x4", "sr_x4"])
def test_paper_size_configs_run_end_to_end_with_tiny_batches(tmp_path, name: str) -> None:
    """The ``full`` path (paper-size model and recipe), batch 1 of 32×32 crops, 2 iterations."""
    cfg = load_config(name, ["data.batch_size=1", "data.patch_size=32", "schedule.iterations=2", "data.train=synthetic",
                             "data.val=none", "log.progress=false", "data.num_workers=0", "log.every=1"])
    result = train(cfg, tmp_path)
    model = hc.load_checkpoint(tmp_path / "last.pt")
    assert model.num_parameters() == {"rescale_x4": 4_396_350, "sr_x4": 23_232_539}[name]
    rows = CSVLog.read(tmp_path / "train_log.csv")
    assert result.iteration == 2 and len(rows) == 2 and all(r["nonfinite_steps"] == 0 for r in rows)
    assert rows[0]["learning_rate"] == 2.5e-4


def test_data_loader_workers_do_not_change_the_run(tmp_path) -> None:
    """Crops and flips are seeded per item and iteration, so worker processes change nothing."""
    settings = ["data.val=none", "log.progress=false", "runtime.deterministic=true", "schedule.iterations=4", "log.every=1"]
    for workers in (0, 2):
        train(load_config("rescale_x4-smoke", [*settings, f"data.num_workers={workers}"]), tmp_path / str(workers))
    a, b = read_log(tmp_path / "0"), read_log(tmp_path / "2")
    assert a["pixel_hr"] == b["pixel_hr"] and a["latent"] == b["latent"]
    with pytest.raises(FileNotFoundError, match="no val log"):
        read_log(tmp_path / "nothing", "val")
