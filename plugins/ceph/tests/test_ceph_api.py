"""Ceph-only behaviour through the API, on the session cluster of conftest.py (2 OSDs):
replica count checked against the OSDs, names Ceph refuses, quota enforced by CephFS through
the mount, adoption refused for a weak key, a cluster with a file system made with the plain Ceph
tools adopted by a daemon that did not know it (conf + keyring) and listed (pools, volumes,
health, OSDs, PGs) without change, and a stopped OSD seen as a degraded pool (storage.event)
and back."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sigmavault.testing import load_module, wait_job
from sigmavault.testing.backend_suite import API, error, ok

_helpers = load_module(Path(__file__).with_name("cephtest.py"))
OSDS, ceph = _helpers.OSDS, _helpers.ceph

pytestmark = pytest.mark.root


def unique(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def make_pool(client):
    made: list[str] = []

    async def make(size: int = 1, **options) -> dict:
        name = unique("cp")
        body = {"name": name, "backend": "ceph", "options": {"size": size, **options}}
        pool = await ok(await client.post(f"{API}/pools", json=body), 201)
        made.append(name)
        return pool

    yield make
    for name in made:
        resp = await client.delete(f"{API}/pools/{name}", params={"confirm": name})
        assert resp.status in (204, 404), await resp.text()


async def test_backend_and_cluster_listing(client, ceph_cluster):
    infos = await ok(await client.get(f"{API}/backends"))
    [info] = [b for b in infos if b["name"] == "ceph"]
    assert info["available"], info
    caps = info["capabilities"]
    assert caps["snapshots"] and caps["quotas"] and caps["scrub"] and not caps["needs_devices"]
    clusters = await ok(await client.get("/api/v1/ceph/clusters"))
    [c] = clusters
    assert c["fsid"] == ceph_cluster.fsid and c["source"] == "config"
    assert c["osds"] == OSDS and c["osds_up"] == OSDS and c["health"] in ("HEALTH_OK", "HEALTH_WARN")
    # bootstrapping is off unless configured
    await error(await client.post("/api/v1/ceph/clusters/bootstrap", json={}), 409,
                "bootstrap_disabled")


async def test_replicas_checked_against_osds_and_names_ceph_refuses(client, make_pool):
    for size, code in ((OSDS + 1, "bad_size"), (0, "bad_size"), ("two", "bad_size")):
        err = await error(await client.post(f"{API}/pools", json={
            "name": unique("cp"), "backend": "ceph", "options": {"size": size}}), 400, code)
        if size == OSDS + 1:
            assert f"{OSDS} OSD(s)" in err["message"], err
    await error(await client.post(f"{API}/pools", json={
        "name": "a:b", "backend": "ceph"}), 400, "invalid_name")
    await error(await client.post(f"{API}/pools", json={
        "name": unique("cp"), "backend": "ceph", "options": {"bogus": 1}}), 400, "bad_options")
    pool = await make_pool(size=2)
    assert pool["properties"]["replicas"] == 2 and pool["layout"] == "replicated x2"
    p = pool["name"]
    await error(await client.post(f"{API}/pools/{p}/volumes", json={"name": "x:y"}), 400,
                "invalid_name")
    await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "v"}), 201)
    await error(await client.post(f"{API}/pools/{p}/volumes/v/snapshots",
                                  json={"name": "s:1"}), 400, "invalid_name")
    await error(await client.post(f"{API}/pools/{p}/volumes/v/snapshots/nope/clone",
                                  json={"target": "c"}), 404)
    listed = [x["name"] for x in await ok(await client.get(f"{API}/pools"))]
    assert p in listed and "a:b" not in listed


async def test_quota_is_enforced_by_cephfs(client, make_pool):
    pool = await make_pool()
    p = pool["name"]
    vol = await ok(await client.post(f"{API}/pools/{p}/volumes",
                                     json={"name": "capped", "quota": 16 << 20}), 201)
    assert vol["quota"] == 16 << 20
    path = Path(vol["path"])
    assert os.getxattr(path, "ceph.quota.max_bytes") == str(16 << 20).encode()
    chunk = os.urandom(1 << 20)
    written = 0
    with pytest.raises(OSError) as err, open(path / "big", "wb") as f:
        for _ in range(64):
            f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            written += len(chunk)
    assert err.value.errno == errno.EDQUOT, err.value
    assert written <= 20 << 20, written   # stopped near the quota (ceph-fuse checks per write)
    (path / "big").unlink()
    vol = await ok(await client.patch(f"{API}/pools/{p}/volumes/capped", json={"quota": None}))
    assert vol["quota"] is None
    with open(path / "big", "wb") as f:   # no quota: the same write goes through
        for _ in range(24):
            f.write(chunk)
    (path / "big").unlink()


async def test_adopt_refuses_a_weak_key_and_a_known_cluster(client, ceph_cluster, tmp_path):
    keyring = tmp_path / "weak.keyring"
    ceph(ceph_cluster, "auth", "get-or-create", "client.svweak", "mon", "allow r", "osd",
         "allow r", "-o", str(keyring))
    os.chmod(keyring, 0o600)
    try:
        err = await error(await client.post("/api/v1/ceph/clusters", json={
            "conf": str(ceph_cluster.conf), "keyring": str(keyring), "client_id": "svweak"}),
            400, "insufficient_caps")
        assert "client.svweak" in err["message"], err
        err = await error(await client.post("/api/v1/ceph/clusters", json={
            "conf": str(ceph_cluster.conf), "keyring": str(ceph_cluster.admin_keyring)}), 409,
            "cluster_known")
        await error(await client.post("/api/v1/ceph/clusters", json={
            "conf": "/nonexistent/ceph.conf"}), 400)
        await error(await client.post("/api/v1/ceph/clusters", json={
            "conf": "relative.conf"}), 400)
    finally:
        ceph(ceph_cluster, "auth", "rm", "client.svweak")


def cluster_state(cluster) -> dict:
    """What must not change when a cluster is adopted and listed: the map epochs, the pools,
    the file systems, the OSDs."""
    st = json.loads(ceph(cluster, "status", "--format", "json"))
    osd = json.loads(ceph(cluster, "osd", "dump", "--format", "json"))
    return {"fsmap": st["fsmap"]["epoch"], "monmap": st["monmap"]["epoch"],
            "osdmap": osd["epoch"], "pools": sorted(p["pool_name"] for p in osd["pools"]),
            "osds": [(o["osd"], o["up"], o["in"]) for o in osd["osds"]],
            "fs": json.loads(ceph(cluster, "fs", "ls", "--format", "json"))}


# a second daemon that knows no cluster: it adopts the running one with a conf and a keyring
@pytest.mark.sv_config({"storage": {"monitor_interval": 0}, "ceph": {}})
async def test_a_cluster_made_with_the_ceph_tools_is_adopted_and_listed_unchanged(
        client, ceph_cluster, tmp_path):
    name = unique("plain")
    meta, data = f"{name}_meta", f"{name}_data"
    ceph(ceph_cluster, "osd", "pool", "create", meta, "4", "4", "replicated", "--size", "1",
         "--autoscale-mode", "off")
    ceph(ceph_cluster, "osd", "pool", "create", data, "4", "4", "replicated", "--size", "1",
         "--autoscale-mode", "off")
    ceph(ceph_cluster, "fs", "new", name, meta, data)
    keyring = tmp_path / "adopt.keyring"   # just the capabilities the backend asks for
    ceph(ceph_cluster, "auth", "get-or-create", "client.svadopt", "mon", "allow *", "mgr",
         "allow rw", "osd", "allow rw", "mds", "allow rwps", "-o", str(keyring))
    os.chmod(keyring, 0o600)
    try:
        for _ in range(120):
            fs = json.loads(ceph(ceph_cluster, "fs", "status", name, "--format", "json"))
            if any(m["state"] == "active" for m in fs["mdsmap"]):
                break
            await asyncio.sleep(0.5)
        ceph(ceph_cluster, "fs", "subvolume", "create", name, "legacy")
        assert await ok(await client.get("/api/v1/ceph/clusters")) == []
        before = cluster_state(ceph_cluster)

        info = await ok(await client.post("/api/v1/ceph/clusters", json={
            "conf": str(ceph_cluster.conf), "keyring": str(keyring), "client_id": "svadopt"}),
            201)
        assert info["fsid"] == ceph_cluster.fsid and info["source"] == "adopted"
        assert info["client_id"] == "svadopt" and info["warnings"] == []
        assert name in info["filesystems"] and info["osds_up"] == OSDS
        assert info["health"] in ("HEALTH_OK", "HEALTH_WARN") and not info["daemons"]
        pools = {x["name"]: x for x in await ok(await client.get(f"{API}/pools"))}
        assert pools[name]["backend"] == "ceph" and pools[name]["state"] in ("online", "degraded")
        assert pools[name]["properties"]["data_pool"] == data
        assert pools[name]["properties"]["cluster"] == ceph_cluster.fsid
        health = await ok(await client.get(f"{API}/pools/{name}/health"))
        assert health["state"] in ("online", "degraded"), health
        vols = await ok(await client.get(f"{API}/pools/{name}/volumes"))
        assert [v["name"] for v in vols] == ["legacy"] and Path(vols[0]["path"]).is_dir()
        osds = await ok(await client.get(f"/api/v1/ceph/clusters/{ceph_cluster.fsid}/osds"))
        assert [o["id"] for o in osds] == list(range(OSDS))
        assert all(o["up"] and o["in"] and not o["local"] and o["size"] == 4 << 30
                   and o["device"] for o in osds), osds
        pgs = await ok(await client.get(f"/api/v1/ceph/clusters/{ceph_cluster.name}/pgs"))
        assert pgs["num_pgs"] >= 8 and sum(pgs["states"].values()) == pgs["num_pgs"]
        # OSDs are added only where SigmaVault runs the cluster's daemons
        await error(await client.post(f"/api/v1/ceph/clusters/{ceph_cluster.fsid}/osds",
                                      json={"size": 2 << 30}), 409, "not_local")
        await ok(await client.delete(f"/api/v1/ceph/clusters/{ceph_cluster.fsid}"), 204)
        # the storage plugin remembers a pool it served: it stays listed, unavailable
        gone = {x["name"]: x for x in await ok(await client.get(f"{API}/pools"))}.get(name)
        assert gone is None or gone["state"] == "unavailable", gone
        # adopting, listing (and mounting) and forgetting changed nothing in the cluster
        assert cluster_state(ceph_cluster) == before
    finally:
        subprocess.run(["umount", "-l", "--", *[ln.split()[4] for ln in open("/proc/self/mountinfo")
                                               if ln.split()[4].endswith(f"/{name}")]],
                       capture_output=True)
        ceph(ceph_cluster, "auth", "rm", "client.svadopt")
        ceph(ceph_cluster, "fs", "fail", name)
        ceph(ceph_cluster, "fs", "rm", name, "--yes-i-really-mean-it")
        for pool in (meta, data):
            ceph(ceph_cluster, "osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it")


@pytest.mark.sv_config({"storage": {"monitor_interval": 1, "scrub_poll_interval": 0.2}})
async def test_a_stopped_osd_degrades_the_pool_and_recovery_is_seen(client, make_pool, ceph_cluster):
    pool = await make_pool(size=2)
    p = pool["name"]
    vol = await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "d"}), 201)
    Path(vol["path"], "f").write_bytes(os.urandom(1 << 20))
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
    await asyncio.sleep(0.2)

    async def state_event(new: str, timeout: float = 90) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await asyncio.wait_for(ws.receive_json(), max(0.1, deadline - loop.time()))
            d = msg.get("data", {})
            if msg["type"] == "storage.event" and d.get("kind") == "pool_state" \
                    and d.get("pool") == p and d.get("new") == new:
                return d

    osd = ceph_cluster.daemons[f"osd.{OSDS - 1}"]
    await osd.stop()
    try:
        ev = await state_event("degraded")
        assert ev["old"] == "online"
        health = await ok(await client.get(f"{API}/pools/{p}/health"))
        assert health["state"] == "degraded"
        assert any(f"osd.{OSDS - 1}" == pr["device"] for pr in health["problems"]), health
        # still readable and writable with one replica left (min_size 1)
        assert len(Path(vol["path"], "f").read_bytes()) == 1 << 20
    finally:
        await ceph_cluster.start_daemon("osd", str(OSDS - 1), supervised=False)
    await state_event("online", timeout=120)


async def test_scrub_reports_placement_groups(client, make_pool):
    pool = await make_pool()
    p = pool["name"]
    job = await ok(await client.post(f"{API}/pools/{p}/scrub"), 202)
    done = await wait_job(client, job["id"], timeout=120)
    assert done["state"] == "SUCCESS", done
    res = done["result"]
    assert res["state"] == "finished" and res["errors"] == 0
    assert res["details"]["pgs_done"] == res["details"]["pgs_total"] > 0
