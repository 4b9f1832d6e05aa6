#!/usr/bin/env bash
# End-to-end suite: real daemons with every bundled plugin on temporary data dirs, real backends
# (dir, btrfs on loop devices, SMART/tool faults), fault injection, schemathesis fuzzing and the
# endpoint-docs check. Each test's fixtures tear down the daemons, loop devices and mounts they
# made. Needs root for the loop-device tests (they skip locally without it and fail under CI=true).
# Extra arguments go to pytest, e.g.  scripts/integration-test.sh -k 'not fuzz'
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && [ "${SIGMAVAULT_SKIP_SYSTEM_DEPS:-}" != 1 ]; then
  bash scripts/install-system-deps.sh
fi
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest tests/integration -q "$@"
