"""The real btrfs path end to end: loop devices -> raid1 pool through the API -> volumes, quota,
snapshots, rollback, scrub job with progress events -> a disk fails (detached) -> degraded and a
storage.event -> replace -> healthy again."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from sigmavault.testing import Events, wait_job


pytestmark = pytest.mark.root
API = "/api/v1/storage"


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0.5, "smart_interval": 0, "include_loop_devices": True,
                        "scrub_poll_interval": 0.2}}


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


def storage_event(kind, **match):
    def pred(e):
        return (e["type"] == "storage.event" and e["data"]["kind"] == kind
                and all(e["data"].get(k) == v for k, v in match.items()))
    return pred


async def test_raid1_pool_degrades_and_recovers(client, loop_devices, pull_disk):
    a, b, c = loop_devices(3)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
    events = Events(ws)

    disks = {d["path"]: d for d in await ok(await client.get(f"{API}/disks"))}
    assert all(not disks[d]["in_use"] and disks[d]["type"] == "loop" for d in (a, b, c))

    pool = await ok(await client.post(f"{API}/pools", json={
        "name": "tank", "backend": "btrfs", "topology": {"layout": "raid1"}, "devices": [a, b]}), 201)
    assert pool["state"] == "online" and pool["layout"] == "raid1"
    assert sorted(d["path"] for d in pool["devices"]) == sorted([a, b])
    mnt = pool["mountpoint"]
    try:
        # a disk in use is never offered again
        free = {d["path"] for d in await ok(await client.get(f"{API}/disks",
                                                             params={"available": "true"}))}
        assert a not in free and b not in free and c in free
        used = await ok(await client.get(f"{API}/disks/{os.path.basename(a)}"))
        assert used["in_use_by"] == {"kind": "pool", "pool": "tank", "backend": "btrfs"}
        resp = await client.post(f"{API}/pools", json={"name": "other", "backend": "btrfs",
                                                       "topology": {"layout": "single"},
                                                       "devices": [a]})
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "device_in_use"
        resp = await client.post(f"{API}/pools", json={"name": "other", "backend": "btrfs",
                                                       "topology": {"layout": "raid1c3"},
                                                       "devices": [c]})
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "too_few_devices"

        # volume with a qgroup quota and zstd compression: the quota is enforced by the kernel
        vol = await ok(await client.post(f"{API}/pools/tank/volumes", json={
            "name": "data", "quota": 16 << 20, "compression": "zstd"}), 201)
        assert vol["quota"] == 16 << 20 and vol["compression"] == "zstd"
        with pytest.raises(OSError) as full:
            with open(Path(vol["path"]) / "big.bin", "wb") as f:
                for _ in range(40):
                    f.write(os.urandom(1 << 20))
                    f.flush()
                    os.fsync(f.fileno())
        assert full.value.errno == errno.EDQUOT
        (Path(vol["path"]) / "big.bin").unlink()
        (Path(vol["path"]) / "doc.txt").write_text("version 1")

        # snapshots: read-only and writable; rollback keeps the quota
        s1 = await ok(await client.post(f"{API}/pools/tank/volumes/data/snapshots",
                                        json={"name": "s1"}), 201)
        assert s1["writable"] is False
        with pytest.raises(OSError) as ro:
            (Path(s1["path"]) / "x").write_text("x")
        assert ro.value.errno == errno.EROFS
        w1 = await ok(await client.post(f"{API}/pools/tank/volumes/data/snapshots",
                                        json={"name": "w1", "writable": True}), 201)
        assert w1["writable"] is True
        (Path(w1["path"]) / "scratch").write_text("ok")
        (Path(vol["path"]) / "doc.txt").write_text("version 2")
        rolled = await ok(await client.post(f"{API}/pools/tank/volumes/data/snapshots/s1/rollback",
                                            json={}))
        assert (Path(vol["path"]) / "doc.txt").read_text() == "version 1"
        assert rolled["quota"] == 16 << 20 and rolled["compression"] == "zstd"
        (Path(vol["path"]) / "payload.bin").write_bytes(os.urandom(4 << 20))
        os.sync()  # scrub verifies what is on disk

        # scrub as a job, with progress and a finished event
        job = await ok(await client.post(f"{API}/pools/tank/scrub"), 202)
        busy = await client.post(f"{API}/pools/tank/scrub")
        assert busy.status == 409
        done = await wait_job(client, job["id"], timeout=60)
        assert done["state"] == "SUCCESS" and done["result"]["errors"] == 0
        assert done["result"]["bytes_scrubbed"] > 4 << 20
        await events.wait(storage_event("scrub_progress", pool="tank"), timeout=10)
        await events.wait(storage_event("scrub_finished", pool="tank", new="finished"),
                         timeout=10)

        # a disk dies: the pool comes back degraded (mounted -o degraded) and says so
        pull_disk(b, mnt)
        ev = await events.wait(storage_event("pool_state", pool="tank", new="degraded"),
                              timeout=90)
        assert ev["data"]["old"] in ("online", "unavailable")
        gone = await events.wait(storage_event("disk_removed", disk=os.path.basename(b)),
                                timeout=60)
        assert gone["data"]["disk"] == os.path.basename(b)
        degraded = await ok(await client.get(f"{API}/pools/tank"))
        assert degraded["state"] == "degraded"
        [missing] = [d for d in degraded["devices"] if d["state"] == "missing"]
        health = await ok(await client.get(f"{API}/pools/tank/health"))
        assert any(p["severity"] == "critical" and p["device"] == missing["id"]
                   for p in health["problems"])
        assert (Path(vol["path"]) / "doc.txt").read_text() == "version 1"

        # replace the missing device with a new disk -> healthy again
        job = await ok(await client.post(f"{API}/pools/tank/devices/replace",
                                         json={"old": missing["id"], "new": c}), 202)
        done = await wait_job(client, job["id"], timeout=120)
        assert done["state"] == "SUCCESS", done
        await events.wait(storage_event("pool_state", pool="tank", old="degraded",
                                           new="online"), timeout=90)
        healed = await ok(await client.get(f"{API}/pools/tank"))
        assert healed["state"] == "online"
        assert sorted(d["path"] for d in healed["devices"]) == sorted([a, c])
        assert healed["properties"]["multiple_profiles"] is False
        health = await ok(await client.get(f"{API}/pools/tank/health"))
        assert health["problems"] == []
        assert len((Path(vol["path"]) / "payload.bin").read_bytes()) == 4 << 20
    finally:
        resp = await client.delete(f"{API}/pools/tank", params={"confirm": "tank"})
        assert resp.status in (204, 404), await resp.text()
        await ws.close()
    assert not os.path.ismount(mnt)
    free = {d["path"] for d in await ok(await client.get(f"{API}/disks", params={"available": "true"}))}
    assert {a, c} <= free
