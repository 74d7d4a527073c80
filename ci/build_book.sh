#!/usr/bin/env bash
# Install everything (into .venv) and build the book: _build/html/index.html.
# The notebooks run with HCFLOW_PROFILE (default: lite, what the published book shows);
# executed notebooks are cached in _build/.jupyter_cache, so a rebuild only re-runs what changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/ci/setup.sh"
cd "$ROOT"
export HCFLOW_PROFILE="${HCFLOW_PROFILE:-lite}" MPLBACKEND=Agg
echo "==> building the book with profile=$HCFLOW_PROFILE"
jupyter-book build . -W -n --keep-going "$@"
echo "==> open $ROOT/_build/html/index.html"
