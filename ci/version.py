"""The version of hcflow_lite, read from its one home, and its CHANGELOG entry.

    python ci/version.py            # prints the version, e.g. 0.1.0
    python ci/version.py --notes    # prints the CHANGELOG.md section of that version (release notes)

The version lives only in ``hcflow_lite/__init__.py`` (``__version__``).  ``pyproject.toml`` reads
it (setuptools ``attr:``), ``ci/notebooks.py`` stamps it into the set-up cell of every notebook,
and the book's Sphinx extension (``book/_ext/hcflow_book.py``) shows it.  This module reads the
file with ``ast`` instead of importing the package, so it needs neither torch nor an install.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_version(root: Path = ROOT) -> str:
    """``__version__`` of ``hcflow_lite/__init__.py`` (a literal string; anything else is an error)."""
    path = root / "hcflow_lite" / "__init__.py"
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
            raise ValueError(f"{path}: __version__ must be a string literal")
    raise ValueError(f"{path}: no __version__ = '...' assignment")


def changelog_section(version: str, root: Path = ROOT) -> str:
    """The body of the ``## [version]`` section of CHANGELOG.md (empty string if there is none)."""
    text = (root / "CHANGELOG.md").read_text()
    match = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1).strip() if match else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", action="store_true", help="print the CHANGELOG.md section of the version")
    args = parser.parse_args(argv)
    version = read_version()
    if not args.notes:
        print(version)
        return 0
    notes = changelog_section(version)
    if not notes:
        print(f"error: CHANGELOG.md has no '## [{version}]' section", file=sys.stderr)
        return 1
    print(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
