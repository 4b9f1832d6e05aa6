"""End-to-end tests of the web UI in real headless Chromium against a real ``sigmavault serve``.

The scenarios live in ``webui/e2e/run.mjs`` (Playwright via ``playwright-core``, Debian's
``/usr/bin/chromium``); this module starts a daemon on a free port with a temporary data dir,
runs them once, and turns each scenario into a test. A scenario whose plugin is not installed is
skipped locally and fails under CI (it needs that plugin's API). Screenshots go to
``test-artifacts/webui/``.

A second run goes through a reverse proxy that serves the daemon under ``/nas/`` (HTTP and
WebSocket), proving the UI works under a sub-path.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
from aiohttp import web

from sigmavault.testing import ADMIN_PASSWORD, Daemon, free_port, require, require_tool

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "webui"
ARTIFACTS = ROOT / "test-artifacts" / "webui"
CHROMIUM = "/usr/bin/chromium"
SCENARIOS = ["login", "metrics_live", "storage_pool_snapshot", "agent_task", "compression_job",
             "encryption_lock_unlock", "encrypt_decrypt_picked", "errors_on_fields",
             "page_screenshots", "readonly_user", "no_page_errors"]


def _ensure_ui() -> None:
    require_tool("node", "npm")
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} (Debian package chromium) is not installed")
    if not (WEBUI / "node_modules" / "playwright-core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEBUI,
                       check=True, timeout=600)
    if not (WEBUI / "dist" / "index.html").is_file():
        subprocess.run(["npm", "run", "build"], cwd=WEBUI, check=True, timeout=600,
                       capture_output=True)


def _run_scenarios(url: str, artifacts: Path, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "SV_URL": url, "SV_USER": "admin", "SV_PASS": ADMIN_PASSWORD,
           "SV_ARTIFACTS": str(artifacts), "SV_CHROMIUM": CHROMIUM, "SV_SCENARIOS": ",".join(only or [])}
    proc = subprocess.run(["node", "e2e/run.mjs"], cwd=WEBUI, env=env, capture_output=True,
                          text=True, timeout=420)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            results[item["name"]] = item
    if not results:
        raise AssertionError(f"e2e runner produced no results (exit {proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return results


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    _ensure_ui()
    base = tmp_path_factory.mktemp("webui-e2e")
    d = Daemon(base / "data", config=f'ui_dir = "{WEBUI / "dist"}"\n')
    d.start(timeout=30)
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def results(daemon: Daemon) -> dict[str, dict[str, Any]]:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    return _run_scenarios(f"{daemon.url}/", ARTIFACTS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(results: dict[str, dict[str, Any]], name: str) -> None:
    """One browser scenario: passed, or (outside CI) skipped because its plugin is not installed."""
    item = results.get(name)
    assert item is not None, f"scenario {name} did not run (an earlier step failed): {results}"
    if item["status"] == "skipped":
        require(False, item["detail"])
    assert item["status"] == "passed", item["detail"]


def test_screenshots_of_every_page(results: dict[str, dict[str, Any]]) -> None:
    shots = {p.stem for p in ARTIFACTS.glob("*.png")}
    for name in ("01-login", "02-dashboard", "03-storage", "04-agents", "05-compression",
                 "06-encryption", "07-network", "08-jobs", "09-audit", "10-plugins", "11-settings",
                 "12-dashboard-light", "13-storage-readonly", "14-plugin-page"):
        assert name in shots, f"{name}.png missing from {sorted(shots)}"
    for png in ARTIFACTS.glob("*.png"):
        assert png.stat().st_size > 5000, f"{png.name} looks empty"


# --- the UI under a sub-path behind a reverse proxy -----------------------------------------------


class SubPathProxy:
    """Serve ``upstream`` at ``/nas/`` like a reverse proxy would (HTTP and WebSocket)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        url = f"{self.upstream}/{tail}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "origin")}
        headers["X-Forwarded-Prefix"] = "/nas"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws_client = web.WebSocketResponse()
            await ws_client.prepare(request)
            async with aiohttp.ClientSession() as s, s.ws_connect(
                    url.replace("http", "ws", 1), headers={"Cookie": request.headers.get("Cookie", "")}) as up:
                async def pump_up() -> None:
                    async for msg in ws_client:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            await up.send_str(msg.data)
                pump = asyncio.ensure_future(pump_up())
                async for msg in up:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await ws_client.send_str(msg.data)
                pump.cancel()
            return ws_client
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            async with s.request(request.method, url, params=request.query, headers=headers,
                                 data=await request.read(), allow_redirects=False) as up:
                body = await up.read()
                out = web.Response(status=up.status, body=body)
                for k, v in up.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        out.headers.add(k, v)
                return out

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/nas/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> "SubPathProxy":
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self.runner is not None
            await self.runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_ui_under_a_sub_path(daemon: Daemon, results: dict[str, dict[str, Any]]) -> None:
    """Assets, API calls and the event stream all resolve below /nas/."""
    with SubPathProxy(daemon.url) as proxy:
        sub = _run_scenarios(f"http://127.0.0.1:{proxy.port}/nas/", ARTIFACTS / "subpath",
                             ["login", "metrics_live", "no_page_errors"])
    assert sub["login"]["status"] == "passed", sub["login"]["detail"]
    if sub["metrics_live"]["status"] == "skipped":
        require(False, sub["metrics_live"]["detail"])
    assert sub["metrics_live"]["status"] == "passed", sub["metrics_live"]["detail"]
    assert sub["no_page_errors"]["status"] == "passed", sub["no_page_errors"]["detail"]


def test_initial_route_bundle_under_budget() -> None:
    """What the browser loads for the first page stays under 400 KB gzipped."""
    _ensure_ui()
    proc = subprocess.run(["node", "scripts/size.mjs", "--json", "--budget", "400"], cwd=WEBUI,
                          capture_output=True, text=True, timeout=60)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["gzip_kb"] < 400, out
    assert any(f["file"].startswith("assets/Dashboard") for f in out["files"]), out
