"""The storage agents on the dir backend, through POST /api/v1/agents/{NAME}/task."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sigmavault.testing import load_module, require_tool

h = load_module(Path(__file__).with_name("storage_agents_helpers.py"))

STORAGE_AGENTS = {"DELTA", "STREAM", "MIRROR", "HARBOR", "AEGIS", "SENTRY", "BEACON", "ARCHITECT",
                  "ORACLE"}


@pytest.fixture
def sv_config_overrides(tmp_path):
    return h.overrides(tmp_path)


async def test_agents_are_listed_with_the_storage_owner(client):
    agents = {a["name"]: a for a in await h.ok(await client.get("/api/v1/agents"))}
    assert STORAGE_AGENTS <= agents.keys()
    assert {agents[n]["owner"] for n in STORAGE_AGENTS} == {"sigmavault-storage"}
    plugins = await h.ok(await client.get("/api/v1/plugins"))
    names = json.dumps(plugins)
    assert "sigmavault-storage:storage-agents" in names or "storage-agents" in names


async def test_delta_backend_and_tree_agree(client, sv_app):
    await h.pool(client, "tank")
    root = await h.volume(client, "tank", "v")
    (root / "keep.txt").write_text("same")
    (root / "edit.txt").write_text("before")
    (root / "gone.txt").write_text("bye")
    (root / "touched.txt").write_text("t")
    await h.snap(client, "tank", "v", "s1")
    (root / "edit.txt").unlink()                  # replaced, not edited in place (hard-link snapshots)
    (root / "edit.txt").write_text("after!!")
    (root / "gone.txt").unlink()
    (root / "new").mkdir()
    (root / "new/n.bin").write_bytes(b"n" * 10)
    os.utime(root / "touched.txt", (1, 1))        # mtime only: not a content change for tree+hash
    await h.snap(client, "tank", "v", "s2")
    want = {("edit.txt", "modified"), ("gone.txt", "deleted"), ("new", "added"), ("new/n.bin", "added")}
    for method in ("tree", "auto"):
        r = (await h.task(client, "DELTA", {"pool": "tank", "volume": "v", "old": "s1", "new": "s2",
                                            "method": method}))["result"]
        got = {(c["path"], c["change"]) for c in r["changes"]} - {("touched.txt", "modified")}
        assert got == want, (method, r["changes"])
    assert r["method"] == "backend"
    tree = (await h.task(client, "DELTA", {"pool": "tank", "volume": "v", "old": "s1", "new": "s2",
                                           "method": "tree"}))["result"]
    assert tree["counts"] == {"added": 2, "modified": 1, "deleted": 1, "renamed": 0}
    assert tree["changed_bytes"] == len("after!!") + 10
    # snapshot vs live, and straight through the agent function
    (root / "live.txt").write_text("x")
    live = await h.direct(client, sv_app, "DELTA", {"pool": "tank", "volume": "v", "old": "s2",
                                                    "method": "tree"})
    assert [(c["path"], c["change"]) for c in live["changes"]] == [("live.txt", "added")]
    # bad input: 4xx at dispatch
    resp = await client.post("/api/v1/agents/DELTA/task", json={"params": {"pool": "tank", "volume": "nope", "old": "s1"}})
    assert resp.status == 404
    resp = await client.post("/api/v1/agents/DELTA/task", json={"params": {"pool": "tank", "volume": "v", "old": "../x"}})
    assert resp.status in (400, 422)
    job = await h.task(client, "DELTA", {"pool": "tank", "volume": "v", "old": "nosuch"}, state="FAILED")
    assert "nosuch" in job["error"]


async def test_stream_export_verify_import(client, sv_app, tmp_path):
    await h.pool(client, "src")
    await h.pool(client, "dst")
    root = await h.volume(client, "src", "v")
    (root / "a.txt").write_text("alpha")
    (root / "d").mkdir()
    (root / "d/b.bin").write_bytes(os.urandom(3000))
    await h.snap(client, "src", "v", "s1")
    out = tmp_path / "area" / "v.stream"
    r = (await h.task(client, "STREAM", {"pool": "src", "volume": "v", "snapshot": "s1",
                                         "file": str(out)}))["result"]
    assert r["format"] == "tar" and r["bytes"] == out.stat().st_size > 0
    import hashlib
    assert r["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert json.loads(Path(r["sidecar"]).read_text())["sha256"] == r["sha256"]
    # no silent overwrite; paths outside the allowed roots refused at dispatch
    await h.task(client, "STREAM", {"pool": "src", "volume": "v", "snapshot": "s1", "file": str(out)},
                 state="FAILED")
    resp = await client.post("/api/v1/agents/STREAM/task", json={"params": {
        "pool": "src", "volume": "v", "snapshot": "s1", "file": "/etc/evil.stream"}})
    assert resp.status == 400
    imp = (await h.task(client, "STREAM", {"action": "import", "pool": "dst", "volume": "v",
                                           "file": str(out)}))["result"]
    assert imp["verified"] and imp["snapshot"]["name"] == "s1"
    got = Path(await sv_app.call("storage.snapshot.path", pool="dst", volume="v", snapshot="s1"))
    assert h.tree(got) == h.tree(Path(await sv_app.call("storage.snapshot.path", pool="src",
                                                         volume="v", snapshot="s1")))
    # a corrupted stream is refused and nothing is received
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    job = await h.task(client, "STREAM", {"action": "import", "pool": "dst", "volume": "w",
                                          "file": str(out)}, state="FAILED")
    assert "SHA-256" in job["error"]
    assert "w" not in {v["name"] for v in await sv_app.call("storage.volumes.list", pool="dst")}


async def test_mirror_three_incremental_snapshots_resumable(client, sv_app):
    await h.pool(client, "src")
    await h.pool(client, "bak")
    root = await h.volume(client, "src", "data")
    (root / "a.txt").write_text("one")
    (root / "sub").mkdir()
    (root / "sub/b.txt").write_text("two")
    (root / "link").symlink_to("a.txt")
    await h.snap(client, "src", "data", "s1")
    r1 = (await h.task(client, "MIRROR", {"pool": "src", "volume": "data", "target_pool": "bak"}))["result"]
    assert [s["snapshot"] for s in r1["sent"]] == ["s1"] and r1["method"] == "copy"
    (root / "a.txt").unlink()
    (root / "a.txt").write_text("one, changed")
    (root / "c.txt").write_text("three")
    await h.snap(client, "src", "data", "s2")
    (root / "sub/b.txt").unlink()
    (root / "big.bin").write_bytes(os.urandom(5000))
    await h.snap(client, "src", "data", "s3")
    r = (await h.task(client, "MIRROR", {"pool": "src", "volume": "data", "target_pool": "bak"}))["result"]
    assert r["common"] == "s1" and [s["snapshot"] for s in r["sent"]] == ["s2", "s3"]
    assert r["sent"][0]["files_copied"] == 2            # only a.txt and c.txt went again
    assert r["sent"][1]["deleted"] == 1 and r["sent"][1]["bytes"] == 5000
    for name in ("s1", "s2", "s3"):
        a = Path(await sv_app.call("storage.snapshot.path", pool="src", volume="data", snapshot=name))
        b = Path(await sv_app.call("storage.snapshot.path", pool="bak", volume="data", snapshot=name))
        assert h.tree(a) == h.tree(b), name
    again = (await h.task(client, "MIRROR", {"pool": "src", "volume": "data", "target_pool": "bak"}))["result"]
    assert again["up_to_date"] and again["sent"] == []
    # resume: the target lost its newest snapshot (an interrupted run) → only s3 is sent again
    await sv_app.call("storage.snapshot.delete", pool="bak", volume="data", snapshot="s3")
    r = (await h.task(client, "MIRROR", {"pool": "src", "volume": "data", "target_pool": "bak"}))["result"]
    assert [s["snapshot"] for s in r["sent"]] == ["s3"] and r["sent"][0]["files_copied"] == 0
    await h.task(client, "MIRROR", {"pool": "src", "volume": "data", "target_pool": "src"}, state="FAILED")


async def test_harbor_preview_equals_what_it_deletes(client, sv_app):
    await h.pool(client, "tank")
    await h.volume(client, "tank", "v")
    names = [f"auto-2026{m:02d}{d:02d}-{hh:02d}0000" for m, d, hh in
             [(9, 1, 0), (9, 1, 12), (9, 20, 0), (10, 1, 0), (10, 5, 6), (11, 1, 0), (11, 1, 1),
              (11, 2, 0)]]
    for n in names:
        await h.snap(client, "tank", "v", n)
    await h.snap(client, "tank", "v", "manual")          # not managed by the schema
    policy = {"pool": "tank", "volume": "v", "keep_last": 2, "monthly": 3}
    pre = (await h.task(client, "HARBOR", {**policy, "action": "preview"}))["result"]
    [vol] = pre["volumes"]
    assert vol["managed"] == 8
    # newest 2 + newest of each of the newest 3 months
    assert {k["snapshot"] for k in vol["keep"]} == {names[7], names[6], names[4], names[2]}
    assert sorted(vol["delete"]) == sorted(set(names) - {names[7], names[6], names[4], names[2]})
    assert await h.snap_names(client, "tank", "v") == {*names, "manual"}     # preview deletes nothing
    done = (await h.task(client, "HARBOR", {**policy, "action": "prune"}))["result"]
    assert sorted(done["volumes"][0]["deleted"]) == sorted(vol["delete"])
    assert await h.snap_names(client, "tank", "v") == {names[7], names[6], names[4], names[2], "manual"}
    # periodic snapshot named by the schema
    snap = (await h.task(client, "HARBOR", {"pool": "tank", "action": "snapshot",
                                            "schema": "hourly-%Y%m%d-%H%M%S"}))["result"]
    [created] = snap["created"]
    assert created.startswith("hourly-") and created in await h.snap_names(client, "tank", "v")
    resp = await client.post("/api/v1/agents/HARBOR/task", json={"params": {"pool": "tank", "action": "prune"}})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "empty_policy"
    resp = await client.post("/api/v1/agents/HARBOR/task", json={"params": {"pool": "tank", "schema": "../%Y"}})
    assert resp.status in (400, 422)


@pytest.mark.sv_config({"agents": {"scheduler_interval": 0.2}})
async def test_harbor_periodic_snapshots_on_a_schedule(client):
    """HARBOR as a periodic snapshot task (OMNISCIENT's cron, here every second): each run takes
    a snapshot of every volume named by the schema and prunes to keep_last."""
    import asyncio
    await h.pool(client, "tank")
    for v in ("v", "w"):
        await h.volume(client, "tank", v)
    await h.snap(client, "tank", "v", "manual")
    params = {"pool": "tank", "action": "snapshot", "schema": "tick-%Y%m%d-%H%M%S", "keep_last": 2}
    bad = await client.post("/api/v1/agents/schedules", json={
        "agent": "HARBOR", "cron": "* * * * * *", "params": {**params, "schema": "../%S"}})
    assert bad.status == 422                     # a bad naming schema is refused when scheduled
    sched = await h.ok(await client.post("/api/v1/agents/schedules", json={
        "agent": "HARBOR", "cron": "* * * * * *", "params": params}), 201)
    source = f"schedule:{sched['id']}"

    async def runs() -> list[dict]:
        page = await h.ok(await client.get("/api/v1/agents/HARBOR/tasks", params={"limit": "100"}))
        return [t for t in page["items"] if t["source"] == source]
    deadline = time.monotonic() + 30
    while len([t for t in await runs() if t["state"] == "SUCCESS"]) < 3:
        assert time.monotonic() < deadline, await runs()
        await asyncio.sleep(0.2)
    await h.ok(await client.delete(f"/api/v1/agents/schedules/{sched['id']}"), 204)
    while any(t["state"] in ("WAITING", "RUNNING") for t in await runs()):
        assert time.monotonic() < deadline, await runs()
        await asyncio.sleep(0.1)
    done = [t for t in await runs() if t["state"] == "SUCCESS"]
    assert len(done) >= 3 and all(len(set(t["result"]["created"])) == 1 and len(t["result"]["created"]) == 2
                                  for t in done)
    made = sorted(t["result"]["created"][0] for t in done)
    assert len(set(made)) == len(made)           # one name per run, from the schema
    for v in ("v", "w"):
        have = await h.snap_names(client, "tank", v)
        assert {n for n in have if n.startswith("tick-")} == set(made[-2:]), (v, have)
    assert "manual" in await h.snap_names(client, "tank", "v")   # not managed by the schema


async def test_aegis_on_demand_and_on_sentinel_alert(client, sv_app):
    await h.pool(client, "p1")
    await h.pool(client, "p2")
    for p, v in (("p1", "a"), ("p1", "b"), ("p2", "c")):
        await h.volume(client, p, v)
    r = (await h.task(client, "AEGIS", {"reason": "test"}))["result"]
    assert r["created"] == 3 and r["failed"] == 0
    assert {(x["pool"], x["volume"]) for x in r["volumes"]} == {("p1", "a"), ("p1", "b"), ("p2", "c")}
    assert r["snapshot"] in await h.snap_names(client, "p2", "c")
    before = {v: await h.snap_names(client, p, v) for p, v in (("p1", "a"), ("p2", "c"))}
    time.sleep(1.1)    # snapshot names carry the second
    sv_app.events.publish("alert", {"id": "x", "severity": "critical", "message": "ransomware?",
                                    "source": "SENTINEL", "active": True})
    deadline = time.monotonic() + 20
    import asyncio
    while time.monotonic() < deadline:
        counts = [len(await h.snap_names(client, p, v)) for p, v in (("p1", "a"), ("p2", "c"))]
        if counts[0] > len(before["a"]) and counts[1] > len(before["c"]):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("no AEGIS snapshots after a SENTINEL alert")
    jobs = await h.ok(await client.get("/api/v1/jobs", params={"limit": "100"}))
    items = jobs["items"] if isinstance(jobs, dict) else jobs
    assert any(j["kind"] == "agent.AEGIS" and "SENTINEL" in j["description"] for j in items)


@pytest.mark.sv_config({"plugins": {"disabled": h.others("sigmavault-btrfs", "sigmavault-zfs")}})
async def test_architect_planned_disks(client):
    """What-if planning needs no disks, only the device backends' capabilities: btrfs and zfs
    stay loaded here (their tools need not run)."""
    gib = 1 << 30
    r = (await h.task(client, "ARCHITECT", {"planned": [{"name": f"d{i}", "size": s * gib}
                                                        for i, s in enumerate((1, 1, 2))]}))["result"]
    assert r["raw"] == 4 * gib and {"btrfs", "zfs"} <= set(r["backends"])
    got = {(c["backend"], c["layout"]): (c["usable"] / gib, c["failures_tolerated"])
           for c in r["candidates"]}
    assert got == {
        # btrfs fills the biggest disks first, so unequal disks still mirror fully
        ("btrfs", "single"): (4, 0), ("btrfs", "dup"): (2, 0), ("btrfs", "raid0"): (3, 0),
        ("btrfs", "raid1"): (2, 1), ("btrfs", "raid1c3"): (1, 2),
        # a zfs vdev is limited by its smallest disk
        ("zfs", "stripe"): (4, 0), ("zfs", "mirror"): (1, 2), ("zfs", "raidz1"): (2, 1)}
    assert [c["failures_tolerated"] for c in r["candidates"]] == \
        sorted((c["failures_tolerated"] for c in r["candidates"]), reverse=True)
    assert all(c["devices"] == ["d0", "d1", "d2"] for c in r["candidates"])
    # the dir backend alone offers no layouts
    alone = (await h.task(client, "ARCHITECT", {"planned": [{"name": "x", "size": gib}],
                                                "backends": ["dir"]}))["result"]
    assert alone["backends"] == ["dir"] and alone["candidates"] == []


async def test_oracle_forecast_from_history(client, sv_app):
    await h.pool(client, "tank")
    now = time.time()
    size = 1000 * 10**9
    # 10 GB a day for the last 10 days, now at 500 GB → 50 days left
    for d in range(10, 0, -1):
        sv_app.db.execute("INSERT INTO storage_agents_usage(pool, ts, size, used) VALUES(?,?,?,?)",
                          ("tank", now - d * 86400, size, 500 * 10**9 - d * 10 * 10**9))
    r = (await h.task(client, "ORACLE", {"record": False, "smart": False}))["result"]
    [p] = r["pools"]
    assert p["samples"] == 10 and abs(p["growth_per_day"] - 10e9) < 1e3
    assert 49.9 < p["days_until_full"] < 50.1 and p["r2"] > 0.999
    r = (await h.task(client, "ORACLE", {"smart": False}))["result"]
    assert r["recorded"]["pools"] == 1 and r["pools"][0]["samples"] == 11
    rows = sv_app.db.all("SELECT size, used FROM storage_agents_usage WHERE pool='tank' ORDER BY ts DESC LIMIT 1")
    pool_ = await sv_app.call("storage.pools.list")
    assert rows[0]["size"] == next(p for p in pool_ if p["name"] == "tank")["size"]


async def test_sentry_and_oracle_without_disks_are_quiet(client):
    await h.pool(client, "tank")
    r = (await h.task(client, "SENTRY", {}))["result"]
    assert r["checked"]["pool:tank"] == "online" and r["changes"] == []


async def test_agents_run_directly_without_the_runtime(client, sv_app, tmp_path):
    """Each agent's own function as a plain job, so these checks do not depend on the runtime."""
    await h.pool(client, "tank")
    await h.pool(client, "copy")
    root = await h.volume(client, "tank", "v")
    (root / "f.txt").write_text("x")
    a = await h.direct(client, sv_app, "AEGIS", {"prefix": "direct"})
    assert a["created"] == 1 and a["snapshot"].startswith("direct-")
    m = await h.direct(client, sv_app, "MIRROR", {"pool": "tank", "volume": "v", "target_pool": "copy"})
    assert [s["snapshot"] for s in m["sent"]] == [a["snapshot"]]
    assert (Path(await sv_app.call("storage.volume.path", pool="copy", volume="v")) / "f.txt").read_text() == "x"
    s = await h.direct(client, sv_app, "STREAM", {"pool": "tank", "volume": "v", "snapshot": a["snapshot"]})
    assert Path(s["file"]).is_file() and Path(s["file"]).is_relative_to(Path(sv_app.data_dir))
    hb = await h.direct(client, sv_app, "HARBOR", {"pool": "tank", "match": "direct-*", "keep_last": 1})
    assert hb["volumes"][0]["delete"] == [] and hb["volumes"][0]["managed"] == 1
    o = await h.direct(client, sv_app, "ORACLE", {"smart": False})
    assert {p["pool"] for p in o["pools"]} == {"tank", "copy"}
    s = await h.direct(client, sv_app, "SENTRY", {"smart": False})
    assert s["checked"] == {"pool:tank": "online", "pool:copy": "online"}
    ar = await h.direct(client, sv_app, "ARCHITECT", {"planned": [{"name": "x", "size": 10}]})
    assert ar["raw"] == 10
