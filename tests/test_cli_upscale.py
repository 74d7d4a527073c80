"""``python -m hcflow_lite upscale``: LR images → SR PNGs with any of our or the official checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hcflow_lite as hc
from hcflow_lite.cli import main
from hcflow_lite.data import load_image

FIXTURES = Path(__file__).parent / "fixtures" / "parity"


@pytest.fixture(scope="module")
def sr_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = hc.build_model("sr_x4-tiny").train()
    with torch.no_grad():
        model.encode(torch.rand(2, 3, 16, 16))
    path = tmp_path_factory.mktemp("ckpt") / "sr.pt"
    hc.save_checkpoint(model, path)
    return path


def lr_images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)).save(folder / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(folder / "grey.png")  # greyscale
    Image.fromarray(rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)).save(folder / "rgba.png")
    return folder


def test_upscale_folder_samples_and_per_level_temperature(tmp_path, sr_checkpoint) -> None:
    src = lr_images(tmp_path / "in")
    out = tmp_path / "out"
    argv = ["upscale", str(src), "-c", str(sr_checkpoint), "-o", str(out), "--samples", "2", "-t", "0.5,0.9", "--seed", "3"]
    assert main(argv) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{n}_x4_t0.5-0.9_s{k}.png" for n in ("rgb", "grey", "rgba") for k in (0, 1))
    sr = load_image(out / "rgb_x4_t0.5-0.9_s0.png")
    assert sr.shape == (3, 28, 36)
    # the first sample is the model's, with the same seed (independent call of the API)
    model = hc.load_checkpoint(sr_checkpoint)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        ref = model.sample(load_image(src / "rgb.png")[None], 2, [0.5, 0.9], generator=g)[0, 0]
    assert torch.equal(sr, torch.round(ref * 255) / 255)
    assert not torch.equal(sr, load_image(out / "rgb_x4_t0.5-0.9_s1.png"))


def test_upscale_with_an_official_checkpoint_and_options(tmp_path) -> None:
    src = lr_images(tmp_path / "in")
    assert main(["upscale", str(src / "rgb.png"), "-c", str(FIXTURES / "sr_x4" / "state_dict.pt"),
                 "--options", str(FIXTURES / "sr_x4" / "options.json"), "-o", str(tmp_path / "o"), "-t", "0"]) == 0
    out = load_image(tmp_path / "o" / "rgb_x4_t0.png")
    model = hc.load_official(FIXTURES / "sr_x4" / "state_dict.pt", FIXTURES / "sr_x4" / "options.json")
    with torch.no_grad():
        ref = model.decode(load_image(src / "rgb.png")[None], 0.0)[0]
    assert torch.equal(out, torch.round(ref * 255) / 255)


def test_upscale_errors(tmp_path, capsys, sr_checkpoint) -> None:
    rescaler = tmp_path / "rescale.pt"
    hc.save_checkpoint(hc.build_model("rescale_x4-tiny"), rescaler)
    src = lr_images(tmp_path / "in")
    (tmp_path / "empty").mkdir()
    cases = [
        (["upscale", str(tmp_path / "missing.png"), "-c", str(sr_checkpoint)], "error: input not found"),
        (["upscale", str(tmp_path / "empty"), "-c", str(sr_checkpoint)], "error: no images"),
        (["upscale", str(src), "-c", str(rescaler)], "error: " + str(rescaler) + " holds a rescaling model; use `rescale-down"),
        (["upscale", str(src), "-c", "nothing.pt"], "error: checkpoint not found"),
        (["upscale", str(src), "-c", "x.pth"], "error: x.pth looks like an official checkpoint"),
        (["upscale", str(src), "-c", str(sr_checkpoint), "-t", "0.1,0.2,0.3"], "error: this model has L=2 levels"),
        (["upscale", str(src), "-c", str(sr_checkpoint), "-t", "hot"], "error: --temperature must be a number"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(message), err
