"""Keep the book's notebooks in shape.

    python ci/notebooks.py check    # fail if a notebook has outputs, lacks a `parameters` cell,
                                    # or does not start with the set-up cell (book/setup_cell.py)
    python ci/notebooks.py fix      # strip outputs and (re)write the set-up cell in every notebook

Notebooks are those listed in _toc.yml plus any other .ipynb under book/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SETUP_CELL = (ROOT / "book" / "setup_cell.py").read_text().strip()
SETUP_TAG = "setup"


def notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def first_code_cell(nb: nbformat.NotebookNode):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def problems(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            out.append(f"cell {i} has outputs (run `python ci/notebooks.py fix`)")
            break
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"):
        out.append("no code cell tagged `parameters`")
    first = first_code_cell(nb)
    if first is None or first.source.strip() != SETUP_CELL:
        out.append("the first code cell is not the set-up cell of book/setup_cell.py (run `python ci/notebooks.py fix`)")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        out.append("kernelspec must be python3")
    return out


def fix(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    first = first_code_cell(nb)
    tags = ["remove-output", SETUP_TAG]
    if first is not None and SETUP_TAG in first.metadata.get("tags", []):
        first.source = SETUP_CELL
    else:
        cell = nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": tags})
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(index, cell)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nbformat.write(nb, path)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    paths = [Path(a) for a in argv[2:]] or notebooks()
    if cmd == "fix":
        for p in paths:
            fix(p)
        print(f"fixed {len(paths)} notebooks")
        return 0
    bad = 0
    for p in paths:
        for msg in problems(p):
            print(f"{p.relative_to(ROOT)}: {msg}")
            bad += 1
    print(f"checked {len(paths)} notebooks: {'ok' if not bad else f'{bad} problems'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
