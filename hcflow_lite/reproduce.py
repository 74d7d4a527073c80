"""Batch reproduction: run a grid of the book's notebooks × parameters with papermill (book part II).

    python -m hcflow_lite.reproduce --list                   # the shipped grids
    python -m hcflow_lite.reproduce part2-smoke              # every part II notebook, smoke profile
    python -m hcflow_lite.reproduce ablations-lite           # chapter 12's lite study → book/_data/
    python -m hcflow_lite.reproduce my_grid.yaml --run-dir runs/mine --set profile=lite
    python -m hcflow_lite reproduce part2-smoke              # the same, as a sub-command

Run it from a clone of the book's repository (the notebooks are not part of the installed
package) or pass ``--root``.

Grid files (YAML; the shipped ones are in ``hcflow_lite/grids/``)::

    description: what the grid reproduces
    notebooks:                  # glob patterns relative to the repository root
      - book/part2/*.ipynb
    in_toc: true                # keep only notebooks listed in _toc.yml (default), in its order
    parameters:                 # passed to every run as they are (lists too)
      profile: smoke
    grid:                       # optional: one axis per key; the runs are the product
      table: [2, 4]
    runs:                       # optional: explicit runs instead of notebooks × grid
      - {notebook: book/part2/11_evaluation.ipynb, parameters: {table: 4}}
    timeout: 900                # seconds per cell (papermill's execution timeout)

String parameters may contain ``{root}`` (the repository root), ``{run_dir}`` and
``{workdir}``.  Unless a grid sets ``workdir``, every run gets its own
``<run_dir>/<run>/work``.  Notebooks run with the notebook's folder as working directory, as in
the book build and CI.

Result convention: a notebook reports its results by writing ``results.json`` into its
``workdir`` with :func:`write_results` (a JSON object whose ``rows`` is a list of flat dicts,
one per line of its table; anything else may come along).  The runner collects them into
``<run_dir>/results.json`` and ``results.md`` (one table per notebook), next to the executed
notebooks (``<run_dir>/<run>/executed.ipynb``) and each run's ``status.json``.

A run whose ``status.json`` says it finished with the same notebook (SHA-256) and parameters is
skipped (``--force`` runs everything again); a failed run is run again.  The exit status is 0
when every run succeeded and 1 otherwise, naming the failed notebooks.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import itertools
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "GRID_DIR",
    "Grid",
    "Run",
    "RunRecord",
    "add_arguments",
    "available_grids",
    "expand_runs",
    "find_root",
    "format_results",
    "load_grid",
    "main",
    "provenance",
    "run",
    "run_grid",
    "write_results",
]

GRID_DIR = Path(__file__).resolve().parent / "grids"
RESULTS_FILE = "results.json"
RESULTS_FORMAT = "hcflow_lite.results/1"
_GRID_KEYS = ("description", "notebooks", "in_toc", "parameters", "grid", "runs", "timeout", "kernel")


# ------------------------------------------------------------------------------------- the convention
def write_results(workdir: str | Path, rows: Sequence[Mapping[str, Any]], **extra: Any) -> Path:
    """Report a notebook's results to the runner: ``<workdir>/results.json`` = ``{"rows": rows, **extra}``.

    ``rows`` are flat dicts (numbers and strings), one per line of the notebook's table; ``extra``
    may hold anything JSON can (NaN and infinity are written as ``null`` and ``"inf"``).
    """
    from .evaluate import _jsonable

    rows = [dict(r) for r in rows]
    for r in rows:
        nested = [k for k, v in r.items() if isinstance(v, (dict, list, tuple))]
        if nested:
            raise ValueError(f"result rows must be flat; {nested} hold nested values (put those into extra)")
    path = Path(workdir) / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable({"format": RESULTS_FORMAT, "rows": rows, **extra}), indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(command: str | None = None) -> dict[str, Any]:
    """What a results file records about the run that wrote it: command, date, commit, machine.

    ``command`` defaults to ``$HCFLOW_REPRODUCE_COMMAND``, which the runner sets for its kernels.
    """
    from . import __version__

    try:
        import torch

        torch_info = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_info = {}
    return {
        "command": command or os.environ.get("HCFLOW_REPRODUCE_COMMAND") or "not recorded (called from Python, not through hcflow_lite.reproduce)",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "hcflow_lite": __version__,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            **torch_info,
        },
    }


# ------------------------------------------------------------------------------------- grids
@dataclass
class Grid:
    """A parsed grid file (see the module docstring)."""

    name: str
    description: str = ""
    notebooks: list[str] = field(default_factory=list)
    in_toc: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    timeout: int | None = 1800
    kernel: str = "python3"


@dataclass(frozen=True)
class Run:
    """One notebook with one set of parameters."""

    notebook: Path
    parameters: dict[str, Any]
    slug: str


@dataclass
class RunRecord:
    """What happened to a run."""

    run: Run
    status: str  #: ``ok``, ``failed`` or ``done`` (skipped: finished before)
    seconds: float = 0.0
    error: str | None = None
    results: dict[str, Any] | None = None


def available_grids() -> list[str]:
    """Names of the grids shipped in ``hcflow_lite/grids``."""
    return sorted(p.stem for p in GRID_DIR.glob("*.yaml"))


def load_grid(name_or_path: str | Path) -> Grid:
    """Read a shipped grid by name or a grid file by path; unknown keys and bad types are errors."""
    p = Path(name_or_path)
    if not p.is_file():
        shipped = GRID_DIR / f"{name_or_path}.yaml"
        if not shipped.is_file():
            raise FileNotFoundError(f"no grid file {name_or_path!r} and no shipped grid of that name "
                                    f"(shipped: {', '.join(available_grids())})")
        p = shipped
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"grid {p} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"grid {p} must be a YAML mapping")
    unknown = sorted(set(raw) - set(_GRID_KEYS))
    if unknown:
        raise ValueError(f"grid {p.name}: unknown keys {unknown} (known: {', '.join(_GRID_KEYS)})")
    g = Grid(name=p.stem, **{k: v for k, v in raw.items()})
    if isinstance(g.notebooks, str):
        g.notebooks = [g.notebooks]
    for key, kind in (("notebooks", list), ("parameters", dict), ("grid", dict), ("runs", list)):
        if not isinstance(getattr(g, key), kind):
            raise ValueError(f"grid {p.name}: {key} must be a {'list' if kind is list else 'mapping'}")
    for key, values in g.grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid {p.name}: grid.{key} must be a non-empty list (one axis of the grid)")
    for i, r in enumerate(g.runs):
        if not isinstance(r, dict) or "notebook" not in r or set(r) - {"notebook", "parameters"}:
            raise ValueError(f"grid {p.name}: runs[{i}] must be {{notebook: PATH, parameters: {{...}}}}")
    if not g.notebooks and not g.runs:
        raise ValueError(f"grid {p.name}: give notebooks (patterns) or runs")
    return g


def find_root(start: str | Path | None = None) -> Path:
    """The repository root: the nearest folder above ``start`` (default: the working directory) with ``_toc.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parents[1]):
        if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
            return folder
    raise FileNotFoundError(
        "no book repository found (a folder with _toc.yml and book/) above the working directory: the notebooks "
        "are not part of the installed package; run from a clone of the book's repository or pass --root"
    )


def toc_notebooks(root: Path) -> list[Path]:
    """Every notebook listed in ``_toc.yml``, in its order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text()) or {}
    files: list[str] = [toc["root"]] if "root" in toc else []

    def walk(entries: Sequence[Mapping[str, Any]]) -> None:
        for e in entries:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").is_file()]


def _slug(values: Mapping[str, Any]) -> str:
    text = "_".join(f"{k}-{v}" for k, v in values.items())
    text = re.sub(r"[^A-Za-z0-9.=+-]+", "-", text).strip("-")
    if len(text) > 60:
        text = text[:48] + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return text


def expand_runs(grid: Grid, root: Path) -> list[Run]:
    """The runs of ``grid``: its notebooks (patterns, filtered by the table of contents) × the grid's axes."""
    toc = toc_notebooks(root) if grid.in_toc else []
    runs: list[Run] = []
    if grid.runs:
        pairs = [(root / r["notebook"], dict(r.get("parameters") or {})) for r in grid.runs]
        for nb, _ in pairs:
            if not nb.is_file():
                raise FileNotFoundError(f"grid {grid.name}: notebook {nb} not found")
    else:
        found: list[Path] = []
        for pattern in grid.notebooks:
            matches = sorted(p for p in root.glob(pattern) if p.suffix == ".ipynb" and ".ipynb_checkpoints" not in p.parts)
            found += [p for p in matches if p not in found]
        if grid.in_toc:
            found = [p for p in toc if p in found]
        if not found:
            raise FileNotFoundError(f"grid {grid.name}: no notebook matches {grid.notebooks} under {root}"
                                    + (" that is listed in _toc.yml" if grid.in_toc else ""))
        axes = list(grid.grid.items())
        combos = [dict(zip([k for k, _ in axes], values)) for values in itertools.product(*[v for _, v in axes])]
        pairs = [(nb, combo) for nb in found for combo in combos]
    seen: dict[str, int] = {}
    for nb, varying in pairs:
        slug = nb.stem + (f"/{_slug(varying)}" if varying else "")
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:
            slug += f"-{seen[slug]}"
        runs.append(Run(nb, {**grid.parameters, **varying}, slug))
    return runs


def _resolve(value: Any, subs: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in subs.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, list):
        return [_resolve(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, subs) for k, v in value.items()}
    return value


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _params_text(params: Mapping[str, Any], hide: Sequence[str] = ("workdir",)) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k not in hide) or "–"


def _error_text(e: BaseException) -> str:
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename is not None:
        cell = getattr(e, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (cell [{cell}])" if cell is not None else "")
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def run_grid(
    grid: Grid,
    run_dir: str | Path,
    root: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    cell_progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> list[RunRecord]:
    """Execute every run of ``grid`` (skipping finished ones); write the results table; return the records.

    One line per run goes to ``echo`` (default: printed, above the progress bar).
    """
    import papermill as pm

    root, run_dir = Path(root).resolve(), Path(run_dir).resolve()
    runs = expand_runs(grid, root)
    run_dir.mkdir(parents=True, exist_ok=True)
    records: list[RunRecord] = []
    bar: Any = runs
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(runs, desc=f"reproduce {grid.name}", unit="notebook")
    if echo is None:
        echo = print
        if progress:
            from tqdm.auto import tqdm

            echo = tqdm.write
    for r in bar:
        out = run_dir / r.slug
        workdir = out / "work"
        subs = {"root": str(root), "run_dir": str(run_dir), "workdir": str(workdir)}
        params = _resolve({**r.parameters}, subs)
        params.setdefault("workdir", str(workdir))
        workdir = Path(params["workdir"]) if Path(params["workdir"]).is_absolute() else r.notebook.parent / params["workdir"]
        run = Run(r.notebook, params, r.slug)
        status_file = out / "status.json"
        digest = _sha256(r.notebook)
        if progress and hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(r.slug)
        if not force and status_file.is_file():
            try:
                old = json.loads(status_file.read_text())
            except json.JSONDecodeError:
                old = {}
            if old.get("status") == "ok" and old.get("notebook_sha256") == digest and old.get("parameters") == params:
                records.append(RunRecord(run, "done", old.get("seconds", 0.0), None, _read_results(workdir)))
                echo(f"· {r.slug}: done before ({_params_text(params)}), skipped")
                continue
        out.mkdir(parents=True, exist_ok=True)
        (workdir / RESULTS_FILE).unlink(missing_ok=True)  # only what this execution writes counts
        start = time.perf_counter()
        error = None
        try:
            pm.execute_notebook(
                str(r.notebook), str(out / "executed.ipynb"), parameters=params, kernel_name=grid.kernel,
                cwd=str(r.notebook.parent), progress_bar=cell_progress, execution_timeout=grid.timeout,
            )
        except Exception as e:  # noqa: BLE001 - any failure of a run is reported, the grid goes on
            error = _error_text(e)
        seconds = round(time.perf_counter() - start, 1)
        status = "failed" if error else "ok"
        status_file.write_text(json.dumps({
            "status": status, "notebook": str(r.notebook.relative_to(root)) if r.notebook.is_relative_to(root) else str(r.notebook),
            "notebook_sha256": digest, "parameters": params, "seconds": seconds, "error": error,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }, indent=1, default=str) + "\n")
        records.append(RunRecord(run, status, seconds, error, _read_results(workdir) if not error else None))
        echo(f"{'✓' if not error else '✗'} {r.slug}: {status} in {seconds:.1f} s ({_params_text(params)})"
             + (f"\n    {error}" if error else ""))
    if progress and hasattr(bar, "close"):
        bar.close()
    _write_summary(grid, run_dir, root, records)
    return records


def _read_results(workdir: Path) -> dict[str, Any] | None:
    path = workdir / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {"error": f"{path} is not valid JSON"}
    return data if isinstance(data, dict) else {"error": f"{path} is not a JSON object"}


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return "–" if v is None else str(v).replace("|", "\\|")


def format_results(grid: Grid, records: Sequence[RunRecord], run_dir: Path) -> str:
    """The Markdown summary: one line per run, then one table per notebook of the rows it reported."""
    lines = [f"# Reproduction `{grid.name}`", "", grid.description.strip(), "",
             f"Run directory `{run_dir}`; {datetime.now(timezone.utc).isoformat(timespec='seconds')}.", "",
             "| notebook | parameters | status | seconds | result rows |", "|---|---|---|---|---|"]
    for rec in records:
        n = len((rec.results or {}).get("rows", []) or [])
        lines.append(f"| {rec.run.notebook.stem} | {_params_text(rec.run.parameters)} | {rec.status}"
                     + (f": {_cell(rec.error)}" if rec.error else "") + f" | {rec.seconds:.1f} | {n} |")
    by_nb: dict[str, list[RunRecord]] = {}
    for rec in records:
        by_nb.setdefault(rec.run.notebook.stem, []).append(rec)
    for stem, recs in by_nb.items():
        rows = [(rec, row) for rec in recs for row in (rec.results or {}).get("rows", []) or []]
        if not rows:
            continue
        keys = list(dict.fromkeys(k for _, row in rows for k in row))
        lines += ["", f"## {stem}", "", "| parameters | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
        for rec, row in rows:
            lines.append(f"| {_params_text(rec.run.parameters)} | " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _write_summary(grid: Grid, run_dir: Path, root: Path, records: Sequence[RunRecord]) -> None:
    data = {
        "format": "hcflow_lite.reproduce/1",
        "grid": {"name": grid.name, "description": grid.description, "notebooks": grid.notebooks,
                 "parameters": grid.parameters, "grid": grid.grid},
        "root": str(root),
        "runs": [{"notebook": str(rec.run.notebook.relative_to(root)) if rec.run.notebook.is_relative_to(root)
                  else str(rec.run.notebook), "slug": rec.run.slug, "parameters": rec.run.parameters,
                  "status": rec.status, "seconds": rec.seconds, "error": rec.error,
                  "executed": str(run_dir / rec.run.slug / "executed.ipynb"), "results": rec.results}
                 for rec in records],
        **provenance(),
    }
    (run_dir / "results.json").write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
    (run_dir / "results.md").write_text(format_results(grid, records, run_dir))


# ------------------------------------------------------------------------------------- command line
HELP = "run a grid of the book's notebooks × parameters with papermill (reproduce tables)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("grid", nargs="?", help="a shipped grid name (see --list) or a grid .yaml file")
    p.add_argument("--list", action="store_true", help="list the shipped grids and exit")
    p.add_argument("--run-dir", help="where executed notebooks and results go (default: runs/reproduce/<grid>)")
    p.add_argument("--root", help="the book repository (default: found above the working directory)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="set a parameter for every run (YAML value; replaces a grid axis of that name); repeatable")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="run only notebooks whose name matches this glob (e.g. '12_*'); repeatable")
    p.add_argument("--force", action="store_true", help="run again what finished before")
    p.add_argument("--dry-run", action="store_true", help="print the runs and exit")
    p.add_argument("--timeout", type=int, help="seconds per cell (overrides the grid's timeout)")
    p.add_argument("--cell-progress", action="store_true", help="show papermill's per-cell progress bar too")


def run(args: argparse.Namespace) -> int:
    if args.list:
        for name in available_grids():
            text = " ".join(load_grid(name).description.split())
            print(f"{name:16s} {text.split('. ')[0].rstrip('.')}.")
        return 0
    if not args.grid:
        print("error: give a grid name or file (see --list)", file=sys.stderr)
        return 2
    grid = load_grid(args.grid)
    for item in args.overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        grid.parameters[key.strip()] = yaml.safe_load(text) if text.strip() else None
        grid.grid.pop(key.strip(), None)
    if args.timeout:
        grid.timeout = args.timeout
    root = Path(args.root).resolve() if args.root else find_root()
    if args.only:
        selected = [r for r in expand_runs(grid, root) if any(fnmatch.fnmatch(r.notebook.name, pat) for pat in args.only)]
        if not selected:
            raise ValueError(f"--only {args.only} matches no notebook of grid {grid.name}")
        grid.runs = [{"notebook": str(r.notebook.relative_to(root)), "parameters": {k: v for k, v in r.parameters.items()
                      if k not in grid.parameters}} for r in selected]
    run_dir = Path(args.run_dir) if args.run_dir else root / "runs" / "reproduce" / grid.name
    if args.dry_run:
        for r in expand_runs(grid, root):
            print(f"{r.slug:40s} {r.notebook.relative_to(root)}  {_params_text(r.parameters)}")
        return 0
    previous = os.environ.get("HCFLOW_REPRODUCE_COMMAND")
    os.environ["HCFLOW_REPRODUCE_COMMAND"] = "python -m hcflow_lite.reproduce " + " ".join(
        shlex.quote(a) for a in getattr(args, "argv", None) or [args.grid])
    try:
        records = run_grid(grid, run_dir, root, force=args.force, cell_progress=args.cell_progress)
    finally:
        if previous is None:
            os.environ.pop("HCFLOW_REPRODUCE_COMMAND", None)
        else:
            os.environ["HCFLOW_REPRODUCE_COMMAND"] = previous
    failed = [rec for rec in records if rec.status == "failed"]
    done = sum(rec.status == "done" for rec in records)
    print(f"{len(records) - len(failed)} of {len(records)} runs succeeded ({done} done before); "
          f"results: {run_dir / 'results.md'}")
    if failed:
        print("failed notebooks:", file=sys.stderr)
        for rec in failed:
            print(f"  {rec.run.notebook.relative_to(root) if rec.run.notebook.is_relative_to(root) else rec.run.notebook} "
                  f"({_params_text(rec.run.parameters)}): {rec.error} — see {run_dir / rec.run.slug / 'executed.ipynb'}",
                  file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hcflow_lite.reproduce``: see the module docstring (also printed by ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m hcflow_lite.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return run(args)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
