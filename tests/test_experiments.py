"""Part II's experiments layer: profile → config resolution, "load shipped or train", Set5 side by side.

``PAPER`` is written from the specification's tables (§1.1 architecture, §7.1/§7.2 training),
independently of the YAML files and of ``tests/test_train_config.py``: the ``full`` profile that the
notebooks resolve through :func:`hcflow_lite.experiments.profile_config` must be exactly the
paper's configuration, including where a fine-tuning stage starts from.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite import experiments as ex
from hcflow_lite.data import benchmark_dataset
from hcflow_lite.evaluate import evaluate
from hcflow_lite.pretrained import available_pretrained, pretrained_info, pretrained_path
from hcflow_lite.train import load_config

ROOT = Path(__file__).resolve().parents[1]
SET5 = ROOT / "tests" / "data" / "Set5"
FAST = ["data.train=synthetic", "data.val=none", "log.progress=false", "runtime.deterministic=true"]

# ------------------------------------------------------------------------------------------ the paper
# architecture: task, L, K (unconditional steps per level), P (conditional), coupling widths
# (unconditional, conditional), RRDB blocks per trunk, RRDB nf, gc, quant, parameters
ARCH = {
    "sr_x4": ("sr", 2, (13, 13), (13, 13), 64, 64, (7, 7), 64, 32, 64, 23_232_539),
    "face_x8": ("sr", 3, (13, 13, 13), (13, 13, 13), 64, 64, (5, 5), 64, 32, 256, 27_017_723),
    "rescale_x4": ("rescaling", 2, (8, 8), (6, 6), 32, 64, (2, 1), 64, 16, None, 4_396_350),
}
# (experiment, stage): weights (nll, L1 at τ=0 / HR L1, VGG, GAN), lr, iterations, milestones, training set
PAPER = {
    ("sr_x4", "hcflow"): ((1, 0, 0, 0), 2.5e-4, 300_000, [150_000, 225_000, 270_000, 285_000], "DF2K"),
    ("sr_x4", "plus"): ((2e-3, 1, 0, 0), 5e-5, 50_000, [20_000, 40_000], "DF2K"),
    ("sr_x4", "plusplus"): ((2e-3, 1, 5e-2, 5e-1), 1.25e-5, 50_000, [20_000, 40_000], "DF2K"),
    ("face_x8", "hcflow"): ((1, 0, 0, 0), 2.5e-4, 350_000, [200_000, 250_000, 280_000, 310_000, 340_000], "CelebA-train"),
    ("face_x8", "plus"): ((2e-3, 1, 0, 0), 5e-5, 50_000, [20_000, 40_000], "CelebA-train"),
    ("face_x8", "plusplus"): ((2e-3, 1, 5e-2, 5e-1), 1.25e-5, 50_000, [20_000, 40_000], "CelebA-train"),
    ("rescale_x4", "hcflow"): ((0, 1, 0, 0), 2.5e-4, 500_000, [100_000, 200_000, 300_000, 400_000, 450_000], "DF2K"),
}
TEMPERATURE = {"sr_x4": 0.9, "face_x8": 0.8, "rescale_x4": 1.0}


def test_every_paper_run_is_an_experiment_stage() -> None:
    stages = {(e, s) for e, exp in ex.EXPERIMENTS.items() for s in exp.stages}
    assert stages == set(PAPER)
    assert [ex.config_name(e, s, "full") for e, s in PAPER] == [
        "sr_x4", "sr_x4_plus", "sr_x4_plusplus", "face_x8", "face_x8_plus", "face_x8_plusplus", "rescale_x4"]
    assert ex.config_name("sr_x4", "plus", "lite") == "sr_x4_plus-lite"
    assert ex.config_name("face_x8", "plusplus", "smoke") == "face_x8_plusplus-smoke"


@pytest.mark.parametrize(("experiment", "stage"), list(PAPER), ids=[f"{e}-{s}" for e, s in PAPER])
def test_full_profile_is_exactly_the_papers_configuration(tmp_path, experiment: str, stage: str) -> None:
    weights, lr, iterations, milestones, train_set = PAPER[(experiment, stage)]
    task, L, K, P, hidden, cond_hidden, nb, nf, gc, quant, _ = ARCH[experiment]
    cfg = ex.profile_config(experiment, stage, "full", workdir=tmp_path)

    m = cfg.model_config()
    assert (m.task, m.L, m.K, m.P, m.hidden_channels, m.cond_hidden_channels) == (task, L, K, P, hidden, cond_hidden)
    assert (m.rrdb_nb, m.rrdb_nf, m.rrdb_gc, m.quant, m.scale) == (nb, nf, gc, quant, 2**L)
    if task == "sr":
        assert m.lr_logs == -6.0

    d = cfg.data
    assert (d.train, d.patch_size, d.batch_size, d.augment) == (train_set, 160, 16, True)

    w = cfg.losses
    assert (w.nll, w.pixel_hr, w.perceptual, w.gan) == weights
    assert w.temperature == TEMPERATURE[experiment]
    assert (w.pixel_lr, w.latent) == ((5e-2, 1e-5) if task == "rescaling" else (0, 0))
    assert (w.pixel_criterion, w.feature_criterion) == ("l1", "l1")
    if w.gan:
        assert (w.gan_type, w.discriminator, w.discriminator_nf, w.d_init_iters, w.d_update_ratio) == (
            "gan", "discriminator_vgg_160", 64, 1500, 1)
    assert w.allow_random_vgg is False and w.vgg_weights is None and w.official_grad_leak is False

    o = cfg.optim
    assert (o.learning_rate, o.beta1, o.beta2, o.weight_decay, o.max_grad_clip, o.max_grad_norm) == (lr, 0.9, 0.99, 0, 5, 100)
    if w.gan:
        assert (o.d_learning_rate, o.d_beta1, o.d_beta2) == (5e-5, 0.9, 0.99)

    s = cfg.schedule
    assert (s.iterations, s.kind, s.milestones, s.gamma, s.warmup) == (iterations, "multistep", milestones, 0.5, 0)
    assert cfg.seed == 0 and cfg.runtime.precision == "fp32"
    assert cfg.validation.temperatures == [0.0, TEMPERATURE[experiment]]

    # HCFlow from scratch; HCFlow+ and HCFlow++ fine-tune the HCFlow of the same experiment and profile
    expected_init = None if stage == "hcflow" else str(tmp_path / experiment / "last.pt")
    assert cfg.init_from == expected_init and cfg.init_options is None
    assert ex.recipe_differences(cfg, load_config(ex.config_name(experiment, stage, "full"))) == []


@pytest.mark.parametrize("experiment", list(ARCH))
def test_full_models_have_the_papers_parameter_counts(experiment: str) -> None:
    cfg = ex.profile_config(experiment, "hcflow", "full")
    assert hc.build_model(cfg.model_config()).num_parameters() == ARCH[experiment][-1]


@pytest.mark.slow
def test_full_path_runs_end_to_end_with_tiny_batches(tmp_path) -> None:
    """The paper's model and fine-tuning recipes, chained as the notebooks chain them.

    ``tests/test_train_engine.py`` trains the full HCFlow ×4 and rescaling models for two
    iterations; here a paper-size HCFlow ×4 (fresh weights, standing in for a trained one) sits
    where the HCFlow stage writes it, and HCFlow+ and HCFlow++ fine-tune it with the paper's
    recipes: batch 1 on synthetic images, 32×32 crops for HCFlow+, 64×64 for HCFlow++ (its
    VGG-style discriminator sized for them instead of the paper's 160×160 one), a random-weight VGG
    (no ImageNet weights offline) and one discriminator warm-up iteration, so that the second
    iteration makes all four steps.
    """
    torch.manual_seed(0)
    start = hc.build_model("sr_x4")
    start.mark_initialized(True)
    hc.save_checkpoint(start, tmp_path / "sr_x4" / "last.pt")
    small = [*FAST, "data.batch_size=1", "data.num_workers=0", "log.every=1"]
    plus = ex.load_or_train("sr_x4", "plus", "full", tmp_path, overrides=[*small, "data.patch_size=32",
                                                                          "schedule.iterations=1"])
    assert plus.config.init_from == str(tmp_path / "sr_x4" / "last.pt") and plus.source == "trained"
    assert plus.model.num_parameters() == ARCH["sr_x4"][-1]
    assert plus.train_log["learning_rate"] == [5e-5] and plus.train_log["nonfinite_steps"] == [0]
    assert math.isfinite(plus.train_log["nll"][0]) and math.isfinite(plus.train_log["pixel_hr"][0])
    pp = ex.load_or_train("sr_x4", "plusplus", "full", tmp_path, overrides=[
        *small, "data.patch_size=64", "schedule.iterations=2", "losses.d_init_iters=1", "losses.allow_random_vgg=true",
        "losses.discriminator=discriminator_vgg"])
    assert pp.config.init_from == str(tmp_path / "sr_x4" / "last.pt")
    assert pp.perceptual == "random-weight VGG, not the paper's perceptual loss"
    log = pp.train_log
    assert log["learning_rate"] == [1.25e-5, 1.25e-5] and log["nonfinite_steps"] == [0, 0]
    assert math.isnan(log["gan"][0]) and math.isfinite(log["gan"][1])  # iteration 1: only the discriminator trains
    assert math.isfinite(log["perceptual_random_vgg"][1]) and all(math.isfinite(v) for v in log["d_real"])
    a, b = start.state_dict(), pp.model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the generator steps of iteration 2 moved the weights


# ------------------------------------------------------------------------------------------ resolution
def test_unknown_names_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown experiment 'sr_x2'.*sr_x4, face_x8, rescale_x4"):
        ex.profile_config("sr_x2")
    with pytest.raises(ValueError, match="'rescale_x4' has the stages hcflow, not 'plus'"):
        ex.config_name("rescale_x4", "plus")
    with pytest.raises(ValueError, match="profile must be one of smoke, lite, full"):
        ex.profile_config("sr_x4", "hcflow", "medium")


def test_init_from_is_the_run_in_workdir_then_the_shipped_checkpoint(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HCFLOW_PRETRAINED", str(tmp_path / "shipped"))
    work = tmp_path / "work"
    # nothing trained, nothing shipped: the path the HCFlow stage will write (the engine says to train it first)
    assert ex.profile_config("sr_x4", "plus", "smoke", workdir=work).init_from == str(work / "sr_x4-smoke" / "last.pt")
    # the package ships sr_x4-lite: the lite HCFlow+ fine-tunes it by name
    assert ex.profile_config("sr_x4", "plus", "lite", workdir=work).init_from == "sr_x4-lite"
    # a shipped HCFlow: fine-tune it by name
    model = hc.build_model("sr_x4-tiny")
    hc.save_checkpoint(model, tmp_path / "shipped" / "sr_x4-smoke.pt")
    assert "sr_x4-smoke" in available_pretrained()
    assert ex.profile_config("sr_x4", "plusplus", "smoke", workdir=work).init_from == "sr_x4-smoke"
    # a run in workdir wins
    hc.save_checkpoint(model, work / "sr_x4-smoke" / "last.pt")
    assert ex.profile_config("sr_x4", "plus", "smoke", workdir=work).init_from == str(work / "sr_x4-smoke" / "last.pt")
    # an explicit init_from wins over both
    assert ex.profile_config("sr_x4", "plus", "smoke", workdir=work, overrides=["init_from=null"]).init_from is None
    assert ex.profile_config("sr_x4", "hcflow", "smoke", workdir=work).init_from is None
    cfg = ex.profile_config("face_x8", "hcflow", "full", data_root=tmp_path / "data")
    assert cfg.data.root == str(tmp_path / "data")


def test_lite_plusplus_falls_back_to_a_labelled_random_vgg_only_without_the_weights(monkeypatch) -> None:
    monkeypatch.setattr(ex, "vgg19_available", lambda: False)
    assert ex.profile_config("sr_x4", "plusplus", "lite").losses.allow_random_vgg is True
    assert ex.profile_config("face_x8", "plusplus", "lite").losses.allow_random_vgg is True
    assert ex.profile_config("sr_x4", "plus", "lite").losses.allow_random_vgg is False
    assert ex.profile_config("sr_x4", "plusplus", "full").losses.allow_random_vgg is False  # never the paper's
    monkeypatch.setattr(ex, "vgg19_available", lambda: True)
    assert ex.profile_config("sr_x4", "plusplus", "lite").losses.allow_random_vgg is False


def test_recipe_differences_and_tables() -> None:
    lite, full = ex.profile_config("rescale_x4", "hcflow", "lite"), ex.profile_config("rescale_x4", "hcflow", "full")
    keys = {k for k, *_ in ex.recipe_differences(lite, full)}
    assert {"model", "data.train", "data.patch_size", "data.batch_size", "optim.learning_rate",
            "schedule.iterations", "schedule.kind"} <= keys
    assert not any(k.startswith(("validation", "log", "checkpoint", "runtime", "data.root", "init_from")) for k in keys)
    assert ("data.batch_size", 8, 16) in ex.recipe_differences(lite, full)
    table = ex.recipe_table({"lite": lite, "paper": full})
    assert table.splitlines()[0] == "| | lite | paper |"
    assert "batch 16" in table and "500,000 iterations, multistep ×0.5 at [100000, 200000, 300000, 400000, 450000]" in table
    assert "L1(HR, τ=1) 1 + L2(LR) 0.05 + latent L2 1e-05" in table
    cmd = ex.cli_command("sr_x4", "plus", "full", "runs", data_root="/data")
    assert cmd == ("python -m hcflow_lite train --config sr_x4_plus --workdir runs/sr_x4_plus --resume auto "
                   "--set init_from=runs/sr_x4/last.pt data.root=/data")


def test_split_by_temperature() -> None:
    log = {"iteration": [5, 5, 10, 10], "temperature": [0.0, 0.9, 0.0, 0.9], "psnr": [20.0, 18.0, 21.0, 19.0]}
    out = ex.split_by_temperature(log)
    assert out[0.0]["psnr"] == [20.0, 21.0] and out[0.9]["iteration"] == [5, 10]


# ------------------------------------------------------------------------------------------ load or train
def test_load_or_train_trains_reuses_resumes_and_refuses_other_settings(tmp_path) -> None:
    short = [*FAST, "schedule.iterations=6", "checkpoint.every=3", "log.every=2"]
    messages: list[str] = []
    first = ex.load_or_train("rescale_x4", "hcflow", "smoke", tmp_path, overrides=short, echo=messages.append)
    assert first.source == "trained" and "training it in" in messages[0] and "trained 'rescale_x4-smoke'" in messages[-1]
    assert first.train_log["iteration"] == [2, 4, 6] and not first.model.training
    done = first.checkpoint.read_bytes()

    again = ex.load_or_train("rescale_x4", "hcflow", "smoke", tmp_path, overrides=short, echo=messages.append)
    assert again.source == "reused" and again.checkpoint.read_bytes() == done  # not retrained

    # a killed run: the newest checkpoint and last.pt are gone, the one of iteration 3 is left
    wd = tmp_path / "rescale_x4-smoke"
    (wd / "last.pt").unlink()
    (wd / "checkpoints" / "iter_0000006.pt").unlink()
    resumed = ex.load_or_train("rescale_x4", "hcflow", "smoke", tmp_path, overrides=short, echo=messages.append)
    assert resumed.source == "resumed" and resumed.train_log["iteration"] == [2, 4, 6]
    for (k, a), b in zip(first.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k  # exactly the uninterrupted run

    with pytest.raises(ValueError, match=r"finished rescale_x4-smoke run trained with other settings "
                                         r"\(optim.learning_rate: 0.002 there, 0.1 now\)"):
        ex.load_or_train("rescale_x4", "hcflow", "smoke", tmp_path, overrides=[*short, "optim.learning_rate=0.1"])


def test_a_shipped_checkpoint_is_loaded_with_its_record(tmp_path, monkeypatch) -> None:
    shipped = tmp_path / "shipped"
    monkeypatch.setenv("HCFLOW_PRETRAINED", str(shipped))
    run = ex.load_or_train("sr_x4", "hcflow", "smoke", tmp_path / "work")
    shipped.mkdir()
    shutil.copyfile(run.checkpoint, shipped / "sr_x4-smoke.pt")
    record = {"name": "sr_x4-smoke", "iteration": 30, "seconds": 12.5, "machine": {"summary": "2 cores"},
              "train_config": run.config.to_dict(), "train_log": {"iteration": [10, 20], "nll": [5.0, None]}}
    (shipped / "sr_x4-smoke.json").write_text(json.dumps(record))
    said: list[str] = []
    loaded = ex.load_or_train("sr_x4", "hcflow", "smoke", tmp_path / "elsewhere", echo=said.append)
    assert loaded.source == "shipped" and loaded.checkpoint == shipped / "sr_x4-smoke.pt"
    assert said == ["HCFlow, profile smoke: loaded the shipped checkpoint 'sr_x4-smoke' "
                    f"({shipped / 'sr_x4-smoke.pt'}); 30 iterations in 0.2 min on 2 cores"]
    assert loaded.train_log["iteration"] == [10.0, 20.0] and math.isnan(loaded.train_log["nll"][1])
    assert not (tmp_path / "elsewhere").exists()  # nothing trained
    for (k, a), b in zip(run.model.state_dict().items(), loaded.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    # use_shipped=False (or any overrides) skips the shipped checkpoint: here the run in workdir is reused
    assert ex.load_or_train("sr_x4", "hcflow", "smoke", tmp_path / "work", use_shipped=False).source == "reused"


def test_pretrained_search_path_and_errors(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HCFLOW_PRETRAINED", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no shipped checkpoint of that name.*ci/train_pretrained.py"):
        pretrained_path("nothing-lite")
    with pytest.raises(FileNotFoundError):
        hc.load_checkpoint("nothing-lite")
    hc.save_checkpoint(hc.build_model("rescale_x4-tiny"), tmp_path / "mine.pt")
    (tmp_path / "mine.json").write_text('{"name": "mine"}')
    assert pretrained_path("mine") == tmp_path / "mine.pt" and pretrained_info("mine") == {"name": "mine"}
    assert hc.load_checkpoint("mine").config.name == "rescale_x4-tiny"
    assert pretrained_info("nothing") == {}


# ------------------------------------------------------------------------------------------ Set5
def test_set5_ships_with_the_package_identical_to_the_test_copy(tmp_path) -> None:
    ds = benchmark_dataset("Set5", tmp_path / "empty-root")  # no Set5 under this root: the packaged copy
    assert ds.hr_dir == ROOT / "hcflow_lite" / "data" / "benchmarks" / "Set5"
    assert ds.lr_dir == ds.hr_dir / "LR_bicubic" / "X4"
    theirs = sorted(p.relative_to(SET5) for p in SET5.rglob("*.png"))
    ours = sorted(p.relative_to(ds.hr_dir) for p in ds.hr_dir.rglob("*.png"))
    assert ours == theirs and len(ours) == 10
    for rel in ours:
        assert hashlib.sha256((ds.hr_dir / rel).read_bytes()).digest() == hashlib.sha256((SET5 / rel).read_bytes()).digest()
    # a root that has its own Set5 keeps using it
    assert benchmark_dataset("Set5", SET5.parent).hr_dir == SET5


def test_compare_to_bicubic_puts_the_same_numbers_side_by_side() -> None:
    """The rows are evaluate()'s numbers for the model and for bicubic; Set5 bicubic is Table 4's 28.42 dB."""
    torch.manual_seed(0)
    model = hc.build_model("rescale_x4-tiny")
    model.mark_initialized(True)
    cmp = ex.compare_to_bicubic(model, "Set5", [1.0], n_samples=1, images=[2, 4], label="tiny")
    ds = torch.utils.data.Subset(benchmark_dataset("Set5"), [2, 4])
    ours = evaluate(model, ds, [1.0], 1, progress=False, lpips=False)["runs"][0]
    row = cmp.row(1.0)
    assert row["psnr_y"] == pytest.approx(ours["psnr_y"], abs=1e-9)
    assert row["delta_psnr_y"] == pytest.approx(row["psnr_y"] - row["bicubic_psnr_y"], abs=1e-12)
    assert cmp.beats_bicubic(1.0) is (row["delta_psnr"] > 0 and row["delta_psnr_y"] > 0)
    assert "τ = 1: PSNR" in cmp.text() and cmp.to_dict()["rows"] == cmp.rows
    with pytest.raises(KeyError, match="no results at τ = 0.5"):
        cmp.row(0.5)
    bicubic = evaluate("bicubic", benchmark_dataset("Set5"), task="rescaling", progress=False, lpips=False)
    assert bicubic["mean"]["psnr_y"] == pytest.approx(28.42, abs=0.005)  # paper, Table 4: Bicubic & Bicubic


# ------------------------------------------------------------------------------------------ the training script
def test_train_pretrained_script_writes_checkpoints_and_records(tmp_path, monkeypatch) -> None:
    """``ci/train_pretrained.py`` end to end in the smoke profile: files, records, checks; then loadable by name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_pretrained", ROOT / "ci" / "train_pretrained.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, runs = tmp_path / "out", tmp_path / "runs"
    with pytest.raises(SystemExit):  # never into the package with a test profile
        script.main(["--profile", "smoke", "--only", "rescale_x4-smoke"])
    rc = script.main(["--profile", "smoke", "--only", "sr_x4-smoke", "sr_x4_plus-smoke", "rescale_x4-smoke",
                      "--out", str(out), "--runs", str(runs), "--quick", "4"])
    assert rc == 1  # four iterations of a tiny model do not beat bicubic, and the script says so
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{e}" for n in ("sr_x4-smoke", "sr_x4_plus-smoke", "rescale_x4-smoke") for e in ("pt", "json"))
    rec = json.loads((out / "sr_x4_plus-smoke.json").read_text())
    assert rec["init_from"] == str(runs / "sr_x4-smoke" / "last.pt") and rec["quick"] is True
    assert rec["sha256"] == hashlib.sha256((out / "sr_x4_plus-smoke.pt").read_bytes()).hexdigest()
    assert rec["train_log"]["iteration"] == [1, 2, 3, 4] and rec["train_config"]["schedule"]["iterations"] == 4
    assert rec["checks"][0]["requirement"] == "Set5 PSNR and Y-PSNR at τ = 0 > bicubic" and rec["checks"][0]["passed"] is False
    assert [r["temperature"] for r in rec["set5"]["rows"]] == [0.0, 0.9]
    assert rec["cli_equivalent"].startswith("python -m hcflow_lite train --config sr_x4_plus-smoke --workdir ")
    assert {"cpu", "logical_cores", "torch_threads", "load_average", "summary"} <= set(rec["machine"])
    resc = json.loads((out / "rescale_x4-smoke.json").read_text())
    assert resc["checks"][0]["requirement"].startswith("Set5 Y-PSNR at τ = 1 (mean of 2 draws) ≥ bicubic & bicubic + 2 dB")
    bicubic = evaluate("bicubic", torch.utils.data.Subset(benchmark_dataset("Set5"), [2, 4]), task="rescaling", scale=4,
                       progress=False, lpips=False)  # the smoke profile evaluates two Set5 images
    assert resc["set5"]["rows"][0]["bicubic_psnr_y"] == pytest.approx(bicubic["mean"]["psnr_y"], abs=1e-9)
    # the notebooks' loader finds them by name
    monkeypatch.setenv("HCFLOW_PRETRAINED", str(out))
    run = ex.load_or_train("sr_x4", "plus", "smoke", tmp_path / "nb")
    assert run.source == "shipped" and run.train_log["iteration"] == [1.0, 2.0, 3.0, 4.0]
    assert run.config.init_from == rec["init_from"]  # the config that made it, as recorded
    # a second call skips finished stages
    assert script.main(["--profile", "smoke", "--only", "rescale_x4-smoke", "--out", str(out), "--runs", str(runs)]) == 0
