"""The set-up cell that starts every chapter (book/setup_cell.py, stamped by ci/notebooks.py).

These tests run the cell where hcflow_lite is installed (this environment): it must do nothing
there, detect Colab, mount Google Drive as the work directory on request, and say so when the
installed version is not the book's.  Installing into a Colab-like runtime, from the wheel that
CI builds, without touching its torch, is tested in tests/test_release.py.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("ci_notebooks", ROOT / "ci" / "notebooks.py")
notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebooks)

CELL = notebooks.setup_cell_source()
VERSION = notebooks.read_version(ROOT)


def run_cell(source: str, tmp_path: Path, env: dict[str, str] | None = None, prelude: str = "") -> subprocess.CompletedProcess:
    """Run ``source`` as a notebook kernel would (one process, then print the resulting state)."""
    script = tmp_path / "run_cell.py"
    script.write_text(prelude + source + "\nimport json, os\n"
                      "print('STATE=' + json.dumps({'workdir': os.environ.get('HCFLOW_WORKDIR'), 'in_colab': IN_COLAB}))\n")
    full_env = {k: v for k, v in os.environ.items() if k not in ("HCFLOW_FORCE_COLAB", "HCFLOW_WORKDIR", "HCFLOW_LITE_SOURCE")}
    # if the cell ever tried to install here, pip would fail on this source and the test would see it
    full_env["HCFLOW_LITE_SOURCE"] = str(tmp_path / "no-such-wheel.whl")
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=120)


def state(res: subprocess.CompletedProcess) -> dict:
    assert res.returncode == 0, res.stdout + res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("STATE="))
    return json.loads(line.removeprefix("STATE="))


def test_the_cell_carries_the_package_version_and_the_repository() -> None:
    assert f'HCFLOW_LITE_VERSION = "{VERSION}"' in CELL
    assert notebooks.VERSION_PLACEHOLDER not in CELL
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    # the default source is this repository's release of exactly that version
    assert f'"{repo}/releases/download/v{{HCFLOW_LITE_VERSION}}/"' in CELL
    assert '"hcflow_lite-{HCFLOW_LITE_VERSION}-py3-none-any.whl"' in CELL
    compile(CELL, "setup_cell", "exec")  # valid Python as stamped


def test_check_finds_a_missing_or_stale_cell_and_fix_repairs_it(tmp_path: Path, capsys) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"),
                nbformat.v4.new_code_cell("profile = 'lite'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)], execution_count=1)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    assert notebooks.main(["notebooks.py", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "not the set-up cell" in out and "has outputs" in out
    assert notebooks.main(["notebooks.py", "fix", str(path)]) == 0
    assert notebooks.main(["notebooks.py", "check", str(path)]) == 0, capsys.readouterr().out
    fixed = nbformat.read(path, as_version=4)
    code = [c for c in fixed.cells if c.cell_type == "code"]
    assert code[0].source == CELL and code[0].metadata["tags"] == notebooks.SETUP_TAGS
    assert fixed.cells[0].cell_type == "markdown"  # the title stays first; the set-up is the first code cell
    assert code[1].metadata["tags"] == ["parameters"]
    # a version bump makes every stamped notebook stale until `fix` runs again
    bumped = CELL.replace(f'"{VERSION}"', '"99.0.0"')
    assert any("not the set-up cell" in p for p in notebooks.problems(path, bumped))
    notebooks.fix(path, bumped)
    assert notebooks.problems(path, bumped) == []
    assert len([c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]) == 3  # replaced, not added


def test_does_nothing_where_hcflow_lite_is_installed(tmp_path: Path) -> None:
    res = run_cell(CELL, tmp_path)
    assert state(res) == {"workdir": None, "in_colab": False}
    assert res.stdout.strip().startswith("STATE=") and res.stderr == ""  # not a word, no pip


def test_detects_colab_and_keeps_the_work_directory_on_drive(tmp_path: Path) -> None:
    # a stand-in for google.colab: drive.mount records its mount point
    stub = tmp_path / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub.parent / "__init__.py").write_text("")
    (stub / "__init__.py").write_text("")
    (stub / "drive.py").write_text("MOUNTED = []\ndef mount(path):\n    MOUNTED.append(path)\n")
    drive_dir = tmp_path / "drive" / "MyDrive" / "hcflow-book"
    # what a reader does in Colab's form: tick MOUNT_DRIVE (here also: a Drive folder under tmp)
    source = CELL.replace("MOUNT_DRIVE = False", "MOUNT_DRIVE = True").replace(
        '"/content/drive/MyDrive/hcflow-book"', repr(str(drive_dir)))
    assert source != CELL
    prelude = f"import sys\nsys.path.insert(0, {str(tmp_path / 'stub')!r})\nimport google.colab\n"
    res = run_cell(source + "\nfrom google.colab import drive\nprint('MOUNTED', drive.MOUNTED)\n", tmp_path,
                   env={"HCFLOW_WORKDIR": "/content/elsewhere"}, prelude=prelude)
    assert state(res) == {"workdir": str(drive_dir), "in_colab": True}  # Colab found by its module
    assert drive_dir.is_dir()
    assert "MOUNTED ['/content/drive']" in res.stdout
    assert f"work directory on Google Drive: {drive_dir}" in res.stdout
    assert "installing" not in res.stdout  # hcflow_lite is there: nothing to install


def test_mount_drive_outside_colab_is_explained_not_ignored(tmp_path: Path) -> None:
    res = run_cell(CELL.replace("MOUNT_DRIVE = False", "MOUNT_DRIVE = True"), tmp_path, env={"HCFLOW_WORKDIR": str(tmp_path)})
    assert state(res) == {"workdir": str(tmp_path), "in_colab": False}
    assert "MOUNT_DRIVE applies on Colab only" in res.stdout


def test_forced_colab_without_gpu_gives_the_runtime_hint(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()  # a PATH without nvidia-smi: a runtime with no GPU
    res = run_cell(CELL, tmp_path, env={"HCFLOW_FORCE_COLAB": "1", "PATH": str(tmp_path / "bin")})
    assert state(res)["in_colab"] is True
    assert "installing" not in res.stdout
    assert "Runtime > Change runtime type > GPU" in res.stdout


def test_a_different_installed_version_is_reported(tmp_path: Path) -> None:
    installed = importlib.metadata.version("hcflow-lite")  # the editable install of ci/setup.sh
    res = run_cell(CELL.replace(f'HCFLOW_LITE_VERSION = "{VERSION}"', 'HCFLOW_LITE_VERSION = "99.0.0"'), tmp_path)
    assert state(res)["in_colab"] is False
    assert f"note: hcflow_lite {installed} is installed; this book was built with 99.0.0" in res.stdout
