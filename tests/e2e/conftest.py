"""What the browser tests share: the built UI, a daemon serving it, and the node runner.

The scenarios run in Debian's ``/usr/bin/chromium`` through ``playwright-core`` from
``webui/e2e/*.mjs``; each prints one JSON line per step (``{"name", "status", "detail"}``).
Test modules use ``ensure_webui()`` (install and build the UI when needed), ``ui_daemon()`` (a real
``sigmavault serve`` with that UI), ``ui_env()`` (the runner's environment: URL, admin sign-in,
browser) and ``run_node()`` (run a script, collect its steps by name).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sigmavault.testing import ADMIN_PASSWORD, Daemon, require, require_tool

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "webui"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# the runner's own packages: a checkout whose node_modules predates one of them is installed again
NODE_DEPS = ("playwright-core", "axe-core")


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for top in paths if top.exists()
                for p in ([top] if top.is_file() else top.rglob("*"))), default=0.0)


def ensure_webui() -> None:
    """node, npm and chromium present; the UI's packages installed and ``dist/`` built from the
    current sources (built again when a source is newer than it)."""
    require_tool("node", "npm")
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} (Debian package chromium) is not installed")
    if not all((WEBUI / "node_modules" / dep).is_dir() for dep in NODE_DEPS):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEBUI,
                       check=True, timeout=600)
    index = WEBUI / "dist" / "index.html"
    sources = [WEBUI / "src", WEBUI / "index.html", WEBUI / "vite.config.ts", WEBUI / "package.json"]
    if not index.is_file() or _newest(sources) > index.stat().st_mtime:
        subprocess.run(["npm", "run", "build"], cwd=WEBUI, check=True, timeout=600,
                       capture_output=True)



@contextmanager
def ui_daemon(base: Path, config: str = "") -> Iterator[Daemon]:
    """``sigmavault serve`` on a free port serving the built UI; ``config`` is appended TOML."""
    daemon = Daemon(base / "data", config=f'ui_dir = "{WEBUI / "dist"}"\n{config}')
    daemon.start(timeout=30)
    try:
        yield daemon
    finally:
        daemon.stop()


def ui_env(url: str, **extra: str) -> dict[str, str]:
    """The runner's environment: where the UI is, the admin's sign-in, the browser; plus SV_* extras."""
    return {**os.environ, "SV_URL": url, "SV_USER": "admin", "SV_PASS": ADMIN_PASSWORD,
            "SV_CHROMIUM": CHROMIUM, **extra}


def run_node(script: str, env: dict[str, str], timeout: float = 420) -> dict[str, dict[str, Any]]:
    """Run ``webui/e2e/<script>`` and return its steps by name (the runner's output if none)."""
    proc = subprocess.run(["node", f"e2e/{script}"], cwd=WEBUI, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    steps = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            steps[item["name"]] = item
    if not steps:
        raise AssertionError(f"{script} produced no results (exit {proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return steps
