"""The Data protection page in real headless Chromium (``webui/e2e/protection.mjs``) against a real
``sigmavault serve``: a snapshot task created through the dialog's pickers, listed with its next
run, run now and found in its history; and replication to another node — two daemons in network
namespaces joined over PhantomMesh (the harness of tests/integration/test_replication_mesh.py) —
created through pickers, run, restored from the replica, and seen on the Dashboard's fleet card."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from sigmavault.testing import api_call

from tests.e2e.conftest import ROOT, WEBUI, ensure_webui, run_node, ui_daemon, ui_env
from tests.integration.test_replication_mesh import tree, two_nodes


async def _prepare(s: Any) -> None:
    await api_call(s, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
    await api_call(s, "POST", "/storage/pools/tank/volumes", 201, json={"name": "data"})


async def _prepared(d: Any) -> None:
    async with d.session() as s:
        await _prepare(s)


def test_snapshot_task_through_the_ui(tmp_path: Path) -> None:
    ensure_webui()
    with ui_daemon(tmp_path) as d:
        asyncio.run(_prepared(d))
        steps = run_node("protection.mjs", ui_env(f"{d.url}/", SV_POOL="tank",
                                                  SV_ARTIFACTS=str(ROOT / "test-artifacts" / "protection")), timeout=300)
        assert steps["protection_snapshot"]["status"] == "passed", steps["protection_snapshot"]["detail"]


async def _node_runner(env: dict[str, str], timeout: float = 300) -> dict[str, Any]:
    """protection.mjs without blocking this event loop (it serves the relays the browser goes through)."""
    proc = await asyncio.create_subprocess_exec("node", "e2e/protection.mjs", cwd=WEBUI, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    lines = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    assert lines, f"no result (exit {proc.returncode}):\n{out.decode()[-3000:]}\n{err.decode()[-3000:]}"
    return lines[-1]


async def _replication_journey(sv_daemon: Any) -> None:
    async with two_nodes(sv_daemon, "10.231.57") as n:
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
        good = tree(vol)
        (vol / "sub" / "b.bin").write_bytes(b"damaged after s1")   # the UI restores it from s1 on beta
        damaged = tree(vol)
        url = str(a._base_url).rstrip("/")   # the harness's relay to node alpha
        step = await _node_runner(ui_env(f"{url}/", SV_POOL="src", SV_PEER="beta", SV_TARGET_POOL="backup",
                                         SV_SCENARIO="replication",
                                         SV_ARTIFACTS=str(ROOT / "test-artifacts" / "replication")))
        assert step["status"] == "passed", step["detail"]
        # what the UI did, checked on the nodes: the replica on beta, the volume restored on alpha
        snaps = await api_call(b, "GET", "/storage/pools/backup/volumes/docs/snapshots")
        snaps = snaps["items"] if isinstance(snaps, dict) else snaps
        on_beta = {s["name"]: tree(Path(s["path"])) for s in snaps}
        restored = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs-restored"))["path"])
        # beta keeps s1 and the run's own snapshot (damaged b.bin); the file came back from s1
        assert on_beta.pop("s1") == good and len(on_beta) == 1, on_beta
        (own, files), = on_beta.items()
        assert own.startswith("repl-") and files == damaged, on_beta
        assert tree(vol) == good == tree(restored)
        jobs = await api_call(a, "GET", "/jobs", params={"kind": "replication.restore"})
        assert sorted(str((j["state"], j["params"]["snapshot"], j["params"]["path"], j["params"]["target_volume"]))
                      for j in jobs["items"]) == sorted([str(("SUCCESS", "s1", None, "docs-restored")),
                                                         str(("SUCCESS", "s1", "sub/b.bin", None))])


def test_replication_through_the_ui(sv_daemon: Any) -> None:
    ensure_webui()
    asyncio.run(_replication_journey(sv_daemon))
