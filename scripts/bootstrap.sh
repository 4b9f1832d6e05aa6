#!/usr/bin/env bash
# Create .venv with the core and every bundled plugin (editable), and build the web UI when Node.js
# is present. Idempotent; used by scripts/run.sh and scripts/test.sh. The example plugin
# (examples/hello-plugin) is installed only for tests: `bootstrap.sh --tests` (scripts/test.sh and
# scripts/integration-test.sh pass it), so a normal install shows no "Hello" page.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
targets=(-e ".[test]")
for p in plugins/*/; do
  [ -f "$p/pyproject.toml" ] || continue
  if grep -q '^test *=' "$p/pyproject.toml"; then targets+=(-e "${p%/}[test]"); else targets+=(-e "${p%/}"); fi
done
if [ "${1:-}" = --tests ]; then targets+=(-e examples/hello-plugin); fi
log=.venv/pip-install.log
if ! .venv/bin/python -m pip install -q "${targets[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
node_ok() {  # Vite 8 needs Node.js >= 20.19 (Debian 12's own nodejs is 18: use NodeSource's)
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'
}
if [ -f webui/package.json ] && ! node_ok; then
  echo "bootstrap: Node.js >= 20.19 with npm not found: the web UI is not built" >&2
  [ "${CI:-}" = true ] && exit 1
fi
if [ -f webui/package.json ] && node_ok; then
  (cd webui && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } \
     && npm run --silent build >/dev/null)
fi
echo "bootstrap: .venv ready ($(.venv/bin/sigmavault plugins 2>/dev/null | grep -c ' loaded ') plugins loaded)"
