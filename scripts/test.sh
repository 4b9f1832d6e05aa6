#!/usr/bin/env bash
# Set up everything and run every test: core, plugins, example plugin, web UI unit and
# end-to-end tests. As root it installs the Debian packages the real components need.
# Extra args go to pytest (e.g. scripts/test.sh -k storage).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash scripts/install-system-deps.sh; fi
bash scripts/bootstrap.sh
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ $# -eq 0 ] && [ -d webui/node_modules ]; then
  (cd webui && npm test --silent) || status=$?
fi
exit $status
