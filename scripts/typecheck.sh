#!/usr/bin/env bash
# Type-check the core, the hook specifications and every bundled plugin with mypy (settings in
# pyproject.toml [tool.mypy]). The core's package directory is `core/` and its hookspecs live in
# `hookspecs/`, so mypy gets a `sigmavault` package made of links to both.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/sigmavault"
for f in core/*; do ln -s "$top/$f" "$tree/sigmavault/"; done
ln -s "$top/hookspecs" "$tree/sigmavault/hookspecs"
packages=(-p sigmavault)
path=$tree
for p in plugins/*/; do
  for pkg in "$p"sigmavault_*/; do
    [ -f "$pkg/__init__.py" ] || continue
    packages+=(-p "$(basename "$pkg")")
    path+=":$top/${p%/}"
  done
done
cd "$tree"
MYPYPATH=$path exec "$top/.venv/bin/python" -m mypy --config-file "$top/pyproject.toml" \
  --python-executable "$top/.venv/bin/python" --cache-dir "$top/.mypy_cache" "${packages[@]}" "$@"
