"""The evaluator: the paper's bicubic baseline, model runs, the JSON/Markdown outputs, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite.cli import main
from hcflow_lite.data import PairedDataset, benchmark_dataset, imresize, load_image, save_image
from hcflow_lite.evaluate import evaluate, format_table, save_results
from hcflow_lite.metrics import psnr

SET5 = Path(__file__).parent / "data" / "Set5"


@pytest.fixture(scope="module")
def set5() -> PairedDataset:
    return benchmark_dataset("Set5", SET5.parent, scale=4)


def tiny(name: str) -> hc.HCFlow:
    torch.manual_seed(0)
    model = hc.build_model(name)
    model.train()
    with torch.no_grad():
        model.encode(torch.rand(2, 3, 2 * model.scale, 2 * model.scale))  # ActNorm data-dependent init
    return model.eval()


@pytest.fixture
def small(tmp_path: Path) -> PairedDataset:
    """Two 32×40 crops of Set5 images (one of odd size, mod-cropped)."""
    for name, (h, w) in [("bird", (32, 40)), ("head", (35, 42))]:
        save_image(load_image(SET5 / f"{name}.png")[:, 100 : 100 + h, 100 : 100 + w], tmp_path / "HR" / f"{name}.png")
    return PairedDataset(tmp_path / "HR", scale=4)


# ---------------------------------------------------------------- the paper's baseline
def test_bicubic_rescaling_on_set5_gives_table4_value(set5: PairedDataset) -> None:
    """Bicubic ×4 down and up, 8-bit, Y rounded as MATLAB, crop 4: 28.42 dB (Table 4, Set5)."""
    res = evaluate("bicubic", set5, task="rescaling", lpips=False, progress=False)
    assert round(res["mean"]["psnr_y"], 2) == 28.42
    assert res["mean"]["psnr_y"] == pytest.approx(28.4165, abs=1e-4)
    assert res["mean"]["ssim_y"] == pytest.approx(0.8101, abs=1e-4)  # the paper prints 0.8104
    # the official test script keeps Y as a float: 0.013 dB higher
    flt = evaluate("bicubic", set5, task="rescaling", lpips=False, progress=False, y_convention="float")
    assert flt["mean"]["psnr_y"] == pytest.approx(28.4290, abs=1e-4)
    # per image: the mean of the per-image values, each equal to a direct computation
    per = [img["runs"][0]["psnr_y"] for img in res["images"]]
    assert res["mean"]["psnr_y"] == pytest.approx(sum(per) / 5, abs=1e-12)
    item = set5[0]
    direct = psnr(imresize(imresize(item["hr"], 0.25, uint8=True), 4, uint8=True), item["hr"], 4, True)
    assert per[0] == pytest.approx(direct, abs=1e-12)
    assert set(res["mean"]) == {"psnr", "ssim", "psnr_y", "ssim_y", "consistency"}


def test_bicubic_sr_uses_the_dataset_lr(set5: PairedDataset) -> None:
    res = evaluate("bicubic", set5, lpips=False, progress=False, max_images=2)
    assert res["task"] == "sr" and res["dataset"]["n_images"] == 2
    item = set5[1]
    assert res["images"][1]["runs"][0]["psnr"] == pytest.approx(psnr(imresize(item["lr"], 4, uint8=True), item["hr"], 4))


# ---------------------------------------------------------------- models
def test_sr_model_run_structure_and_values(small: PairedDataset, tmp_path: Path) -> None:
    model = tiny("sr_x4-tiny")
    state = torch.random.get_rng_state()
    res = evaluate(model, small, [0.0, 0.9], 3, lpips=False, progress=False, save_images=tmp_path / "out")
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert set(res["mean"]) == {"0.0", "0.9"}
    for key in ("psnr", "ssim", "psnr_y", "ssim_y", "consistency", "lr_psnr", "diversity", "nll"):
        assert key in res["mean"]["0.9"], key
    assert res["mean"]["0.0"]["diversity"] == 0.0 and res["mean"]["0.9"]["diversity"] > 0
    assert res["mean"]["0.0"]["lr_psnr"] == res["mean"]["0.9"]["lr_psnr"]
    img = res["images"][1]
    assert img["name"] == "head" and img["hr_size"] == [32, 40]  # mod-cropped
    assert img["runs"][0]["draws"] == 1 and img["runs"][1]["draws"] == 3
    item = small[1]
    with torch.no_grad():
        sr0 = model.decode(item["lr"][None], 0.0)[0]
    assert img["runs"][0]["psnr"] == pytest.approx(psnr(sr0, item["hr"], 4), abs=1e-12)
    again = evaluate(model, small, [0.0, 0.9], 3, lpips=False, progress=False)
    assert again["mean"] == res["mean"]  # seeded: reproducible
    assert (tmp_path / "out" / "head_lr.png").is_file() and (tmp_path / "out" / "head_t0.9_2.png").is_file()
    json.dumps(res, allow_nan=False)  # valid JSON (no NaN/inf literals)


def test_rescaling_model_uses_its_own_lr(small: PairedDataset) -> None:
    model = tiny("rescale_x4-tiny")
    res = evaluate(model, small, None, 2, lpips=False, progress=False)
    assert res["temperatures"] == [1.0] and res["task"] == "rescaling"
    m = res["mean"]
    assert {"psnr_y", "ssim_y", "lr_psnr", "diversity"} <= set(m) and "nll" not in m
    item = small[0]
    with torch.no_grad():
        own_lr = model.downscale(item["hr"][None])[0]
    assert res["images"][0]["lr_psnr"] == pytest.approx(psnr(own_lr, item["lr"]), abs=1e-12)
    assert format_table(res).splitlines()[0].startswith("| Method | τ | PSNR (Y) ↑ | SSIM (Y) ↑")


def test_lpips_auto_is_skipped_with_the_reason(small: PairedDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    res = evaluate("bicubic", small, lpips="auto", progress=False)
    assert res["lpips"]["available"] is False and "alexnet-owt-7be5be79.pth" in res["lpips"]["reason"]
    assert "lpips" not in res["mean"] and "LPIPS unavailable" in format_table(res)


def test_evaluate_errors(small: PairedDataset) -> None:
    with pytest.raises(ValueError, match="the dataset is ×4 but the model is ×8"):
        evaluate(tiny("face_x8-tiny"), small, progress=False, lpips=False)
    with pytest.raises(ValueError, match="'bilinear'"):
        evaluate("bilinear", small, progress=False)
    with pytest.raises(ValueError, match="n_samples"):
        evaluate("bicubic", small, n_samples=0, progress=False, lpips=False)
    bad = [{"hr": torch.rand(3, 32, 32), "lr": torch.rand(3, 9, 8), "name": "odd"}]
    with pytest.raises(ValueError, match=r"image odd: HR 32×32 is not ×4 of LR 9×8"):
        evaluate("bicubic", bad, scale=4, progress=False, lpips=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pass scale="):
        evaluate("bicubic", bad, progress=False, lpips=False)  # type: ignore[arg-type]


# ---------------------------------------------------------------- tables and files
def test_table_column_order_and_files(set5: PairedDataset, tmp_path: Path) -> None:
    sr = evaluate("bicubic", set5, lpips=False, progress=False, max_images=1, label="Bicubic")
    table = format_table([sr, sr], "sr")
    header = table.splitlines()[0]
    order = ["PSNR ↑", "SSIM ↑", "LPIPS ↓", "Diversity ↑", "Consistency ↑", "LR-PSNR ↑"]
    assert [header.index(c) for c in order] == sorted(header.index(c) for c in order)
    assert table.count("| Bicubic | – |") == 2 and "| – | – |" in table  # LPIPS/diversity/LR-PSNR n/a
    json_path, md_path = save_results(sr, tmp_path / "r" / "res.json")
    assert json.loads(json_path.read_text())["mean"]["psnr"] == pytest.approx(sr["mean"]["psnr"])
    assert md_path.read_text() == format_table(sr)
    with pytest.raises(ValueError, match="table must be one of"):
        format_table(sr, "faces")


# ---------------------------------------------------------------- command line
def test_cli_bicubic_and_checkpoint(small: PairedDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bic.json"
    rc = main(["evaluate", "--checkpoint", "bicubic", "--task", "rescaling", "--dataset", "Set5",
               "--data-root", str(SET5.parent), "--scale", "4", "--out", str(out), "--quiet", "--lpips", "no"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert round(res["mean"]["psnr_y"], 2) == 28.42 and out.with_suffix(".md").is_file()
    assert "| Bicubic | – | 28.42 | 0.8101 |" in capsys.readouterr().out

    ckpt = hc.save_checkpoint(tiny("sr_x4-tiny"), tmp_path / "tiny.pt")
    out2 = tmp_path / "tiny.json"
    rc = main(["evaluate", "--checkpoint", str(ckpt), "--hr-dir", str(small.hr_dir), "--temperature", "0.5",
               "--samples", "2", "--out", str(out2), "--quiet", "--lpips", "no", "--label", "tiny"])
    assert rc == 0
    res = json.loads(out2.read_text())
    assert res["temperatures"] == [0.5] and res["model"]["label"] == "tiny" and "diversity" in res["mean"]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    official = tmp_path / "official.pth"
    torch.save(hc.export_official(tiny("sr_x4-tiny")), official)
    rc = main(["evaluate", "--checkpoint", str(official), "--hr-dir", str(SET5), "--out", str(tmp_path / "x.json")])
    assert rc == 2 and "--options" in capsys.readouterr().err
    rc = main(["evaluate", "--checkpoint", "bicubic", "--hr-dir", str(tmp_path / "none"), "--scale", "4"])
    assert rc == 2 and "folder of HR images not found" in capsys.readouterr().err
    rc = main(["evaluate", "--checkpoint", "bicubic", "--dataset", "Urban100", "--data-root", str(tmp_path), "--scale", "4"])
    assert rc == 2 and "download_benchmarks.py" in capsys.readouterr().err
    rc = main(["evaluate", "--checkpoint", "bicubic", "--hr-dir", str(SET5), "--out", str(tmp_path / "y.json")])
    assert rc == 2 and "--scale" in capsys.readouterr().err


def test_cli_official_checkpoint_with_options(small: PairedDataset, tmp_path: Path) -> None:
    parity = Path(__file__).parent / "fixtures" / "parity" / "sr_x4"
    out = tmp_path / "official.json"
    rc = main(["evaluate", "--checkpoint", str(parity / "state_dict.pt"), "--options", str(parity / "options.json"),
               "--hr-dir", str(small.hr_dir), "--temperature", "0.9", "--out", str(out), "--quiet", "--lpips", "no"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["model"]["config"]["K"] == [3, 3] and res["dataset"]["n_images"] == 2
    assert {"psnr", "lr_psnr", "nll", "consistency"} <= set(res["mean"])
