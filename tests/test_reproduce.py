"""Batch reproduction (python -m hcflow_lite.reproduce): grids, skipping, failures, the results table.

The mechanics run on two small stand-in notebooks in a throw-away book (seconds per run); one
test runs the shipped ``part2-smoke`` grid over every part II notebook of the book, as CI's
check that the whole part reproduces with one command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from hcflow_lite import reproduce
from hcflow_lite.reproduce import expand_runs, load_grid, main, write_results

ROOT = Path(__file__).resolve().parents[1]


def notebook(path: Path, body: str, params: str) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A book with two notebooks in its table of contents and one outside it."""
    root = tmp_path / "book_root"
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/b\n- file: book/a\n")
    (root / "book" / "intro.md").write_text("# intro\n")
    params = "profile = 'lite'\nworkdir = '_work'\nvalue = 0\ncounter = None\n"
    count = "from pathlib import Path\nwith open(counter, 'a') as f:\n    f.write(Path.cwd().name + '\\n')\n"
    notebook(root / "book" / "a.ipynb",
             count + "from hcflow_lite.reproduce import write_results\n"
             "write_results(workdir, [{'value': value, 'double': 2 * value, 'profile': profile}], note='a')\n", params)
    notebook(root / "book" / "b.ipynb", count + "if value == 2:\n    raise ValueError('two is bad')\n", params)
    notebook(root / "book" / "c.ipynb", "raise RuntimeError('not in the table of contents: never run')\n", params)
    grid = {"description": "test grid", "notebooks": ["book/*.ipynb"], "parameters": {"profile": "smoke",
            "counter": "{root}/count.txt"}, "grid": {"value": [1, 2]}, "timeout": 120}
    (root / "grid.yaml").write_text(yaml.safe_dump(grid))
    return root


def executions(root: Path) -> int:
    path = root / "count.txt"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_grid_runs_skips_and_reports(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = book / "runs"
    args = [str(book / "grid.yaml"), "--root", str(book), "--run-dir", str(run_dir)]
    assert main(args) == 1  # b with value=2 fails
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if "book/b.ipynb (" in x]
    assert "failed notebooks:" in err and "profile=smoke" in line and "value=2" in line
    assert "ValueError: two is bad" in line and "book/a.ipynb" not in err
    summary = json.loads((run_dir / "results.json").read_text())
    got = {(Path(r["notebook"]).name, r["parameters"]["value"]): r["status"] for r in summary["runs"]}
    assert got == {("b.ipynb", 1): "ok", ("b.ipynb", 2): "failed", ("a.ipynb", 1): "ok", ("a.ipynb", 2): "ok"}
    assert [Path(r["notebook"]).name for r in summary["runs"]] == ["b.ipynb"] * 2 + ["a.ipynb"] * 2  # toc order
    a1 = next(r for r in summary["runs"] if r["slug"] == "a/value-1")
    assert a1["results"]["rows"] == [{"value": 1, "double": 2, "profile": "smoke"}] and a1["results"]["note"] == "a"
    assert a1["parameters"]["workdir"] == str(run_dir / "a" / "value-1" / "work")
    executed = nbformat.read(run_dir / "a" / "value-1" / "executed.ipynb", 4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "value = 1" in injected[0].source
    assert executed.cells[-1].execution_count is not None and "results.json" in str(executed.cells[-1].outputs)
    md = (run_dir / "results.md").read_text()
    assert "profile=smoke" in md and "## a" in md and "| 2 | 4 | smoke |" in md
    assert executions(book) == 4  # c.ipynb, outside the toc, never ran

    # again: the three finished runs are skipped, the failed one runs again
    assert main(args) == 1
    assert executions(book) == 5
    out = capsys.readouterr().out
    assert out.count(": done before (") == 3 and "3 of 4 runs succeeded (3 done before)" in out

    # a changed notebook runs again; --force runs everything
    nb = nbformat.read(book / "book" / "a.ipynb", 4)
    nb.cells[1].source += "\n# changed"
    nbformat.write(nb, book / "book" / "a.ipynb")
    main(args)
    assert executions(book) == 5 + 1 + 2


def test_dry_run_only_and_overrides(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(book / "grid.yaml"), "--root", str(book), "--dry-run", "--only", "a*", "--set", "value=7"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "book/a.ipynb" in lines[0] and "value=7" in lines[0]
    assert executions(book) == 0


def test_bad_grids_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("notebooks: [x.ipynb]\nparams: {profile: smoke}\n")
    assert main([str(bad), "--root", str(ROOT), "--dry-run"]) == 2
    assert "unknown keys ['params']" in capsys.readouterr().err
    assert main(["no-such-grid"]) == 2
    assert "shipped:" in capsys.readouterr().err
    bad.write_text("notebooks: [book/nothing/*.ipynb]\n")
    assert main([str(bad), "--root", str(ROOT), "--dry-run"]) == 2
    assert "no notebook matches" in capsys.readouterr().err
    with pytest.raises(ValueError, match="flat"):
        write_results(tmp_path, [{"a": {"b": 1}}])


def test_help_documents_the_grid_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for needle in ("notebooks:", "parameters:", "grid:", "in_toc", "{root}", "results.json", "write_results", "--force"):
        assert needle in text


def test_shipped_grids_expand_over_the_book() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part2_toc = [ROOT / f"{c['file']}.ipynb" for p in toc["parts"] if p["caption"].startswith("Part II")
                 for c in p["chapters"] if c["file"].startswith("book/part2/")]
    part2 = sorted((ROOT / "book" / "part2").glob("*.ipynb"))  # every part II notebook, rendered or not
    assert set(part2_toc) <= set(part2) and len(part2) == 7
    assert [r.notebook for r in expand_runs(load_grid("part2-smoke"), ROOT)] == part2
    for name in reproduce.available_grids():
        runs = expand_runs(load_grid(name), ROOT)
        assert runs, name
        assert all(r.notebook.is_file() and "profile" in r.parameters for r in runs)
    (abl,) = expand_runs(load_grid("ablations-lite"), ROOT)
    assert abl.notebook.name == "12_ablations.ipynb" and abl.parameters["rerun"] is True


@pytest.mark.notebook
def test_part2_smoke_grid_reproduces(tmp_path: Path) -> None:
    """``python -m hcflow_lite.reproduce part2-smoke``: every part II notebook, exit status 0."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "hcflow_lite.reproduce", "part2-smoke", "--root", str(ROOT),
                          "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    expected = [r.notebook.relative_to(ROOT).as_posix() for r in expand_runs(load_grid("part2-smoke"), ROOT)]
    assert [r["notebook"] for r in summary["runs"]] == expected
    assert all(r["status"] == "ok" for r in summary["runs"])
    reported = {Path(r["notebook"]).stem: r["results"] for r in summary["runs"]}
    for stem in ("11_evaluation", "12_ablations", "13_temperature_explorer"):
        assert reported[stem] and reported[stem]["rows"], stem
    assert summary["command"].startswith("python -m hcflow_lite.reproduce part2-smoke")
