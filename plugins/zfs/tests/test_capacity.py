"""Capacity you can trust (issue 24): pools, volumes and snapshots report ZFS's own accounting,
checked against ``zfs get -Hp`` and ``du`` on a real pool (zfs-fuse here)."""

from __future__ import annotations

import os
import uuid

from sigmavault.commands import run

MiB = 1 << 20


def unique(stem: str) -> str:
    return f"svt{stem}{uuid.uuid4().hex[:8]}"


async def zget(prop: str, dataset: str) -> int:
    return int((await run(["zfs", "get", "-Hp", "-o", "value", prop, dataset])).stdout.strip())


async def settled(dataset: str, prop: str = "used") -> int:
    """The property after a transaction group sync (space accounting moves at txg sync; a
    property set is a sync task, so it waits for one; twice, for frees deferred by one txg)."""
    os.sync()
    pool = dataset.split("/", 1)[0].split("@", 1)[0]
    for i in range(2):
        await run(["zfs", "set", f"sigmavault:settle={uuid.uuid4().hex[:6]}", pool])
    return await zget(prop, dataset)


async def du(path: str) -> int:
    return int((await run(["du", "-sB1", path])).stdout.split()[0])


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def close(value: int | None, expected: int, tolerance: float = 0.05) -> bool:
    return value is not None and abs(value - expected) <= tolerance * max(expected, 1)


async def test_volume_snapshot_and_pool_figures_are_zfs_own(backend, loop_devices) -> None:
    devs = await loop_devices(2)
    name = unique("cap")
    await backend.pool_create(name=name, topology={"layout": "mirror"}, devices=devs, options={})
    vol = await backend.volume_create(pool=name, name="data", quota=None, compression=None)
    ds = f"{name}/data"
    write(os.path.join(vol["path"], "random.bin"), os.urandom(8 * MiB))
    for i in range(20):
        write(os.path.join(vol["path"], f"small{i}.txt"), f"small file {i}\n".encode() * 50)
    used = await settled(ds)

    vol = await backend.volume_get(pool=name, name="data")
    assert vol["used"] == used, (vol["used"], used)             # the dataset's own figure
    assert close(vol["used"], await du(vol["path"])), (vol["used"], await du(vol["path"]))
    assert close(vol["used"], 8 * MiB, 0.10)
    props = vol["properties"]
    assert props["referenced"] == await zget("referenced", ds)
    assert props["usedbydataset"] == await zget("usedbydataset", ds)
    assert props["usedbysnapshots"] == 0
    assert props["available"] == await zget("available", ds)
    listed = {v["name"]: v for v in await backend.volume_list(pool=name)}
    assert listed["data"]["used"] == vol["used"]

    # a snapshot, then the data it holds replaced in the volume: its `used` is the 8 MiB only
    # it still holds (ZFS's unique bytes), its `referenced` what it shows
    await backend.snapshot_create(pool=name, volume="data", name="before")
    write(os.path.join(vol["path"], "random.bin"), os.urandom(8 * MiB))
    await settled(ds)
    snap_used = await settled(f"{ds}@before")
    [snap] = await backend.snapshot_list(pool=name, volume="data")
    assert snap["used"] == snap_used and close(snap["used"], 8 * MiB, 0.10), snap
    assert snap["properties"]["referenced"] == await zget("referenced", f"{ds}@before")
    got = await backend.snapshot_get(pool=name, volume="data", name="before")
    assert got["used"] == snap_used
    vol = await backend.volume_get(pool=name, name="data")
    assert close(vol["properties"]["usedbysnapshots"], 8 * MiB, 0.10), vol["properties"]
    assert vol["used"] == await zget("used", ds)
    assert close(vol["used"], vol["properties"]["usedbydataset"]
                 + vol["properties"]["usedbysnapshots"], 0.01)

    # the pool: what zfs list says may still be written, not zpool list's raw vdev space
    await settled(name)
    pool = await backend.pool_get(name=name)
    assert pool["free"] == await zget("available", name)
    assert pool["used"] == await zget("used", name)
    assert pool["size"] == pool["used"] + pool["free"]
    assert pool["properties"]["capacity_source"] == "dataset"
    assert pool["properties"]["raw_size"] >= pool["size"]
    assert close(pool["used"], 16 * MiB, 0.15)
    [listed_pool] = [p for p in await backend.pool_list() if p["name"] == name]
    assert listed_pool["free"] == pool["free"]

    await backend.snapshot_delete(pool=name, volume="data", name="before")
    await backend.volume_destroy(pool=name, name="data")
    await backend.pool_destroy(name=name)
