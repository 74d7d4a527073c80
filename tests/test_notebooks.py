"""Every notebook of the book runs through papermill in the `smoke` profile (CI's gate).

Wall times are recorded in ``_build/notebook_times.json`` (reported, never asserted).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def book_notebooks() -> list[Path]:
    """The notebooks of ``_toc.yml`` and every other notebook under ``book/`` (ci/notebooks.py)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            files.append(ch["file"])
            files.extend(s["file"] for s in ch.get("sections", []))
    listed = {ROOT / f"{f}.ipynb" for f in files}
    found = {p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    return sorted(p for p in listed | found if p.is_file())


NOTEBOOKS = book_notebooks()


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_smoke(path: Path, tmp_path: Path) -> None:
    import papermill as pm

    start = time.perf_counter()
    pm.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters={"profile": "smoke", "workdir": str(tmp_path / "work")},
        kernel_name="python3",
        cwd=str(path.parent),
        progress_bar=False,
        execution_timeout=600,
    )
    record_time(path, time.perf_counter() - start)


def record_time(path: Path, seconds: float) -> None:
    out = ROOT / "_build" / "notebook_times"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{path.stem}.json").write_text(json.dumps({"notebook": str(path.relative_to(ROOT)), "profile": "smoke", "seconds": round(seconds, 1), "workers": os.environ.get("PYTEST_XDIST_WORKER_COUNT")}))


def test_notebooks_are_clean() -> None:
    """No outputs committed, a `parameters` cell, the shared set-up cell first (ci/notebooks.py)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, str(ROOT / "ci" / "notebooks.py"), "check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
