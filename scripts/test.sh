#!/usr/bin/env bash
# Set up everything and run every test: the web UI's unit tests, then core, plugins, example
# plugin, end-to-end and browser tests (pytest). As root it installs the Debian packages the real
# components need. Extra args go to pytest (e.g. scripts/test.sh -k storage).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash scripts/install-system-deps.sh; fi
bash scripts/bootstrap.sh
status=0
if [ $# -eq 0 ] && [ -d webui/node_modules ]; then
  (cd webui && npm test --silent) || status=$?
fi
.venv/bin/python -m pytest "$@" || status=$?
exit $status
