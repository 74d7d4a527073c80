"""``python -m hcflow_lite train``: the command line around the engine, and its one-line errors."""

from __future__ import annotations

import hcflow_lite as hc
from hcflow_lite.cli import main

FAST = ["data.train=synthetic", "data.val=none", "log.progress=false"]


def test_train_command_runs_a_smoke_config_and_resumes(tmp_path, capsys) -> None:
    args = ["train", "--config", "rescale_x4-smoke", "--workdir", str(tmp_path), "--set", *FAST, "schedule.iterations=4"]
    assert main(args) == 0
    assert hc.load_checkpoint(tmp_path / "last.pt").config.name == "rescale_x4-tiny"
    assert main(args) == 2  # the workdir holds a run: refuse, say how to continue
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--resume", "auto"]) == 0
    assert "the run is complete" in capsys.readouterr().err
    assert main([*args[:-1], "schedule.iterations=6", "--resume", "auto"]) == 0  # extend a finished run
    assert hc.load_checkpoint(tmp_path / "last.pt") is not None
    assert "resuming from" in capsys.readouterr().err


def test_train_command_lists_and_prints_configs(capsys) -> None:
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("sr_x4 ", "sr_x4_plusplus-lite", "face_x8_plus-smoke", "rescale_x4-lite"):
        assert name in out
    assert main(["train", "--config", "face_x8_plusplus", "--print-config", "--set", "data.batch_size=2"]) == 0
    out = capsys.readouterr().out
    assert "batch_size: 2" in out and "discriminator: discriminator_vgg_160" in out and "model: face_x8" in out


def test_train_command_errors_are_one_line(tmp_path, capsys) -> None:
    cases = [
        (["train", "--config", "sr_x9", "--workdir", str(tmp_path)], "error: no config named 'sr_x9'"),
        (["train", "--config", "sr_x4-smoke", "--workdir", str(tmp_path), "--set", "data.bach_size=2"],
         "error: unknown config key 'data.bach_size'; did you mean 'data.batch_size'?"),
        (["train", "--config", "sr_x4-smoke"], "error: --workdir is required"),
        (["train", "--workdir", str(tmp_path)], "error: --config is required"),
        (["train", "--config", "sr_x4", "--workdir", str(tmp_path), "--set", "data.root=" + str(tmp_path)],
         "error: dataset DIV2K-train not found under"),
        (["train", "--config", "sr_x4_plusplus-lite", "--workdir", str(tmp_path), "--set", *FAST, "init_from=null",
          "losses.vgg_weights=" + str(tmp_path / "none.pth")], "error: VGG19 ImageNet weights not found at"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(message), err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
