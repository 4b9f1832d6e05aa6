"""The backend against real ZFS (zfs-fuse here): every operation does the real thing."""

from __future__ import annotations

import asyncio
import os
import pathlib
import uuid

import pytest

from sigmavault.commands import run
from sigmavault.errors import APIError



def unique(stem: str) -> str:
    return f"svt{stem}{uuid.uuid4().hex[:8]}"


async def test_mirror_pool_volumes_snapshots_rollback_clone(backend, loop_devices) -> None:
    devs = await loop_devices(2)
    name = unique("m")
    pool = await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs, options={})
    assert pool["layout"] == "mirror" and pool["state"] == "online"
    assert sorted(d["path"] for d in pool["devices"]) == sorted(devs)
    # a 128 MiB mirror: the raw vdev space, and what may be written (labels, metadata and the
    # slop reservation off)
    assert pool["properties"]["raw_size"] > 100 << 20 and 80 << 20 < pool["size"] < 128 << 20
    assert pool["mountpoint"].endswith(f"/mnt/{name}")
    assert sorted(await backend.pool_devices(name=name)) == sorted(devs)
    assert name in [p["name"] for p in await backend.pool_list()]

    vol = await backend.volume_create(pool=name, name="data", quota=32 << 20, compression="gzip")
    assert vol["quota"] == 32 << 20 and vol["compression"] == "gzip"
    vol = await backend.volume_update(pool=name, name="data",
                                      changes={"recordsize": 16384, "atime": False, "readonly": False})
    assert vol["properties"]["recordsize"] == 16384 and vol["properties"]["atime"] == "off"
    with open(os.path.join(vol["path"], "text.txt"), "w") as f:
        f.write("compressible line\n" * 20000)
    os.sync()
    await backend.snapshot_create(pool=name, volume="data", name="s1")
    os.rename(os.path.join(vol["path"], "text.txt"), os.path.join(vol["path"], "moved.txt"))
    with open(os.path.join(vol["path"], "new.txt"), "w") as f:
        f.write("new")
    await backend.snapshot_create(pool=name, volume="data", name="s2")
    snaps = await backend.snapshot_list(pool=name, volume="data")
    assert sorted(s["name"] for s in snaps) == ["s1", "s2"] and all(s["created"] for s in snaps)

    changes = await backend.diff(pool=name, volume="data", old="s1", new="s2")
    assert {"path": "moved.txt", "change": "renamed", "type": "file", "old_path": "text.txt"} in changes
    assert {"path": "new.txt", "change": "added", "type": "file", "old_path": None} in changes

    vol = await backend.volume_get(pool=name, name="data")
    assert vol["properties"]["compressratio"] > 1.5

    await backend.snapshot_rollback(pool=name, volume="data", name="s1")
    assert sorted(os.listdir(vol["path"])) == ["text.txt"]
    assert [s["name"] for s in await backend.snapshot_list(pool=name, volume="data")] == ["s1"]

    clone = await backend.snapshot_clone(pool=name, volume="data", name="s1", target="copy")
    assert clone["origin"] == f"{name}/data@s1" and os.listdir(clone["path"]) == ["text.txt"]
    assert sorted(v["name"] for v in await backend.volume_list(pool=name)) == ["copy", "data"]

    held = await backend.snapshot_hold(pool=name, volume="data", name="s1", tag="keep")
    assert held["properties"]["holds"] == 1
    with pytest.raises(APIError) as err:
        await backend.snapshot_delete(pool=name, volume="data", name="s1")
    assert err.value.status == 409
    await backend.snapshot_release(pool=name, volume="data", name="s1", tag="keep")
    with pytest.raises(APIError) as err:  # the clone depends on it
        await backend.snapshot_delete(pool=name, volume="data", name="s1")
    assert err.value.status == 409
    await backend.volume_destroy(pool=name, name="copy")
    await backend.snapshot_delete(pool=name, volume="data", name="s1")
    await backend.volume_destroy(pool=name, name="data")
    assert await backend.volume_list(pool=name) == []
    await backend.pool_destroy(name=name)
    with pytest.raises(APIError) as err:
        await backend.pool_get(name=name)
    assert err.value.status == 404


async def test_bad_input_changes_nothing(backend, loop_devices) -> None:
    devs = await loop_devices(2)
    name = unique("b")
    for topology, devices in (({"layout": "raid5"}, devs), ({"layout": "raidz2"}, devs),
                              ({"layout": "mirror"}, devs[:1])):
        with pytest.raises(APIError) as err:
            await backend.pool_create(name=name, topology=topology, devices=devices, options={})
        assert err.value.status == 400
    for bad in ("mirror", "1abc", "log"):
        with pytest.raises(APIError):
            await backend.pool_create(name=bad, topology={"layout": "mirror"}, devices=devs, options={})
    with pytest.raises(APIError):
        await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs,
                                  options={"bogus": 1})
    for mountpoint in ("/etc", "relative/dir", "/usr/local/x", str(pathlib.Path(__file__).parent)):
        with pytest.raises(APIError) as err:
            await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs,
                                      options={"mountpoint": mountpoint})
        assert err.value.status == 400
    assert name not in [p["name"] for p in await backend.pool_list()]
    await backend.pool_create(name=name, topology={"layout": "stripe"}, devices=devs[:1], options={})
    await backend.volume_create(pool=name, name="v", quota=None, compression=None)
    with pytest.raises(APIError) as err:
        await backend.volume_update(pool=name, name="v", changes={"compression": "gzip", "recordsize": 1000})
    assert err.value.status == 400
    assert (await backend.volume_get(pool=name, name="v"))["compression"] is None
    with pytest.raises(APIError) as err:
        await backend.volume_create(pool=name, name="v", quota=None, compression=None)
    assert err.value.status == 409
    with pytest.raises(APIError) as err:
        await backend.snapshot_get(pool=name, volume="v", name="nope")
    assert err.value.status == 404
    with pytest.raises(APIError) as err:
        await backend.device_remove(pool=name, device=devs[0])
    assert err.value.status == 501  # zfs-fuse cannot remove a data vdev


async def test_device_lifecycle_offline_online_attach_detach_replace(backend, loop_devices) -> None:
    devs = await loop_devices(4)
    name = unique("d")
    await backend.pool_create(name=name, topology={"layout": "stripe"}, devices=devs[:1], options={})
    pool = await backend.device_attach(pool=name, device=devs[0], new=devs[1])
    assert pool["layout"] == "mirror" and len(pool["devices"]) == 2
    pool = await backend.device_offline(pool=name, device=devs[1])
    assert pool["state"] == "degraded" and pool["devices"][1]["state"] == "removed"
    health = await backend.pool_health(name=name)
    assert any(p["device"] == devs[1] for p in health["problems"])
    pool = await backend.device_online(pool=name, device=devs[1])
    assert pool["state"] == "online"
    progress: list = []
    pool = await backend.device_replace(pool=name, old=devs[1], new=devs[2],
                                        progress=lambda pct, desc: progress.append(pct))
    assert sorted(d["path"] for d in pool["devices"]) == sorted([devs[0], devs[2]])
    assert progress and progress[-1] == 100.0
    pool = await backend.device_add(pool=name, devices=[devs[3]], role="spare")
    assert devs[3] in [d["path"] for d in pool["devices"]]
    pool = await backend.device_remove(pool=name, device=devs[3])
    assert devs[3] not in [d["path"] for d in pool["devices"]]
    pool = await backend.device_remove(pool=name, device=devs[2])  # a mirror member: detach
    assert [d["path"] for d in pool["devices"]] == [devs[0]] and pool["layout"] == "stripe"


async def test_export_import(backend, loop_devices) -> None:
    devs = await loop_devices(2)
    name = unique("e")
    await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs, options={})
    await backend.volume_create(pool=name, name="keep", quota=None, compression=None)
    await backend.pool_export(name=name)
    assert name not in [p["name"] for p in await backend.pool_list()]
    assert name in [p["name"] for p in await backend.importable(dirs=["/dev"])]
    pool = await backend.pool_import(name=name, devices=devs, options={})
    assert pool["state"] == "online"
    assert [v["name"] for v in await backend.volume_list(pool=name)] == ["keep"]


async def test_raidz_with_log_and_spare(backend, loop_devices) -> None:
    devs = await loop_devices(6)
    name = unique("z")
    pool = await backend.pool_create(name=name, topology={"layout": "raidz1"}, devices=devs[:3],
                                     options={"log": [devs[3]], "spares": [devs[4]],
                                              "cache": [devs[5]]})
    assert pool["layout"] == "raidz1"
    topo = pool["properties"]["topology"]
    assert topo["logs"][0]["path"] == devs[3] and topo["spares"][0]["path"] == devs[4]
    assert topo["cache"][0]["path"] == devs[5]
    assert sorted(await backend.pool_devices(name=name)) == sorted(devs)
    assert len(topo["vdevs"][0]["children"]) == 3


async def test_send_receive_full_and_incremental(backend, loop_devices, tmp_path) -> None:
    devs = await loop_devices(1)
    name = unique("s")
    await backend.pool_create(name=name, topology={"layout": "stripe"}, devices=devs, options={})
    vol = await backend.volume_create(pool=name, name="src", quota=None, compression=None)
    with open(os.path.join(vol["path"], "a"), "w") as f:
        f.write("one")
    await backend.snapshot_create(pool=name, volume="src", name="s1")
    with open(os.path.join(vol["path"], "b"), "w") as f:
        f.write("two")
    await backend.snapshot_create(pool=name, volume="src", name="s2")
    full = await backend.send(pool=name, volume="src", snapshot="s1", target=str(tmp_path / "full.zs"))
    inc = await backend.send(pool=name, volume="src", snapshot="s2", target=str(tmp_path / "inc.zs"),
                             base="s1")
    assert full["format"] == "zfs-send" and full["bytes"] > 0 and inc["incremental"]
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]
    with pytest.raises(APIError) as err:  # the base is not there yet
        await backend.receive(pool=name, volume="dst", source=str(tmp_path / "inc.zs"))
    assert err.value.status in (404, 409)
    snap = await backend.receive(pool=name, volume="dst", source=str(tmp_path / "full.zs"))
    assert snap["name"] == "s1"
    snap = await backend.receive(pool=name, volume="dst", source=str(tmp_path / "inc.zs"))
    assert snap["name"] == "s2"
    dst = await backend.volume_get(pool=name, name="dst")
    assert sorted(os.listdir(dst["path"])) == ["a", "b"]


async def test_corrupted_mirror_member_shows_checksum_errors(backend, loop_devices) -> None:
    devs = await loop_devices(2)
    name = unique("c")
    events: list = []
    backend.on_change = lambda pool, data: events.append((pool, data))
    await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs, options={})
    vol = await backend.volume_create(pool=name, name="v", quota=None, compression=None)
    with open(os.path.join(vol["path"], "blob"), "wb") as f:
        f.write(os.urandom(24 << 20))
    os.sync()
    await run(["zpool", "scrub", name])  # settles the data on disk
    backing = loop_devices.backing(devs[1])
    with open(backing, "r+b") as f:
        f.seek(8 << 20)
        f.write(os.urandom(40 << 20))
    await backend.scrub_start(pool=name)
    for _ in range(60):
        status = await backend.scrub_status(pool=name)
        if status["state"] != "running":
            break
        await asyncio.sleep(0.5)
    assert status["state"] == "finished"
    assert status["details"]["checksum_errors"] > 0
    pool = await backend.pool_get(name=name)
    bad = [d for d in pool["devices"] if d["path"] == devs[1]][0]
    assert bad["errors"]["checksum"] > 0
    health = await backend.pool_health(name=name)
    assert any(p["device"] == devs[1] and "checksum" in p["message"] for p in health["problems"])
    assert events and events[-1][0] == name
    assert any(d["device"] == devs[1] and d["checksum"] > 0 for d in events[-1][1]["devices"])


async def test_scrub_start_returns_while_the_scrub_runs(backend, loop_devices) -> None:
    devs = await loop_devices(1, size=512 << 20)
    name = unique("p")
    await backend.pool_create(name=name, topology={"layout": "stripe"}, devices=devs, options={})
    await run(["zfs", "create", "-o", "recordsize=4K", "-o", "checksum=sha256", f"{name}/small"])
    mount = (await backend.volume_get(pool=name, name="small"))["path"]
    with open(os.path.join(mount, "f"), "wb") as f:
        f.write(os.urandom(96 << 20))
    os.sync()
    seen = []
    await backend.scrub_start(pool=name)
    for _ in range(2000):
        status = await backend.scrub_status(pool=name)
        seen.append((status["state"], status["percent"]))
        if status["state"] != "running":
            break
        await asyncio.sleep(0.02)
    assert seen[-1] == ("finished", 100.0), seen[-5:]
    running = [p for state, p in seen if state == "running" and p is not None]
    assert running and min(running) < 100.0, seen[:5]     # progress was visible meanwhile
