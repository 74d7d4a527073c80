"""The paper's numbers (hcflow_lite.paper_tables): well-formed, sourced, and consistent with our own evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcflow_lite import paper_tables as pt
from hcflow_lite.data import benchmark_dataset
from hcflow_lite.evaluate import evaluate

SET5 = Path(__file__).parent / "data" / "Set5"
RANGES = {"psnr": (15, 50), "psnr_y": (15, 50), "ssim": (0.3, 1), "ssim_y": (0.3, 1), "lpips": (0, 1),
          "diversity": (0, 100), "consistency": (20, 70), "lr_psnr": (20, 70)}


def test_every_row_is_sourced_and_well_formed() -> None:
    seen = set()
    for row in pt.ROWS:
        spec = pt.TABLES[row.table]
        assert row.source in pt.SOURCES, row
        assert row.status in pt.STATUS_MARK, row
        assert row.dataset in spec.datasets, row
        assert set(row.metrics) <= {k for k, _, _ in spec.metrics}, row
        for key, value in row.metrics.items():
            lo, hi = RANGES[key]
            assert lo <= value <= hi, (row.method, key, value)
        assert (row.table, row.method, row.dataset) not in seen, f"duplicate row {row}"
        seen.add((row.table, row.method, row.dataset))
    # numbers recalled without a readable source are never presented as verified
    for row in pt.ROWS:
        if row.source in ("recalled", "srflow_recalled"):
            assert row.status == "unverified"


def test_rescaling_rows_cover_every_dataset() -> None:
    for method in ("Bicubic & Bicubic", "IRN", "HCFlow"):
        assert [r.dataset for r in pt.paper_rows(4, method=method)] == list(pt.TABLES[4].datasets)


def test_bicubic_row_matches_our_evaluation_of_set5() -> None:
    """Our bicubic ×4 down/up on Set5 (MATLAB resize, Y rounded, crop 4) gives the published row."""
    (row,) = pt.paper_rows(4, "Set5", "Bicubic & Bicubic")
    assert row.status == "verified"
    res = evaluate("bicubic", benchmark_dataset("Set5", SET5.parent, scale=4), task="rescaling", lpips=False, progress=False)
    assert round(res["mean"]["psnr_y"], 2) == row.metrics["psnr_y"]
    assert res["mean"]["ssim_y"] == pytest.approx(row.metrics["ssim_y"], abs=1e-3)


def test_paper_table_marks_and_missing_rows() -> None:
    md = pt.paper_table(4)
    assert "| HCFlow | Set5 | 36.29? | 0.9468? | recalled |" in md
    assert "| IRN | Set5 | 36.19 | 0.9451 | irn_readme |" in md
    assert "pkuxmq/Invertible-Image-Rescaling @ 0ebe8f9" in md
    t3 = pt.paper_table(3)
    assert "HCFlow on CelebA-test" in t3 and "HCFlow++ on CelebA-test" in t3  # said, not invented
    assert pt.missing_rows(4) == []
    with pytest.raises(ValueError, match="table must be one of"):
        pt.paper_rows(1)


def test_comparison_table_labels_our_rows() -> None:
    ours = {
        "model": {"label": "rescale_x4-lite (shipped checkpoint, lite)"},
        "dataset": {"name": "Set5", "n_images": 5},
        "runs": [{"temperature": 1.0, "psnr_y": 30.123, "ssim_y": 0.87654}],
    }
    md = pt.comparison_table(4, [ours], dataset="Set5")
    lines = md.splitlines()
    assert "| **ours** | rescale_x4-lite (shipped checkpoint, lite) | Set5 (5 img.) | 1 | 30.12 | 0.8765 |" in lines
    assert any(line.startswith("| paper | HCFlow [recalled] | Set5 | 1 | 36.29? |") for line in lines)
    assert not any("Set14" in line for line in lines if line.startswith("| paper"))
