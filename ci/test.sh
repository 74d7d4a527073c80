#!/usr/bin/env bash
# Run every test: lint, the notebook checks, the unit/parity/notebook tests (pytest), and a
# smoke build of the book with warnings as errors.  Installs into .venv first if needed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/ci/setup.sh"
cd "$ROOT"
start=$(date +%s)
step() { echo; echo "==> $* ($(( $(date +%s) - start )) s)"; }

step "ruff"
ruff check .

step "GitHub workflows (actionlint, with shellcheck on their shell steps)"
actionlint -no-color

step "pytest (unit, parity, notebooks in the smoke profile, release, set-up cell, book checker)"
# two workers with one thread each: torch's default of one thread per core in each worker
# oversubscribes 2 cores and makes everything ~10x slower.
export HCFLOW_PROFILE=smoke MPLBACKEND=Agg PYTHONHASHSEED=0
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m pytest -n "${HCFLOW_TEST_WORKERS:-2}" --dist loadfile -q --durations=10 "$@"
python ci/report_times.py || true

step "book build (smoke profile, warnings are errors)"
out="$(mktemp -d)"
# (without MPLBACKEND, so that the kernels draw figures inline as in the published book)
env -u MPLBACKEND jupyter-book build . --path-output "$out" -W -n --keep-going --quiet
test -f "$out/_build/html/index.html"

step "the built book in headless Chromium (math typeset, figures, widgets, Colab links, no errors)"
python ci/check_book_html.py --browser "$out/_build/html"

step "all tests passed"
