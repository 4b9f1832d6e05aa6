#!/usr/bin/env bash
# Build wheels of the core and every bundled plugin into dist/ (or $1).
# Then: pip install --find-links dist 'sigmavault[all]'   (or [storage], [system] ...)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-dist}")
mkdir -p "$out"
python=${PYTHON:-.venv/bin/python}
"$python" -m pip wheel -q --no-deps -w "$out" . plugins/*/ >/dev/null
ls "$out"/*.whl
