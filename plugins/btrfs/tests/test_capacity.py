"""Capacity you can trust (issue 24): a raid1 pool's free space is what btrfs says may still be
written (half the raw space), volumes report their qgroup's referenced bytes (within 5 % of
``du``), snapshots their qgroup's exclusive bytes, and with quotas off the volumes are measured
and snapshots say nothing rather than something wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sigmavault_btrfs import parsers

pytestmark = pytest.mark.root
API = "/api/v1/storage"
POOL = f"{API}/pools/cap"
VOL = f"{POOL}/volumes/v"
MiB = 1 << 20


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True}}


def sh(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True,
                          timeout=120).stdout


def du(path: Path) -> int:
    return int(sh("du", "-sB1", str(path)).split()[0])


def close(value: int | None, expected: int, tolerance: float = 0.05) -> bool:
    return value is not None and abs(value - expected) <= tolerance * max(expected, 1)


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


@pytest.fixture
async def mnt(client, loop_devices):
    """Pool ``cap``: raid1 of two 256 MiB loop devices, volume ``v``; yields the mount point."""
    devs = loop_devices(2)
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": "cap", "backend": "btrfs", "topology": {"layout": "raid1"}, "devices": devs}),
        201)
    try:
        await ok(await client.post(f"{POOL}/volumes", json={"name": "v"}), 201)
        yield Path(pool["mountpoint"])
    finally:
        resp = await client.delete(POOL, params={"confirm": "cap"})
        assert resp.status in (204, 404), await resp.text()


def fill(vol: Path) -> None:
    """8 MiB of random data and 20 small files."""
    write(vol / "random.bin", os.urandom(8 * MiB))
    for i in range(20):
        write(vol / f"small{i}.txt", f"small file {i}\n".encode() * 50)
    sh("btrfs", "filesystem", "sync", str(vol))


async def test_raid1_pool_volume_and_snapshot_figures(client, mnt):
    vol = mnt / "v"
    fill(vol)
    qgroups = parsers.parse_qgroup_show(sh("btrfs", "qgroup", "show", "--raw", "-re", str(mnt)))
    got = await ok(await client.get(VOL))
    sid = got["properties"]["subvolume_id"]
    assert got["properties"]["used_source"] == "qgroup"
    assert got["used"] == qgroups[sid]["referenced"]
    assert close(got["used"], du(vol)), (got["used"], du(vol))
    assert got["properties"]["exclusive"] == qgroups[sid]["exclusive"]
    listed = await ok(await client.get(f"{POOL}/volumes"))
    items = listed["items"] if isinstance(listed, dict) else listed
    assert [v["used"] for v in items if v["name"] == "v"] == [got["used"]]

    # a snapshot, then the data it shares replaced in the volume: the snapshot now holds 8 MiB
    # nobody else does (its exclusive bytes), and still shows what it did (referenced)
    await ok(await client.post(f"{VOL}/snapshots", json={"name": "s1"}), 201)
    page = await ok(await client.get(f"{VOL}/snapshots"))
    assert page["items"][0]["used"] < MiB          # shares everything with the volume
    write(vol / "random.bin", os.urandom(8 * MiB))
    sh("btrfs", "filesystem", "sync", str(mnt))
    qgroups = parsers.parse_qgroup_show(sh("btrfs", "qgroup", "show", "--raw", "-re", str(mnt)))
    [snap] = (await ok(await client.get(f"{VOL}/snapshots")))["items"]
    ssid = snap["properties"]["subvolume_id"]
    assert snap["used"] == qgroups[ssid]["exclusive"] and close(snap["used"], 8 * MiB), snap
    assert snap["properties"]["referenced"] == qgroups[ssid]["referenced"]
    one = await ok(await client.get(f"{VOL}/snapshots/s1"))
    assert one["used"] == snap["used"]

    # the pool: raid1 keeps two copies, so about half the raw space is usable
    usage = parsers.parse_filesystem_usage(sh("btrfs", "filesystem", "usage", "-b", str(mnt)))
    pool = await ok(await client.get(POOL))
    assert pool["free"] == usage["free"]
    st = os.statvfs(mnt)
    assert close(pool["free"], st.f_bavail * st.f_frsize), (pool["free"], st.f_bavail * st.f_frsize)
    assert pool["size"] == pool["used"] + pool["free"]
    half = pool["properties"]["raw_size"] // 2
    # half the raw space, less the metadata and system block groups' unused room (they are
    # allocated up front: ~40 MiB here, a fraction of a percent of a real disk)
    assert 0.8 * half <= pool["size"] <= half, (pool["size"], half)
    assert close(pool["used"], 16 * MiB, 0.15), pool      # two 8 MiB versions + small files
    assert pool["properties"]["quotas"] is True and pool["properties"]["data_ratio"] == 2.0


async def test_quotas_off_measures_volumes_and_can_be_turned_on(client, mnt):
    vol = mnt / "v"
    await ok(await client.patch(POOL, json={"options": {"quotas": False}}))
    pool = await ok(await client.get(POOL))
    assert pool["properties"]["quotas"] is False
    fill(vol)
    got = await ok(await client.get(VOL))
    assert got["properties"]["used_source"] == "measured"
    assert got["properties"]["used_measured_at"]
    assert close(got["used"], du(vol)), (got["used"], du(vol))
    await ok(await client.post(f"{VOL}/snapshots", json={"name": "s1"}), 201)
    [snap] = (await ok(await client.get(f"{VOL}/snapshots")))["items"]
    assert snap["used"] is None                    # not known without qgroups: not guessed
    resp = await client.patch(VOL, json={"quota": 64 * MiB})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "not_supported"

    await ok(await client.patch(POOL, json={"options": {"quotas": True}}))
    sh("btrfs", "quota", "rescan", "-w", str(mnt))
    sh("btrfs", "filesystem", "sync", str(mnt))
    pool = await ok(await client.get(POOL))
    assert pool["properties"]["quotas"] is True and pool["properties"]["quotas_state"] == "on"
    got = await ok(await client.get(VOL))
    assert got["properties"]["used_source"] == "qgroup" and close(got["used"], du(vol))
    [snap] = (await ok(await client.get(f"{VOL}/snapshots")))["items"]
    assert snap["used"] is not None and snap["used"] < MiB   # shares everything with v
    got = await ok(await client.patch(VOL, json={"quota": 64 * MiB}))
    assert got["quota"] == 64 * MiB
    assert (await ok(await client.patch(VOL, json={"quota": None})))["quota"] is None
