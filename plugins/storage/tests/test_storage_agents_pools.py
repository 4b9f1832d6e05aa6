"""The storage agents on real device pools, each scenario once per backend: btrfs on loop
devices and ZFS through zfs-fuse (its daemon and loop-device fixtures are the zfs plugin's own
test fixtures). The dir backend runs the same agents in test_storage_agents.py.

Two tests per backend, each on its own pools (the sv_app and its database are per test):
STREAM / MIRROR / HARBOR / AEGIS on two one-disk pools, and ARCHITECT / ORACLE / SENTRY
on a redundant pool that ARCHITECT proposed, which then loses a disk and is repaired."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable

import pytest

import sigmavault.testing as svt
from sigmavault.testing import require_tool, wait_job

pytestmark = pytest.mark.root
HERE = Path(__file__).parent
MIB = 1 << 20


h = svt.load_module(HERE / "storage_agents_helpers.py")
_btrfs_conftest = svt.load_module(HERE.parents[1] / "btrfs" / "tests" / "conftest.py",
                                  "btrfs_plugin_conftest")
try:
    _zc = svt.load_module(HERE.parents[1] / "zfs" / "tests" / "conftest.py", "zfs_plugin_conftest")
    zfs_daemon = _zc.zfs_daemon
    zfs_loop_devices = _zc.loop_devices       # registered under this name: the core's stays
except (ImportError, FileNotFoundError):      # the zfs plugin (or its tests) is not installed
    _zc = None

# the layout of a one-disk pool and of a two-disk redundant one, and what each backend's
# stream files are called
SINGLE = {"btrfs": "single", "zfs": "stripe"}
REDUNDANT = {"btrfs": "raid1", "zfs": "mirror"}
FORMAT = {"btrfs": "btrfs-send", "zfs": "zfs-send"}


@pytest.fixture(params=["btrfs", "zfs"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def sv_config_overrides(tmp_path, kind):
    if kind == "zfs":
        return h.overrides(tmp_path, "sigmavault-zfs", storage={"include_loop_devices": True},
                           zfs={"mount_root": str(tmp_path / "zfsmnt")})
    return h.overrides(tmp_path, "sigmavault-btrfs", storage={"include_loop_devices": True})


@pytest.fixture
def devices(request, kind) -> Callable[..., Awaitable[list[str]]]:
    """``await devices(n)`` → n loop devices of 256 MiB on sparse files, torn down (with every
    pool on them) after the test."""
    if kind == "btrfs":
        require_tool("mkfs.btrfs", "btrfs")
        core = request.getfixturevalue("loop_devices")

        async def make(n: int) -> list[str]:
            return core(n, size=256 * MIB)
        return make
    if _zc is None:
        (pytest.fail if svt.IN_CI else pytest.skip)("the zfs plugin and its tests are needed")
    zloops = request.getfixturevalue("zfs_loop_devices")

    async def zmake(n: int) -> list[str]:
        return await zloops(n, size=256 * MIB)
    return zmake


def uname(stem: str) -> str:
    """Pool names are global in zfs-fuse: unique per test (and per helper running tests)."""
    return f"sa9{stem}{uuid.uuid4().hex[:6]}"


async def make_pool(client, kind: str, name: str, devs: list[str], layout: str | None = None) -> dict:
    return await h.ok(await client.post(f"{h.API}/pools", json={
        "name": name, "backend": kind, "topology": {"layout": layout or SINGLE[kind]},
        "devices": devs}), 201)


async def destroy(client, kind: str, *names: str) -> None:
    """btrfs pools through the API; zfs pools are the zfs loop-device fixture's to destroy (it
    retries while zfs-fuse says the pool is busy)."""
    if kind == "zfs":
        return
    for name in names:
        resp = await client.delete(f"{h.API}/pools/{name}", params={"confirm": name})
        assert resp.status in (204, 404), await resp.text()


class Events(svt.Events):
    """Every event seen on a socket, plus the progress of one job."""

    async def job(self, job_id: str, timeout: float = 60) -> list[dict]:
        """Every job.progress snapshot of one job, up to its final state."""
        out = []
        while True:
            e = await self.wait(lambda e: e["type"] == "job.progress" and e["data"]["id"] == job_id,
                                timeout)
            out.append(e["data"])
            if e["data"]["state"] in ("SUCCESS", "FAILED", "ABORTED"):
                return out


def sentry_event(pool: str) -> Callable[[dict], bool]:
    """SENTRY's storage.event about a pool's state (the storage service may announce one too)."""
    return lambda e: (e["type"] == "storage.event" and e["data"]["kind"] == "pool_state"
                      and e["data"].get("pool") == pool
                      and e["data"]["details"].get("source") == "SENTRY")


async def watched_task(client, events: Events, agent: str, params: dict) -> tuple[dict, list[dict]]:
    """Dispatch an agent task; its job and every progress snapshot the socket carried."""
    body = await h.ok(await client.post(f"/api/v1/agents/{agent}/task", json={"params": params}), 202)
    seen = await events.job(body["id"])
    job = await wait_job(client, body["id"], 60)
    assert job["state"] == "SUCCESS", job
    return job, seen


def check_progress(seen: list[dict], size: int, *labels: str) -> None:
    """Progress only moves forward, ends at 100 %, names the agent's steps and reported the bytes
    of the stream file (which of the steps a throttled snapshot shows depends on timing)."""
    running = [s["progress"] for s in seen if s["state"] != "QUEUED"]
    percents = [p["percent"] for p in running]
    assert percents == sorted(percents) and percents[-1] == 100, running
    assert any(p["description"].startswith(labels) for p in running), running
    with_bytes = [p for p in running if p["bytes_total"]]
    assert with_bytes and all(p["bytes_total"] == size and 0 < p["bytes_done"] <= size
                              for p in with_bytes), running


async def snap_path(app, pool: str, volume: str, snapshot: str) -> Path:
    return Path(await app.call("storage.snapshot.path", pool=pool, volume=volume, snapshot=snapshot))


async def test_stream_mirror_harbor_aegis(kind, client, sv_app, devices, tmp_path):
    a, b = await devices(2)
    src, dst = uname("s"), uname("d")
    await make_pool(client, kind, src, [a])
    await make_pool(client, kind, dst, [b])
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress"]})
    events = Events(ws)
    try:
        root = await h.volume(client, src, "data")
        await h.volume(client, src, "logs")
        (root / "a.txt").write_text("one")
        (root / "d").mkdir()
        # big enough that sending and hashing outlast the 0.2 s progress throttle
        (root / "d" / "big.bin").write_bytes(os.urandom(48 * MIB))
        (root / "gone.txt").write_text("bye")
        await h.snap(client, src, "data", "s1")
        (root / "a.txt").write_text("one, changed")
        (root / "gone.txt").unlink()
        (root / "new.bin").write_bytes(os.urandom(3000))
        await h.snap(client, src, "data", "s2")
        (root / "third.txt").write_text("3")
        await h.snap(client, src, "data", "s3")

        # STREAM: full export of s1 and an incremental s1→s2, with checksum and progress
        area = tmp_path / "area"
        full, incr = area / "s1.stream", area / "s2.stream"
        job, seen = await watched_task(client, events, "STREAM", {
            "pool": src, "volume": "data", "snapshot": "s1", "file": str(full)})
        r = job["result"]
        assert r["format"] == FORMAT[kind] and r["incremental"] is False and r["backend"] == kind
        assert r["bytes"] == full.stat().st_size > 48 * MIB
        assert r["sha256"] == hashlib.sha256(full.read_bytes()).hexdigest()
        assert json.loads(Path(r["sidecar"]).read_text())["sha256"] == r["sha256"]
        check_progress(seen, r["bytes"], "sending data@s1", "checksum s1.stream")
        r2 = (await h.task(client, "STREAM", {"pool": src, "volume": "data", "snapshot": "s2",
                                               "base": "s1", "file": str(incr)}))["result"]
        assert r2["incremental"] is True and r2["bytes"] < r["bytes"] // 10

        # a corrupted stream is refused before anything is received
        good = full.read_bytes()
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0xFF
        full.write_bytes(bytes(bad))
        job = await h.task(client, "STREAM", {"action": "import", "pool": dst, "volume": "data",
                                              "file": str(full)}, state="FAILED")
        assert "SHA-256" in job["error"]
        assert "data" not in {v["name"] for v in await sv_app.call("storage.volumes.list", pool=dst)}
        full.write_bytes(good)

        job, seen = await watched_task(client, events, "STREAM", {
            "action": "import", "pool": dst, "volume": "data", "file": str(full)})
        imp = job["result"]
        assert imp["verified"] and imp["sha256"] == r["sha256"] and imp["snapshot"]["name"] == "s1"
        check_progress(seen, r["bytes"], "verifying s1.stream", f"receiving into {dst}/data")
        imp2 = (await h.task(client, "STREAM", {"action": "import", "pool": dst, "volume": "data",
                                                "file": str(incr)}))["result"]
        assert imp2["verified"] and imp2["snapshot"]["name"] == "s2"
        for name in ("s1", "s2"):
            assert h.tree(await snap_path(sv_app, dst, "data", name)) == \
                h.tree(await snap_path(sv_app, src, "data", name)), name

        # MIRROR continues after the newest snapshot both sides have (s2, from the streams)...
        m = (await h.task(client, "MIRROR", {"pool": src, "volume": "data", "target_pool": dst}))["result"]
        assert m["method"] == "native" and m["common"] == "s2"
        assert [(x["snapshot"], x["base"], x["incremental"]) for x in m["sent"]] == [("s3", "s2", True)]
        # ...and resumes when the target lost its newest snapshot (an interrupted run)
        await h.ok(await client.delete(f"{h.API}/pools/{dst}/volumes/data/snapshots/s3"), 204)
        m = (await h.task(client, "MIRROR", {"pool": src, "volume": "data", "target_pool": dst}))["result"]
        assert m["common"] == "s2" and [x["snapshot"] for x in m["sent"]] == ["s3"]
        assert m["sent"][0]["incremental"] and m["bytes"] < MIB
        # zfs receives into the live dataset, which still held s3: it goes back to s2 first
        assert m["rolled_back_to"] == ("s2" if kind == "zfs" else None)
        assert h.tree(await snap_path(sv_app, dst, "data", "s3")) == \
            h.tree(await snap_path(sv_app, src, "data", "s3"))
        again = (await h.task(client, "MIRROR", {"pool": src, "volume": "data", "target_pool": dst}))["result"]
        assert again["up_to_date"] and again["sent"] == []

        # HARBOR: the preview is exactly what the prune then deletes
        names = [f"auto-2026{m:02d}{d:02d}-{hh:02d}0000" for m, d, hh in
                 [(9, 1, 0), (9, 20, 0), (10, 1, 0), (10, 5, 6), (11, 1, 0), (11, 2, 0)]]
        for n in names:
            await h.snap(client, src, "logs", n)
        await h.snap(client, src, "logs", "manual")
        policy = {"pool": src, "volume": "logs", "keep_last": 1, "monthly": 2}
        pre = (await h.task(client, "HARBOR", {**policy, "action": "preview"}))["result"]
        [vol] = pre["volumes"]
        keep = {names[5], names[3]}          # the newest, and the newest of October
        assert vol["managed"] == 6 and {k["snapshot"] for k in vol["keep"]} == keep
        assert sorted(vol["delete"]) == sorted(set(names) - keep) and pre["would_delete"] == 4
        assert await h.snap_names(client, src, "logs") == {*names, "manual"}
        done = (await h.task(client, "HARBOR", {**policy, "action": "prune"}))["result"]
        assert sorted(done["volumes"][0]["deleted"]) == sorted(vol["delete"])
        assert await h.snap_names(client, src, "logs") == {*keep, "manual"}

        # AEGIS: one snapshot of every volume of both pools at once
        before = {(p, v): await h.snap_names(client, p, v)
                  for p, v in ((src, "data"), (src, "logs"), (dst, "data"))}
        ag = (await h.task(client, "AEGIS", {"reason": "real pools", "pools": [src, dst]}))["result"]
        assert ag["created"] == 3 and ag["failed"] == 0 and ag["skipped"] == []
        assert {(x["pool"], x["volume"]) for x in ag["volumes"]} == set(before)
        for (p, v), had in before.items():
            assert await h.snap_names(client, p, v) == had | {ag["snapshot"]}, (p, v)

        # AEGIS gave both sides a snapshot of one name that are different snapshots: btrfs
        # tells them apart (received UUID), skips that name and sends s4 from s3; zfs cannot
        # receive s4 without destroying the target's own snapshot, and MIRROR refuses instead
        (root / "fourth.txt").write_text("4")
        await h.snap(client, src, "data", "s4")
        job = await h.task(client, "MIRROR", {"pool": src, "volume": "data", "target_pool": dst},
                           state="SUCCESS" if kind == "btrfs" else "FAILED")
        assert ag["snapshot"] in await h.snap_names(client, dst, "data")
        if kind == "btrfs":
            m = job["result"]
            assert m["common"] == "s3" and m["skipped_name_taken"] == [ag["snapshot"]]
            assert [(x["snapshot"], x["base"]) for x in m["sent"]] == [("s4", "s3")]
            assert h.tree(await snap_path(sv_app, dst, "data", "s4")) == \
                h.tree(await snap_path(sv_app, src, "data", "s4"))
        else:
            assert "s4" not in await h.snap_names(client, dst, "data")
    finally:
        await ws.close()
        await destroy(client, kind, src, dst)


async def test_architect_oracle_sentry(kind, client, sv_app, devices):
    a, b, c = await devices(3)
    size = 256 * MIB
    name = uname("r")

    # ARCHITECT on two real unused disks; the pool is then made from its best candidate
    r = (await h.task(client, "ARCHITECT", {"disks": [os.path.basename(a), os.path.basename(b)],
                                            "backends": [kind]}))["result"]
    assert r["raw"] == 2 * size and {c_["backend"] for c_ in r["candidates"]} == {kind}
    best = r["candidates"][0]
    assert best["layout"] == REDUNDANT[kind] and best["failures_tolerated"] == 1
    assert abs(best["usable"] - size) <= 2 * MIB and sorted(best["devices"]) == sorted([a, b])
    striped = [x for x in r["candidates"] if x["layout"] in ("single", "raid0", "stripe")]
    assert striped and all(x["failures_tolerated"] == 0 and abs(x["usable"] - 2 * size) <= 4 * MIB
                           for x in striped)
    pool = await make_pool(client, kind, name, best["devices"], best["layout"])
    assert pool["state"] == "online"
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event", "alert"]})
    events = Events(ws)
    try:
        free = (await h.task(client, "ARCHITECT", {"backends": [kind]}))["result"]
        offered = {d["path"] for d in free["disks"]}
        assert c in offered and not {a, b} & offered          # disks in the pool are not offered

        root = await h.volume(client, name, "media")

        # ORACLE: real usage samples before and after writing 24 MiB; the forecast follows them
        o1 = (await h.task(client, "ORACLE", {"smart": False}))["result"]
        assert o1["recorded"]["pools"] >= 1
        [p1] = [p for p in o1["pools"] if p["pool"] == name]
        listed = await h.ok(await client.get(f"{h.API}/pools/{name}"))
        assert p1["samples"] == 1 and p1["size"] == listed["size"] and p1["days_until_full"] is None
        (root / "grow.bin").write_bytes(os.urandom(24 * MIB))
        os.sync()
        deadline = time.monotonic() + 60          # zfs accounts written data at the next txg
        while (now := await h.ok(await client.get(f"{h.API}/pools/{name}")))["used"] < p1["used"] + 16 * MIB:
            assert time.monotonic() < deadline, (p1, now)
            await asyncio.sleep(0.5)
        o2 = (await h.task(client, "ORACLE", {"smart": False}))["result"]
        [p2] = [p for p in o2["pools"] if p["pool"] == name]
        assert p2["samples"] == 2 and p2["used"] >= p1["used"] + 16 * MIB
        assert p2["growth_per_day"] > 0 and p2["days_until_full"] is not None and p2["full_at"]
        assert p2["days_until_full"] < 1                   # 24 MiB in seconds fills 256 MiB today

        # SENTRY: a disk of the redundant pool goes away → storage.event and alert; repaired → cleared
        async def sentry_says(old: str, new: str, alert: bool) -> tuple[dict, dict]:
            """SENTRY's run reports the pool going from ``old`` to ``new``: its change, its
            storage.event and its alert event."""
            r = (await h.task(client, "SENTRY", {"smart": False}))["result"]
            [change] = [x for x in r["changes"] if x["what"] == f"pool:{name}"]
            assert change["old"] == old and change["new"] == new and change["alert"] is alert
            ev = await events.wait(sentry_event(name))
            assert ev["data"]["old"] == old and ev["data"]["new"] == new
            return ev, await events.wait(lambda e: e["type"] == "alert"
                                         and e["data"]["id"] == f"sentry:pool:{name}")

        base = (await h.task(client, "SENTRY", {"smart": False}))["result"]
        assert base["checked"][f"pool:{name}"] == "online"
        assert not [x for x in base["changes"] if x["what"] == f"pool:{name}"]
        if kind == "btrfs":
            _btrfs_conftest.fail_device(b, pool["mountpoint"])
        else:
            await h.ok(await client.post(f"/api/v1/zfs/pools/{name}/offline", json={"device": b}))
        ev, alert = await sentry_says("online", "degraded", alert=True)
        assert ev["data"]["details"]["problems"]
        assert alert["data"]["active"] is True and alert["data"]["severity"] == "warning"
        again = (await h.task(client, "SENTRY", {"smart": False}))["result"]
        assert again["checked"][f"pool:{name}"] == "degraded"
        assert not [x for x in again["changes"] if x["what"] == f"pool:{name}"]   # said once

        if kind == "btrfs":
            health = await h.ok(await client.get(f"{h.API}/pools/{name}/health"))
            [missing] = [d for d in health["devices"] if d["state"] == "missing"]
            job = await h.ok(await client.post(f"{h.API}/pools/{name}/devices/replace",
                                               json={"old": missing["id"], "new": c}), 202)
            assert (await wait_job(client, job["id"], 120))["state"] == "SUCCESS"
        else:
            await h.ok(await client.post(f"/api/v1/zfs/pools/{name}/online", json={"device": b}))
        _, cleared = await sentry_says("degraded", "online", alert=False)
        assert cleared["data"]["active"] is False
    finally:
        await ws.close()
        await destroy(client, kind, name)
