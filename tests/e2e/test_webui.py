"""End-to-end tests of the web UI in real headless Chromium against a real ``sigmavault serve``.

The scenarios live in ``webui/e2e/run.mjs`` (Playwright via ``playwright-core``, Debian's
``/usr/bin/chromium``); this module starts a daemon on a free port with a temporary data dir,
runs them once, and turns each scenario into a test. A scenario whose plugin is not installed is
skipped locally and fails under CI (it needs that plugin's API). Screenshots go to
``test-artifacts/webui/`` and, every page at 1440 and 390 px as ``<page>-<width>.png``, to
``test-artifacts/screenshots/``; the axe-core findings (critical and serious) to
``test-artifacts/webui/axe.json``.

A second run goes through a reverse proxy that serves the daemon under ``/nas/`` (HTTP and
WebSocket), proving the UI works under a sub-path.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sigmavault.testing import Daemon, free_port, require

from tests.e2e.conftest import (
    SCREENSHOTS,
    WEBUI,
    ensure_webui,
    run_node,
    ui_daemon,
    ui_env,
)

ARTIFACTS = WEBUI.parent / "test-artifacts" / "webui"
SCENARIOS = ["login", "metrics_live", "storage_pool_snapshot", "agent_task", "compression_job",
             "compress_folder_journey", "three_agents", "encryption_lock_unlock",
             "encrypt_decrypt_picked", "errors_on_fields", "page_screenshots", "accessibility",
             "readonly_user", "no_page_errors"]


def _run_scenarios(url: str, artifacts: Path, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    shots = SCREENSHOTS if only is None else artifacts / "screenshots"
    env = ui_env(url, SV_ARTIFACTS=str(artifacts), SV_SCREENSHOTS=str(shots),
                 SV_SCENARIOS=",".join(only or []))
    return run_node("run.mjs", env, timeout=600)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    ensure_webui()
    base = tmp_path_factory.mktemp("webui-e2e")
    with ui_daemon(base) as d:
        yield d


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


# pages every install has, and those a plugin adds (when it is loaded)
PAGES = {"login": None, "dashboard": None, "jobs": None, "audit": None, "plugins": None,
         "settings": None, "storage": "sigmavault-storage", "protection": "sigmavault-storage",
         "agents": "sigmavault-agents", "compression": "sigmavault-compression",
         "encryption": "sigmavault-encryption", "network": "sigmavault-phantommesh",
         "shares": "sigmavault-shares", "accounts": "sigmavault-shares",
         "notifications": "sigmavault-notifications"}


def _loaded_plugins(daemon: Daemon) -> set[str]:
    request = urllib.request.Request(f"{daemon.url}/api/v1/plugins",
                                     headers={"Authorization": f"Bearer {daemon.admin_key}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return {p["name"] for p in json.load(r) if p["status"] == "loaded"}


def test_screenshots_of_every_page(daemon: Daemon, results: dict[str, dict[str, Any]]) -> None:
    """Every page of the sidebar, and the sign-in page, at 1440 and 390 px: <page>-<width>.png."""
    assert results["page_screenshots"]["status"] == "passed", results["page_screenshots"]["detail"]
    shown = json.loads((SCREENSHOTS / "pages.json").read_text())
    loaded = _loaded_plugins(daemon)
    expected = {page for page, plugin in PAGES.items() if plugin is None or plugin in loaded}
    assert expected <= set(shown), f"pages without screenshots: {sorted(expected - set(shown))}"
    for page in shown:
        for width in (1440, 390):
            png = SCREENSHOTS / f"{page}-{width}.png"
            assert png.is_file() and png.stat().st_size > 5000, f"{png} missing or empty"
    for name in ("01-login", "02-dashboard", "03-storage", "04-agents", "05-compression",
                 "06-encryption", "07-network", "08-jobs", "09-audit", "10-plugins", "11-settings",
                 "12-dashboard-light", "13-storage-readonly", "14-plugin-page"):
        png = ARTIFACTS / f"{name}.png"
        assert png.is_file() and png.stat().st_size > 5000, f"{png} missing or empty"


def test_accessibility_report(results: dict[str, dict[str, Any]]) -> None:
    """The axe-core scan covered every page and the main dialogs; its findings are an artifact."""
    assert results["accessibility"]["status"] == "passed", results["accessibility"]["detail"]
    found = json.loads((ARTIFACTS / "axe.json").read_text())
    assert all(v["impact"] in ("critical", "serious") and v["nodes"] for v in found), found
    assert not [v for v in found if v["impact"] == "critical"], found


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
    ensure_webui()
    proc = subprocess.run(["node", "scripts/size.mjs", "--json", "--budget", "400"], cwd=WEBUI,
                          capture_output=True, text=True, timeout=60)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["gzip_kb"] < 400, out
    assert any(f["file"].startswith("assets/Dashboard") for f in out["files"]), out
