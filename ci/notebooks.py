"""Keep the book's notebooks in shape.

    python ci/notebooks.py check    # fail if a notebook has outputs, lacks a `parameters` cell,
                                    # or does not start with the set-up cell (book/setup_cell.py)
    python ci/notebooks.py fix      # strip outputs and (re)write the set-up cell in every notebook
    python ci/notebooks.py cell     # print the set-up cell as it is stamped into the notebooks

Notebooks are those listed in _toc.yml plus any other .ipynb under book/.  The set-up cell is
book/setup_cell.py with the version of hcflow_lite (ci/version.py) written in, so bumping the
version only needs `fix`; `check` (run by tests/test_notebooks.py) catches a notebook left behind.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from version import read_version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VERSION_PLACEHOLDER = "@HCFLOW_LITE_VERSION@"
SETUP_TAG = "setup"
# hide-input: the rendered book shows the cell folded ("show code cell source"); remove-output: its
# messages (an install on Colab) never reach the book.
SETUP_TAGS = ["setup", "hide-input", "remove-output"]


def setup_cell_source(root: Path = ROOT) -> str:
    """book/setup_cell.py with the package version written in (what every notebook starts with)."""
    template = (root / "book" / "setup_cell.py").read_text().strip()
    if VERSION_PLACEHOLDER not in template:
        raise ValueError(f"book/setup_cell.py must contain the placeholder {VERSION_PLACEHOLDER!r}")
    return template.replace(VERSION_PLACEHOLDER, read_version(root))


def toc_files(root: Path = ROOT) -> list[str]:
    """Every file of _toc.yml (root, chapters, sections at any depth), without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    walk(toc.get("sections", []))
    return files


def notebooks(root: Path = ROOT) -> list[Path]:
    listed = {root / f"{f}.ipynb" for f in toc_files(root)}
    found = {p for p in (root / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    return sorted(p for p in listed | found if p.is_file())


def first_code_cell(nb: nbformat.NotebookNode):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def problems(path: Path, setup: str | None = None) -> list[str]:
    setup = setup_cell_source() if setup is None else setup
    nb = nbformat.read(path, as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            out.append(f"cell {i} has outputs (run `python ci/notebooks.py fix`)")
            break
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"):
        out.append("no code cell tagged `parameters`")
    first = first_code_cell(nb)
    if first is None or first.source.strip() != setup:
        out.append("the first code cell is not the set-up cell of book/setup_cell.py (run `python ci/notebooks.py fix`)")
    elif sorted(first.metadata.get("tags", [])) != sorted(SETUP_TAGS):
        out.append(f"the set-up cell must be tagged {SETUP_TAGS} (run `python ci/notebooks.py fix`)")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        out.append("kernelspec must be python3")
    return out


def fix(path: Path, setup: str | None = None) -> None:
    setup = setup_cell_source() if setup is None else setup
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    first = first_code_cell(nb)
    if first is not None and SETUP_TAG in first.metadata.get("tags", []):
        first.source = setup
        first.metadata["tags"] = list(SETUP_TAGS)
    else:
        cell = nbformat.v4.new_code_cell(setup, metadata={"tags": list(SETUP_TAGS)})
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(index, cell)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nbformat.write(nb, path)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "cell":
        print(setup_cell_source())
        return 0
    if cmd not in ("check", "fix"):
        print(__doc__)
        return 2
    paths = [Path(a).resolve() for a in argv[2:]] or notebooks()
    setup = setup_cell_source()
    if cmd == "fix":
        for p in paths:
            fix(p, setup)
        print(f"fixed {len(paths)} notebooks")
        return 0
    bad = 0
    for p in paths:
        for msg in problems(p, setup):
            print(f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}: {msg}")
            bad += 1
    print(f"checked {len(paths)} notebooks: {'ok' if not bad else f'{bad} problems'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
