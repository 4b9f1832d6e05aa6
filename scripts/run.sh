#!/usr/bin/env bash
# Set up everything, then run the daemon with the web UI on embedded defaults
# (http://127.0.0.1:12080/, SQLite and the dir storage backend in ./var). Extra args go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash scripts/install-system-deps.sh; fi
bash scripts/bootstrap.sh
exec .venv/bin/sigmavault serve "$@"
