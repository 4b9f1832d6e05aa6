"""The Data protection page in real headless Chromium (``webui/e2e/protection.mjs``) against a real
``sigmavault serve``: a snapshot task created through the dialog's pickers, listed with its next
run, run now and found in its history; and replication to another node — two daemons in network
namespaces joined over PhantomMesh (the harness of tests/integration/test_replication_mesh.py) —
created through pickers, run, restored from the replica, and seen on the Dashboard's fleet card."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

from sigmavault.testing import ADMIN_PASSWORD, Daemon, api_call, require, require_tool, wait_job

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


def _mesh_harness() -> ModuleType:
    """tests/integration/test_replication_mesh.py, for its two-node harness (``two_nodes``)."""
    path = ROOT / "tests" / "integration" / "test_replication_mesh.py"
    spec = importlib.util.spec_from_file_location("replication_mesh_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]


async def _replication_journey(sv_daemon: Any) -> None:
    mesh = _mesh_harness()
    async with mesh.two_nodes(sv_daemon, "10.231.57") as n:
        a, b = n.a, n.b
        await api_call(a, "POST", "/storage/pools", 201, json={"name": "src", "backend": "dir"})
        await api_call(b, "POST", "/storage/pools", 201, json={"name": "backup", "backend": "dir"})
        await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": "backup"})
        await api_call(a, "POST", "/storage/pools/src/volumes", 201, json={"name": "docs"})
        vol = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs"))["path"])
        (vol / "a.txt").write_bytes(b"replicated through the UI\n" * 1000)
        (vol / "sub").mkdir()
        (vol / "sub" / "b.bin").write_bytes(os.urandom(100_000))
        await api_call(a, "POST", "/storage/pools/src/volumes/docs/snapshots", 201, json={"name": "s1"})
        env = {**os.environ, "SV_URL": f"{str(a._base_url).rstrip('/')}/", "SV_USER": "admin", "SV_PASS": ADMIN_PASSWORD,
               "SV_POOL": "src", "SV_PEER": "beta", "SV_TARGET_POOL": "backup", "SV_SCENARIO": "replication",
               "SV_CHROMIUM": CHROMIUM, "SV_ARTIFACTS": str(ROOT / "test-artifacts" / "replication")}
        # the browser reaches node alpha through the harness's relay, served by this event loop
        proc = await asyncio.create_subprocess_exec(
            "node", "e2e/protection.mjs", cwd=WEBUI, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 300)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        lines = _results(out.decode())
        assert lines, f"no result (exit {proc.returncode}):\n{out.decode()[-3000:]}\n{err.decode()[-3000:]}"
        assert lines[-1]["status"] == "passed", lines[-1]["detail"]
        # what the UI did, checked on the nodes: the replica on beta, the restored volume on alpha
        replica = Path((await api_call(b, "GET", "/storage/pools/backup/volumes/docs"))["path"])
        restored = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs-restored"))["path"])
        assert mesh.tree(replica) == mesh.tree(vol) == mesh.tree(restored)
        jobs = await api_call(a, "GET", "/jobs", params={"kind": "replication.restore"})
        assert [j["state"] for j in jobs["items"]] == ["SUCCESS"]
        assert (await wait_job(a, jobs["items"][0]["id"]))["params"]["snapshot"] == "s1"


def test_replication_through_the_ui(sv_daemon: Any) -> None:
    _ensure_ui()
    asyncio.run(_replication_journey(sv_daemon))
