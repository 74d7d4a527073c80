#!/usr/bin/env bash
# Install everything (into .venv) and build the book: _build/html/index.html.
# The notebooks run with HCFLOW_PROFILE (default: lite, what the published book shows);
# executed notebooks are cached in _build/.jupyter_cache (one folder per profile and state of
# hcflow_lite and the pins), so a rebuild only re-runs the notebooks whose code changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/ci/setup.sh"
cd "$ROOT"
export HCFLOW_PROFILE="${HCFLOW_PROFILE:-lite}"
# no MPLBACKEND: the kernels must use matplotlib's inline backend, or every plt.show() figure
# would be missing from the pages (book/_ext/hcflow_book.py warns about it)
unset MPLBACKEND
echo "==> building the book with profile=$HCFLOW_PROFILE (cache: _build/.jupyter_cache/$HCFLOW_PROFILE-*)"
jupyter-book build . -W -n --keep-going "$@"
echo "==> open $ROOT/_build/html/index.html"
