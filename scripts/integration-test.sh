#!/usr/bin/env bash
# End-to-end suite (tests/integration): real daemons with every bundled plugin on temporary data
# dirs and real backends — dir, btrfs on loop devices, ZFS through zfs-fuse, PhantomMesh nodes in
# network namespaces — plus fault injection (kill -9 mid-job, hanging tools, a full disk),
# schemathesis fuzzing and the endpoint-docs check. Each test's fixtures tear down the daemons,
# loop devices, mounts, pools and namespaces they made. Needs root for the loop-device, ZFS and
# namespace tests (they skip locally without it and fail under CI=true).
# Extra arguments go to pytest, e.g.  scripts/integration-test.sh -k 'not fuzz'
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && [ "${SIGMAVAULT_SKIP_SYSTEM_DEPS:-}" != 1 ]; then
  bash scripts/install-system-deps.sh
fi
if [ "${SIGMAVAULT_SKIP_BOOTSTRAP:-}" != 1 ]; then
  bash scripts/bootstrap.sh --tests
fi
exec .venv/bin/python -m pytest tests/integration -q "$@"
