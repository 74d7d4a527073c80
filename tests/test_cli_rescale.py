"""``rescale-down`` / ``rescale-up``: HR → the model's 8-bit LR PNG → HR, as separate tools (IRN#31)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import hcflow_lite as hc
from hcflow_lite.cli import main
from hcflow_lite.data import load_image
from hcflow_lite.models import quantize
from hcflow_lite.testing import perturb_parameters


@pytest.fixture(scope="module")
def rescaler(tmp_path_factory):
    torch.manual_seed(0)
    model = hc.build_model("rescale_x4-tiny").train()
    with torch.no_grad():
        model.encode(torch.rand(2, 3, 16, 16))
    perturb_parameters(model, 0.01, torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("ckpt") / "rescale.pt"
    hc.save_checkpoint(model, path)
    return path


def test_down_then_up_round_trip_with_an_odd_size(tmp_path, rescaler) -> None:
    rng = np.random.default_rng(1)
    src = tmp_path / "hr"
    src.mkdir()
    Image.fromarray(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(src / "even.png")
    Image.fromarray(rng.integers(0, 256, (19, 22, 3), dtype=np.uint8)).save(src / "odd.png")  # not a multiple of 4
    assert main(["rescale-down", str(src), "-c", str(rescaler), "-o", str(tmp_path / "lr")]) == 0
    with Image.open(tmp_path / "lr" / "odd.png") as im:
        assert im.size == (6, 5) and im.text["hcflow:hr_size"] == "19x22"  # padded to 20×24, size kept
    # the stored LR is Q(clamp(ŷ)) of the model (independent call of the API)
    model = hc.load_checkpoint(rescaler)
    hr = load_image(src / "even.png")[None]
    with torch.no_grad():
        ref = quantize(model.encode(hr).lr)[0]
    assert torch.equal(load_image(tmp_path / "lr" / "even.png"), ref)
    assert main(["rescale-up", str(tmp_path / "lr"), "-c", str(rescaler), "-o", str(tmp_path / "up")]) == 0
    assert load_image(tmp_path / "up" / "odd.png").shape == (3, 19, 22)
    up = load_image(tmp_path / "up" / "even.png")
    with torch.no_grad():
        expected = model.upscale(ref[None], 1.0, generator=torch.Generator().manual_seed(0))[0]
    assert torch.equal(up, torch.round(expected * 255) / 255)


def test_rescale_errors(tmp_path, capsys, rescaler) -> None:
    sr = tmp_path / "sr.pt"
    hc.save_checkpoint(hc.build_model("sr_x4-tiny"), sr)
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(img)
    jpg = tmp_path / "a.jpg"
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(jpg)
    assert main(["rescale-down", str(img), "-c", str(sr)]) == 2
    assert "holds a sr model; use `upscale`" in capsys.readouterr().err
    assert main(["rescale-up", str(img), "-c", str(rescaler), "-t", "-1"]) == 2
    assert "--temperature must be ≥ 0" in capsys.readouterr().err
    assert main(["rescale-up", str(jpg), "-c", str(rescaler), "-o", str(tmp_path / "o")]) == 0
    assert "is not a lossless image" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    assert main(["rescale-up", str(img), "-c", str(corrupt)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
