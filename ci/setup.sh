#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install everything from the repo's
# own files: requirements.txt pinned by ci/constraints.txt, then hcflow_lite itself (editable,
# --no-deps so that pip never swaps the pinned torch), and the book's local web assets.  Sourced by ci/test.sh and
# ci/build_book.sh; idempotent (a stamp file skips the install when nothing changed).
#
#   HCFLOW_VENV   where the environment lives (default: .venv in the repository)
#   PYTHON        the interpreter used to create it (default: python3, must be ≥ 3.10)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${HCFLOW_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: $PY is missing or older than Python 3.10 (set PYTHON=/path/to/python3.1x)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.hcflow-installed"
want="$(cat requirements.txt ci/constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "==> installing requirements into $VENV (first time: a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt -c ci/constraints.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  echo "$want" > "$stamp"
fi
# MathJax and the ipywidgets HTML manager for the rendered book (book/_static/vendor, pinned npm
# packages checked by sha512; a no-op once in place; needs npm the first time)
"$VENV/bin/python" ci/web_assets.py
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
export PYTHONNOUSERSITE=1
