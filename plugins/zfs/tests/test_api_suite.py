"""The storage service's backend-agnostic API suite on ZFS, plus the corruption scenario and the
ZFS-only routes, all through HTTP/WebSocket."""

from __future__ import annotations

import asyncio
import errno
import os
import uuid

import pytest

from sigmavault.testing import backend_suite, next_event, wait_job
ok, error, API = backend_suite.ok, backend_suite.error, backend_suite.API


@pytest.fixture
def sv_config_overrides(tmp_path):
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True,
                        "scrub_poll_interval": 0.2},
            "zfs": {"mount_root": str(tmp_path / "zfsmnt")}}


@pytest.fixture
async def loop_pairs(loop_devices):
    """Six loop devices made up front: ``pool_body`` is a plain function and cannot await."""
    return await loop_devices(6)


class TestZfsApi(backend_suite.BackendSuite):
    @pytest.fixture
    def pool_body(self, loop_pairs):
        given: dict[str, list[str]] = {}
        free = list(loop_pairs)

        def make(name: str) -> dict:
            if name not in given:
                given[name] = [free.pop(0), free.pop(0)]
            return {"name": name, "backend": "zfs", "topology": {"layout": "mirror"},
                    "devices": given[name]}
        return make


def unique(stem: str) -> str:
    return f"svt{stem}{uuid.uuid4().hex[:6]}"


async def test_backend_advertises_zfs(client):
    infos = await ok(await client.get(f"{API}/backends"))
    [zfs] = [b for b in infos if b["name"] == "zfs"]
    assert zfs["available"], zfs
    assert zfs["capabilities"]["raid_levels"] == ["stripe", "mirror", "raidz1", "raidz2", "raidz3"]
    status = await ok(await client.get("/api/v1/zfs/status"))
    assert status["cli"] in ("zfs-fuse", "openzfs") and status["available"]


async def test_corrupted_mirror_member_through_the_api(client, loop_devices):
    devs = await loop_devices(2)
    name = unique("c")
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "zfs", "topology": {"layout": "mirror"}, "devices": devs}), 201)
    assert pool["state"] == "online"
    vol = await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "data"}), 201)
    with open(os.path.join(vol["path"], "blob"), "wb") as f:
        f.write(os.urandom(24 << 20))
    os.sync()
    job = await ok(await client.post(f"{API}/pools/{name}/scrub"), 202)
    assert (await wait_job(client, job["id"], timeout=60))["state"] == "SUCCESS"

    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event", "job.progress"]})
    await asyncio.sleep(0.1)
    backing = loop_devices.backing(devs[1])  # overwrite part of the second member's file
    with open(backing, "r+b") as f:
        f.seek(8 << 20)
        f.write(os.urandom(40 << 20))
    job = await ok(await client.post(f"{API}/pools/{name}/scrub"), 202)
    done = await wait_job(client, job["id"], timeout=120)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["details"]["checksum_errors"] > 0
    assert done["result"]["details"]["repaired_devices"] == [devs[1]]

    seen = []
    await next_event(ws, lambda e: seen.append(e) or (e["type"] == "storage.event" and
                                                      e["data"]["kind"] == "scrub_finished"), timeout=30)
    await ws.close()
    storage = [e["data"] for e in seen if e["type"] == "storage.event" and e["data"]["pool"] == name]
    moved = [d for d in storage if d["kind"] == "pool_state" and d["disk"] == devs[1]]
    assert moved, storage                   # one per poll that saw the counters grow
    ev = moved[-1]
    assert "checksum errors" in ev["message"] and ev["details"]["devices"][0]["checksum"] > 0
    progress = [d for d in storage if d["kind"] == "scrub_progress"]
    assert progress and progress[-1]["details"]["percent"] == 100.0
    assert storage[-1]["details"]["details"]["checksum_errors"] > 0       # scrub_finished
    assert done["progress"]["percent"] == 100.0

    got = await ok(await client.get(f"{API}/pools/{name}"))
    bad = [d for d in got["devices"] if d["path"] == devs[1]][0]
    assert bad["errors"]["checksum"] > 0 and got["state"] in ("online", "degraded")
    health = await ok(await client.get(f"{API}/pools/{name}/health"))
    assert any(p["device"] == devs[1] and "checksum" in p["message"] for p in health["problems"])
    status = await ok(await client.get(f"/api/v1/zfs/pools/{name}/status"))
    leaf = status["vdevs"][0]["children"][1]
    assert leaf["errors"]["checksum"] > 0 and "repaired" in (leaf["note"] or "")
    cleared = await ok(await client.post(f"/api/v1/zfs/pools/{name}/clear", json={}))
    assert cleared["vdevs"][0]["children"][1]["errors"]["checksum"] == 0
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)


async def test_zfs_routes_devices_properties_holds(client, loop_devices, readonly_client):
    devs = await loop_devices(3)
    name = unique("r")
    await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "zfs", "topology": {"layout": "stripe"}, "devices": devs[:1]}), 201)
    base = f"/api/v1/zfs/pools/{name}"
    job = await ok(await client.post(f"{base}/attach", json={"device": devs[0], "new": devs[1]}), 202)
    done = await wait_job(client, job["id"], timeout=60)
    assert done["state"] == "SUCCESS" and done["result"]["layout"] == "mirror"
    await error(await client.post(f"{base}/attach", json={"device": devs[0], "new": devs[1]}), 409)
    await error(await client.post(f"{base}/attach", json={"device": devs[0], "new": "/etc/passwd"}), 400)
    off = await ok(await client.post(f"{base}/offline", json={"device": devs[1]}))
    assert off["state"] == "DEGRADED"
    await error(await readonly_client.post(f"{base}/online", json={"device": devs[1]}), 403)
    on = await ok(await client.post(f"{base}/online", json={"device": devs[1]}))
    assert on["state"] == "ONLINE"
    await error(await client.post(f"{base}/offline", json={"device": "/dev/nosuch"}), 404)
    spare = await ok(await client.post(f"{base}/devices", json={"devices": [devs[2]], "role": "spare"}))
    assert spare["spares"][0]["path"] == devs[2]
    det = await ok(await client.post(f"{base}/detach", json={"device": devs[1]}))
    assert det["layout"] == "stripe"

    vol = await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "v"}), 201)
    props = await ok(await client.patch(f"{base}/volumes/v/properties", json={
        "compression": "gzip", "quota": 64 << 20, "recordsize": 16384, "atime": False,
        "readonly": False}))
    assert (props["compression"], props["quota"], props["recordsize"], props["atime"]) == \
        ("gzip", 64 << 20, 16384, "off")
    assert props["sources"]["recordsize"] == "local"
    await _readonly_blocks_writes(client, base, vol["path"])
    await _compressible_data_compresses(client, base, vol["path"])
    await error(await client.patch(f"{base}/volumes/v/properties", json={"recordsize": 3000}), 400)
    await error(await client.patch(f"{base}/volumes/v/properties", json={"compression": "brotli"}), 400)
    still = await ok(await client.get(f"{base}/volumes/v/properties"))
    assert still["recordsize"] == 16384 and still["compression"] == "on"

    await ok(await client.post(f"{API}/pools/{name}/volumes/v/snapshots", json={"name": "s"}), 201)
    held = await ok(await client.post(f"{base}/volumes/v/snapshots/s/holds", json={"tag": "keep"}))
    assert held["holds"] == 1
    await error(await client.delete(f"{API}/pools/{name}/volumes/v/snapshots/s"), 409)
    released = await ok(await client.delete(f"{base}/volumes/v/snapshots/s/holds/keep"))
    assert released["holds"] == 0
    await ok(await client.delete(f"{API}/pools/{name}/volumes/v/snapshots/s"), 204)
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)


async def _readonly_blocks_writes(client, base: str, mount: str) -> None:
    """readonly=on refuses a write through the mountpoint with EROFS; off allows it again."""
    props = await ok(await client.patch(f"{base}/volumes/v/properties", json={"readonly": True}))
    assert props["readonly"] == "on"
    with pytest.raises(OSError) as refused:
        with open(os.path.join(mount, "while-ro"), "wb") as f:
            f.write(b"x")
    assert refused.value.errno == errno.EROFS
    assert not os.path.exists(os.path.join(mount, "while-ro"))
    props = await ok(await client.patch(f"{base}/volumes/v/properties", json={"readonly": False}))
    assert props["readonly"] == "off"
    with open(os.path.join(mount, "after-ro"), "wb") as f:
        f.write(b"x")
    os.remove(os.path.join(mount, "after-ro"))


async def _compressible_data_compresses(client, base: str, mount: str) -> None:
    """compression=on (lzjb on zfs-fuse) on 16 MiB of text: compressratio well above 1."""
    props = await ok(await client.patch(f"{base}/volumes/v/properties", json={"compression": "on"}))
    assert props["compression"] == "on"
    line = b"".join(b"%08d sigmavault compressible line\n" % i for i in range(256))
    with open(os.path.join(mount, "text"), "wb") as f:
        for _ in range((16 << 20) // len(line)):
            f.write(line)
        f.flush()
        os.fsync(f.fileno())
    os.sync()
    ratio = 1.0
    for _ in range(60):  # the ratio follows the transaction group that writes the blocks
        ratio = (await ok(await client.get(f"{base}/volumes/v/properties")))["compressratio"]
        if ratio > 1.2:
            break
        await asyncio.sleep(0.5)
    assert ratio > 1.2, ratio
    os.remove(os.path.join(mount, "text"))


async def test_import_an_exported_pool_through_the_api(client, sv_app, loop_devices):
    devs = await loop_devices(2)
    name = unique("i")
    backend = sv_app.registries["storage_backends"]["zfs"]
    await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs, options={})
    await backend.volume_create(pool=name, name="keep", quota=None, compression=None)
    await backend.pool_export(name=name)    # a pool carried over from another machine
    await error(await client.get(f"{API}/pools/{name}"), 404)
    found = await ok(await client.get("/api/v1/zfs/importable", params={"dir": "/dev"}))
    assert name in [p["name"] for p in found]
    await error(await client.get("/api/v1/zfs/importable", params={"dir": "../etc"}), 400)
    pool = await ok(await client.post(f"{API}/pools/import", json={
        "name": name, "backend": "zfs", "devices": devs}), 201)
    assert pool["state"] == "online" and sorted(d["path"] for d in pool["devices"]) == sorted(devs)
    vols = await ok(await client.get(f"{API}/pools/{name}/volumes"))
    assert [v["name"] for v in vols] == ["keep"]
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)


async def test_cached_snapshot_listing_sees_changes_made_outside(client, sv_app, loop_devices):
    """The service caches listings behind ``snapshot_list_token``; snapshots made or destroyed
    with the zfs CLI behind its back must still show up at once."""
    from sigmavault.commands import run

    devs = await loop_devices(1)
    name = unique("k")
    await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "zfs", "topology": {"layout": "stripe"}, "devices": devs}), 201)
    await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "v"}), 201)
    base = f"{API}/pools/{name}/volumes/v/snapshots"
    await ok(await client.post(base, json={"name": "a"}), 201)
    backend = sv_app.registries["storage_backends"]["zfs"]
    first = await backend.snapshot_list_token(pool=name, volume="v")
    assert first and first == await backend.snapshot_list_token(pool=name, volume="v")  # idle
    assert [s["name"] for s in (await ok(await client.get(base)))["items"]] == ["a"]
    await run(["zfs", "snapshot", f"{name}/v@outside"])
    assert await backend.snapshot_list_token(pool=name, volume="v") != first
    names = sorted(s["name"] for s in (await ok(await client.get(base)))["items"])
    assert names == ["a", "outside"]
    await run(["zfs", "destroy", f"{name}/v@a"])
    assert [s["name"] for s in (await ok(await client.get(base)))["items"]] == ["outside"]
    await run(["zfs", "hold", "k1", f"{name}/v@outside"])
    [snap] = (await ok(await client.get(base)))["items"]
    assert snap["properties"]["holds"] == 1
    await run(["zfs", "release", "k1", f"{name}/v@outside"])


async def test_grow_replace_and_remove_devices_through_the_storage_api(client, loop_devices):
    from sigmavault.commands import run

    devs = await loop_devices(5)
    name = unique("g")
    await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "zfs", "topology": {"layout": "mirror"}, "devices": devs[:2]}), 201)
    grown = await ok(await client.patch(f"{API}/pools/{name}", json={
        "add_devices": devs[2:4], "options": {"autoexpand": True}}))
    assert grown["layout"] == "mirror" and len(grown["devices"]) == 4
    assert [len(v["children"]) for v in grown["properties"]["topology"]["vdevs"]] == [2, 2]
    got = await run(["zpool", "get", "autoexpand", name])
    assert "on" in got.stdout.split()
    await error(await client.patch(f"{API}/pools/{name}", json={"options": {"ashift": 9}}), 400)
    job = await ok(await client.post(f"{API}/pools/{name}/devices/replace",
                                     json={"old": devs[1], "new": devs[4]}), 202)
    done = await wait_job(client, job["id"], timeout=120)
    assert done["state"] == "SUCCESS", done
    paths = sorted(d["path"] for d in (await ok(await client.get(f"{API}/pools/{name}")))["devices"])
    assert paths == sorted([devs[0], devs[2], devs[3], devs[4]])
    job = await ok(await client.post(f"{API}/pools/{name}/devices/remove", json={"device": devs[4]}), 202)
    done = await wait_job(client, job["id"], timeout=60)
    assert done["state"] == "SUCCESS", done
    pool = await ok(await client.get(f"{API}/pools/{name}"))
    assert devs[4] not in [d["path"] for d in pool["devices"]] and pool["layout"] == "mixed"
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)


class TestScrubProgress:
    @pytest.fixture
    def sv_config_overrides(self, tmp_path):
        return {"storage": {"monitor_interval": 0, "include_loop_devices": True,
                            "scrub_poll_interval": 0.05},
                "zfs": {"mount_root": str(tmp_path / "zfsmnt")}}

    async def test_scrub_progress_events_while_the_scrub_runs(self, client, loop_devices,
                                                              zfs_cpu_limited):
        await _scrub_progress_scenario(client, loop_devices, zfs_cpu_limited)


async def _scrub_progress_scenario(client, loop_devices, cpu_limited):
    from sigmavault.commands import run

    devs = await loop_devices(1, size=512 << 20)
    name = unique("s")
    await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "zfs", "topology": {"layout": "stripe"}, "devices": devs}), 201)
    await run(["zfs", "create", "-o", "recordsize=4K", "-o", "checksum=sha256", f"{name}/small"])
    mount = (await ok(await client.get(f"{API}/pools/{name}/volumes/small")))["path"]
    with open(os.path.join(mount, "f"), "wb") as f:
        f.write(os.urandom(96 << 20))
    os.sync()
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
    await asyncio.sleep(0.1)
    seen = []
    with cpu_limited(10):
        job = await ok(await client.post(f"{API}/pools/{name}/scrub"), 202)
        await next_event(ws, lambda e: e["type"] == "storage.event" and e["data"]["pool"] == name and (
            seen.append(e["data"]) or e["data"]["kind"] == "scrub_finished"), timeout=120)
    await ws.close()
    done = await wait_job(client, job["id"], timeout=60)
    assert done["state"] == "SUCCESS" and done["result"]["state"] == "finished"
    percents = [d["details"]["percent"] for d in seen if d["kind"] == "scrub_progress"]
    assert percents[-1] == 100.0 and any(0 < p < 100 for p in percents), percents
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)


@pytest.mark.sv_config({"zfs": {"start_daemon": True}})
async def test_start_daemon_leaves_a_running_daemon_alone(sv_app, client, zfs_daemon):
    from sigmavault_zfs import daemon
    from sigmavault_zfs.service import ZfsService

    status = await ok(await client.get("/api/v1/zfs/status"))
    assert status["available"]
    service = sv_app.services[ZfsService]
    handle = service.daemon
    assert handle is not None and handle.started is False  # zpool answered already: nothing started
    await service.stop()
    assert await daemon.responsive()     # and so nothing is stopped
