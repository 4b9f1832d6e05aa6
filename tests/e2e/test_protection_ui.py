"""The Data protection page in real headless Chromium (``webui/e2e/protection.mjs``) against a real
``sigmavault serve``: a snapshot task created through the dialog's pickers, listed with its next
run, run now and found in its history."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from sigmavault.testing import ADMIN_PASSWORD, Daemon, api_call, require, require_tool

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "webui"
CHROMIUM = "/usr/bin/chromium"


def _ensure_ui() -> None:
    require_tool("node", "npm")
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} (Debian package chromium) is not installed")
    if not (WEBUI / "node_modules" / "playwright-core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEBUI,
                       check=True, timeout=600)
    if not (WEBUI / "dist" / "index.html").is_file():
        subprocess.run(["npm", "run", "build"], cwd=WEBUI, check=True, timeout=600,
                       capture_output=True)


async def _prepare(d: Daemon) -> None:
    async with d.session() as s:
        await api_call(s, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
        await api_call(s, "POST", "/storage/pools/tank/volumes", 201, json={"name": "data"})


def test_snapshot_task_through_the_ui(tmp_path: Path) -> None:
    _ensure_ui()
    d = Daemon(tmp_path / "data", config=f'ui_dir = "{WEBUI / "dist"}"\n')
    d.start(timeout=30)
    try:
        asyncio.run(_prepare(d))
        env = {**os.environ, "SV_URL": f"{d.url}/", "SV_USER": "admin", "SV_PASS": ADMIN_PASSWORD,
               "SV_POOL": "tank", "SV_CHROMIUM": CHROMIUM,
               "SV_ARTIFACTS": str(ROOT / "test-artifacts" / "protection")}
        proc = subprocess.run(["node", "e2e/protection.mjs"], cwd=WEBUI, env=env,
                              capture_output=True, text=True, timeout=300)
        lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
        assert lines, f"no result (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert lines[-1]["status"] == "passed", lines[-1]["detail"]
    finally:
        d.stop()
