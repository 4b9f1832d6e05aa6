#!/usr/bin/env bash
# Set up everything and run every test: the web UI's unit tests, the type checker (mypy), then
# core, plugins, example plugin and browser tests (pytest), then the end-to-end suite
# (scripts/integration-test.sh); the Ceph suites run alongside all of it. As
# root it installs the Debian packages the real components need. Extra args go to one pytest run
# over everything instead (e.g. scripts/test.sh -k storage).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash scripts/install-system-deps.sh; fi
bash scripts/bootstrap.sh --tests
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
# The Ceph suites run their own clusters (daemons, ports, ceph-fuse mounts under their tmp dirs) and
# share nothing with the others, but spend minutes waiting on Ceph: they run alongside the rest.
ceph_log=$(mktemp)
ceph_suites=(plugins/ceph/tests tests/integration/test_ceph_mesh.py)
.venv/bin/python -m pytest "${ceph_suites[@]}" --durations=10 >"$ceph_log" 2>&1 &
ceph_pid=$!
if [ -d webui/node_modules ]; then
  (cd webui && npm test --silent) || status=$?
fi
bash scripts/typecheck.sh || status=$?
.venv/bin/python -m pytest --ignore=tests/integration --ignore=plugins/ceph/tests --durations=15 \
  || status=$?
SIGMAVAULT_SKIP_SYSTEM_DEPS=1 SIGMAVAULT_SKIP_BOOTSTRAP=1 bash scripts/integration-test.sh \
  --ignore=tests/integration/test_ceph_mesh.py --durations=10 || status=$?
ceph_status=0
wait "$ceph_pid" || ceph_status=$?
echo "=== Ceph suites (${ceph_suites[*]}, run alongside) ==="
cat "$ceph_log"
rm -f "$ceph_log"
[ "$ceph_status" = 0 ] || status=$ceph_status
exit $status
