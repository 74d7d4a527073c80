"""The temperature explorer (hcflow_lite.explorer, book chapter 13).

The computation is checked against independent re-computations; the widgets are driven twice:
directly (every control, the upload) and in a live Jupyter kernel running chapter 13, where the
τ slider and the re-sample button receive the same messages a browser sends.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hcflow_lite as hc
from hcflow_lite.data import imresize
from hcflow_lite.explorer import TemperatureExplorer, explore, std_map, to_png
from hcflow_lite.testing import perturb_parameters

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "part2" / "13_temperature_explorer.ipynb"


@pytest.fixture(scope="module")
def model() -> hc.HCFlow:
    torch.manual_seed(0)
    m = hc.build_model("sr_x4-tiny").train()
    with torch.no_grad():
        m.encode(torch.rand(2, 3, 32, 32))
    return perturb_parameters(m, 0.02, torch.Generator().manual_seed(0)).eval()


def psnr_8bit(a: np.ndarray, b: np.ndarray, crop: int = 0) -> float:
    """PSNR of two [0, 1] float images after rounding to 8 bits (float64, written here)."""
    a8, b8 = np.round(a * 255).astype(np.float64), np.round(b * 255).astype(np.float64)
    if crop:
        a8, b8 = a8[:, crop:-crop, crop:-crop], b8[:, crop:-crop, crop:-crop]
    return 10 * math.log10(255**2 / np.mean((a8 - b8) ** 2))


def test_explore_matches_independent_computation(model: hc.HCFlow) -> None:
    hr = torch.rand(3, 32, 24)
    lr = imresize(hr[None], 1 / 4, uint8=True)[0]
    r = explore(model, lr, [0.9, 0.5], n=3, seed=7, hr=hr)
    # the same draws as model.sample with a generator seeded 7
    with torch.no_grad():
        ref = model.sample(lr[None], 3, [0.9, 0.5], generator=torch.Generator().manual_seed(7))[:, 0]
    torch.testing.assert_close(r.samples, ref)
    s = r.samples.double().numpy() * 255
    std = s.std(axis=0, ddof=1).mean(axis=0)
    np.testing.assert_allclose(r.std.numpy(), std, rtol=1e-4, atol=1e-3)
    assert r.diversity == pytest.approx(std.mean(), rel=1e-4)
    for k in range(3):
        x8 = torch.round(r.samples[k] * 255) / 255
        down = imresize(x8[None], 1 / 4, uint8=True)[0].numpy()
        assert r.lr_psnr[k] == pytest.approx(psnr_8bit(down, lr.numpy()), abs=1e-6)
        assert r.psnr[k] == pytest.approx(psnr_8bit(r.samples[k].numpy(), hr.numpy(), crop=4), abs=1e-6)
    zero = explore(model, lr, 0.0, n=3, seed=1)
    assert zero.diversity == 0.0 and torch.equal(zero.samples[0], zero.samples[2])
    assert std_map(zero.samples[:1]).abs().sum() == 0


def test_explore_rejects_bad_input(model: hc.HCFlow) -> None:
    with pytest.raises(ValueError, match="per level"):
        explore(model, torch.rand(3, 4, 4), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="LR image"):
        explore(model, torch.rand(1, 3, 4, 4), 0.5)
    with pytest.raises(ValueError, match="rescaling"):
        explore(hc.build_model("rescale_x4-tiny"), torch.rand(3, 4, 4), 0.5)


def test_to_png_round_trips() -> None:
    img = torch.rand(3, 5, 7)
    back = np.asarray(Image.open(io.BytesIO(to_png(img, scale=2))))
    assert back.shape == (10, 14, 3)
    np.testing.assert_array_equal(back[::2, ::2], np.round(img.permute(1, 2, 0).numpy() * 255).astype(np.uint8))


def test_controls_drive_the_views(model: hc.HCFlow) -> None:
    ex = TemperatureExplorer(model, {"a": torch.rand(3, 40, 40), "b": torch.rand(3, 36, 44)}, n_samples=3)
    first, png = ex.result, ex.std_view.value
    ex.tau.value = 0.0
    assert ex.result.diversity == 0.0 and ex.result.temperature == [0.0, 0.0] and ex.std_view.value != png
    ex.tau.value = 0.9
    seed = ex.seed.value
    ex.resample.click()
    assert ex.seed.value == seed + 1 and ex.result.seed == seed + 1
    assert not torch.equal(ex.result.samples, first.samples)
    ex.per_level.value = True
    ex.level_taus[1].value = 0.2
    assert ex.result.temperature == [0.9, 0.2]
    ex.per_level.value = False
    assert ex.result.temperature == [0.9, 0.9]
    ex.image.value = "b"
    assert ex.result.samples.shape[-2:] == (36, 44) and len(ex.sample_views.children) == 3
    assert "diversity" in ex.stats.value and "PSNR to the HR" in ex.stats.value


def test_upload(model: hc.HCFlow, tmp_path: Path) -> None:
    ex = TemperatureExplorer(model, {"a": torch.rand(3, 40, 40)}, n_samples=2, max_lr_size=8)
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((50, 70)) * 255).astype(np.uint8)).save(buf, format="PNG")  # grey
    ex.upload_as.value = "lr"
    # what a browser sends: the file list with the bytes as a binary buffer, times in ms
    ex.upload.set_state({"value": [{"name": "mine.png", "type": "image/png", "size": len(buf.getvalue()),
                                    "content": memoryview(buf.getvalue()), "last_modified": 0}]})
    assert ex.image.value == "upload: mine.png"
    assert ex.result.samples.shape[-2:] == (32, 32) and ex.result.psnr is None  # LR cropped to 8×8, ×4
    ex.upload.set_state({"value": [{"name": "broken.png", "type": "image/png", "size": 3, "content": memoryview(b"abc"),
                                    "last_modified": 0}]})
    assert "could not use broken.png" in ex.status.value and ex.image.value == "upload: mine.png"
    # ipywidgets 7 (Colab's) delivers {name: {"metadata": …, "content": bytes}}
    ex.upload_as.value = "hr"
    ex._uploaded({"new": {"old.png": {"metadata": {"name": "old.png"}, "content": buf.getvalue()}}})
    assert ex.image.value == "upload: old.png" and ex.result.psnr is not None  # an HR: its LR is made, PSNR shown


@pytest.mark.notebook
def test_widgets_in_a_live_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chapter 13 in a kernel (smoke profile): the τ slider and the button, as a browser drives them."""
    from testbook import testbook

    monkeypatch.setenv("HCFLOW_PROFILE", "smoke")
    monkeypatch.setenv("HCFLOW_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with testbook(str(CHAPTER), execute=slice(0, "explorer"), timeout=300,
                  resources={"metadata": {"path": str(CHAPTER.parent)}}) as tb:
        tb.inject("import torch\nbefore = explorer.result\npng0 = explorer.std_view.value\nupdates0 = explorer.updates")
        assert tb.value("explorer.tau.value") == pytest.approx(0.9)
        assert tb.value("before.diversity") > 0
        # a browser moving the slider sends {"method": "update", "state": {"value": 0}} to the widget's comm
        tb.inject("explorer.tau.set_state({'value': 0.0})")
        assert tb.value("explorer.updates") == tb.value("updates0") + 1
        assert tb.value("explorer.result.diversity") == 0.0
        assert tb.value("explorer.std_view.value != png0")
        assert tb.value("bool(torch.equal(explorer.result.samples[0], explorer.result.samples[-1]))")
        # ... and a click sends {"method": "custom", "content": {"event": "click"}}
        tb.inject("explorer.tau.set_state({'value': 0.9})\nat_09 = explorer.result")
        tb.inject("explorer.resample._handle_button_msg(None, {'event': 'click'}, [])")
        assert tb.value("explorer.result.seed") == tb.value("at_09.seed") + 1
        assert tb.value("explorer.result.diversity") > 0
        assert tb.value("not bool(torch.equal(explorer.result.samples, at_09.samples))")
        assert tb.value("len(explorer.sample_views.children)") == tb.value("explorer.n_samples.value")
