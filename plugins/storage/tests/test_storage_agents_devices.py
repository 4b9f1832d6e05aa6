"""BEACON, SENTRY and ORACLE's SMART trend on loop devices; SMART through the fake smartctl
replaying shared/fixtures/smartctl (virtual disks have no SMART)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import load_module, next_event, require_root, require_tool


h = load_module(Path(__file__).with_name("storage_agents_helpers.py"))
smart_tests = load_module(Path(__file__).with_name("test_smart.py"), "storage_smart_tests")   # its fixtures' helpers, not its tests

pytestmark = pytest.mark.root


@pytest.fixture
def sv_config_overrides(tmp_path):
    return h.overrides(tmp_path, storage={"include_loop_devices": True})


@pytest.fixture
def loops(loop_devices):
    """``attach() -> /dev/loopN`` (16 MiB sparse), ``detach(dev)`` (the core's ``loop_devices``)."""
    require_tool("lsblk")
    return (lambda: loop_devices(1, size=16 << 20)[0]), loop_devices.detach


async def test_beacon_sees_a_loop_device_appear_and_vanish(client, loops):
    attach, detach = loops
    first = (await h.task(client, "BEACON", {}))["result"]
    assert first["first_scan"] is True
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
    dev = attach()
    r = (await h.task(client, "BEACON", {}))["result"]
    assert r["first_scan"] is False
    assert dev in [d["path"] for d in r["appeared"]] and dev in [d["path"] for d in r["disks"]]
    ev = await next_event(ws, lambda e: e["type"] == "storage.event" and e["data"]["kind"] == "disk_added"
                          and e["data"]["details"].get("path") == dev, timeout=10)
    assert ev["data"]["details"]["source"] == "BEACON"
    detach(dev)
    r = (await h.task(client, "BEACON", {}))["result"]
    assert dev in [d["path"] for d in r["vanished"]] and dev not in [d["path"] for d in r["disks"]]
    await next_event(ws, lambda e: e["type"] == "storage.event" and e["data"]["kind"] == "disk_removed"
                     and e["data"]["details"].get("path") == dev, timeout=10)
    r = (await h.task(client, "BEACON", {"include_loop": True}))["result"]
    assert dev not in [d["path"] for d in r["vanished"] + r["appeared"]]   # reported once
    await ws.close()


async def test_sentry_and_oracle_on_a_disk_that_starts_failing(client, loops, fake_smartctl, tmp_path):
    attach, _ = loops
    dev = attach()
    disk = os.path.basename(dev)
    folder = smart_tests.derived_copy(tmp_path, "sata_ssd_0_issue_49")
    fake_smartctl({dev: folder})
    base = (await h.task(client, "SENTRY", {"pools": False}))["result"]
    assert base["checked"][f"smart:{disk}"] == "PASS"
    assert not [c for c in base["changes"] if c["what"] == f"smart:{disk}"]
    await h.task(client, "ORACLE", {})
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event", "alert"]})
    smart_tests.make_failing(folder, "_-d_ata_--all__dev_sda")
    r = (await h.task(client, "SENTRY", {"pools": False}))["result"]
    [change] = [c for c in r["changes"] if c["what"] == f"smart:{disk}"]
    assert change["old"] == "PASS" and change["new"] == "FAIL" and change["alert"] is True
    ev = await next_event(ws, lambda e: e["type"] == "storage.event" and e["data"]["kind"] == "smart_health"
                          and e["data"]["details"].get("source") == "SENTRY", timeout=10)
    assert ev["data"]["disk"] == disk and ev["data"]["new"] == "FAIL"
    alert = await next_event(ws, lambda e: e["type"] == "alert" and e["data"].get("source") == "SENTRY",
                             timeout=10)
    assert alert["data"]["active"] is True and alert["data"]["severity"] == "critical"
    # unchanged on the next poll: no new announcement
    r = (await h.task(client, "SENTRY", {"pools": False}))["result"]
    assert not [c for c in r["changes"] if c["what"] == f"smart:{disk}"]
    o = (await h.task(client, "ORACLE", {}))["result"]
    [rating] = [d for d in o["disks"] if d["disk"] == disk]
    assert rating["risk"] == "high" and rating["readings"] == 2
    assert rating["growth"]["reallocated_sectors"] > 0
    await ws.close()


async def test_sentry_sees_a_pool_fault_and_recover(client, sv_app):
    """A dir pool whose directory turns read-only (a read-only bind mount over it) is faulted."""
    require_root()
    require_tool("mount", "umount")
    await h.pool(client, "tank")
    path = Path(next(p for p in await sv_app.call("storage.pools.list") if p["name"] == "tank")["mountpoint"])
    assert (await h.task(client, "SENTRY", {"smart": False}))["result"]["checked"]["pool:tank"] == "online"
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event", "alert"]})
    pending: list[dict] = []

    async def wait(pred) -> dict:
        """The next event ``pred`` accepts; others are kept (storage.event and alert race)."""
        for e in pending:
            if pred(e):
                pending.remove(e)
                return e
        while True:
            e = await asyncio.wait_for(ws.receive_json(), 10)
            if pred(e):
                return e
            pending.append(e)

    def alert(e: dict) -> bool:
        return e["type"] == "alert" and e["data"]["id"] == "sentry:pool:tank"

    def pool_event(e: dict) -> bool:
        return (e["type"] == "storage.event" and e["data"]["kind"] == "pool_state"
                and e["data"].get("pool") == "tank" and e["data"]["details"].get("source") == "SENTRY")
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        r = (await h.task(client, "SENTRY", {"smart": False}))["result"]
        [c] = [c for c in r["changes"] if c["what"] == "pool:tank"]
        assert c["old"] == "online" and c["new"] == "faulted" and c["alert"]
        raised = await wait(alert)
        assert raised["data"]["active"] is True and raised["data"]["severity"] == "critical"
        ev = await wait(pool_event)
        assert ev["data"]["old"] == "online" and ev["data"]["new"] == "faulted"
        assert ev["data"]["details"]["problems"]
    finally:
        subprocess.run(["umount", str(path)], check=True)
    r = (await h.task(client, "SENTRY", {"smart": False}))["result"]
    [c] = [c for c in r["changes"] if c["what"] == "pool:tank"]
    assert c["new"] == "online" and c["alert"] is False
    cleared = await wait(alert)
    assert cleared["data"]["active"] is False
    ev = await wait(pool_event)
    assert ev["data"]["old"] == "faulted" and ev["data"]["new"] == "online"
    await ws.close()
