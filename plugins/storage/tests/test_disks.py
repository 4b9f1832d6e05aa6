"""Disk inventory: lsblk parsing on recorded output, and the live inventory with loop devices
(a blank disk is offered, one with a filesystem signature or in a pool is not; events when disks
appear and vanish)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import require_root, require_tool
from sigmavault_storage import inventory as disks

DATA = Path(__file__).parent / "data"
API = "/api/v1/storage"


def test_parse_lsblk_recorded_without_udev():
    text = (DATA / "lsblk_util-linux-2.38_no-udev.json").read_text()
    found = {d["name"]: d for d in disks.parse_lsblk(text, include_loop=True)}
    assert "zram0" not in found                               # RAM-backed swap is never a disk
    vda = found["vda"]
    assert vda["type"] == "virtual" and vda["size"] == 274877906944 and vda["rotational"]
    assert vda["in_use_by"] == {"kind": "mounted", "mountpoints": ["/run/netns", "/"]}
    assert found["loop2"]["in_use_by"]["mountpoints"] == ["/tmp/st6/mnt"]
    assert found["loop3"]["in_use"] is False and found["loop3"]["type"] == "loop"
    assert "loop3" not in {d["name"] for d in disks.parse_lsblk(text, include_loop=False)}


def test_parse_lsblk_partitions_and_signatures():
    text = """{"blockdevices": [
      {"name": "sda", "path": "/dev/sda", "type": "disk", "size": 1000, "rota": true,
       "model": "WDC WD40EFRX ", "serial": "WD-1", "tran": "sata", "pttype": "gpt",
       "children": [{"name": "sda1", "path": "/dev/sda1", "type": "part", "size": 900,
                     "fstype": "linux_raid_member", "mountpoints": [null]}]},
      {"name": "sdb", "path": "/dev/sdb", "type": "disk", "size": 1000, "rota": false,
       "fstype": "zfs_member", "mountpoints": [null]},
      {"name": "nvme0n1", "path": "/dev/nvme0n1", "type": "disk", "size": 1000, "rota": false,
       "tran": "nvme", "mountpoints": [null]}]}"""
    found = {d["name"]: d for d in disks.parse_lsblk(text)}
    assert found["sda"]["type"] == "hdd" and found["sda"]["model"] == "WDC WD40EFRX"
    assert found["sda"]["in_use_by"]["kind"] == "partitioned"
    assert found["sda"]["partitions"][0]["fstype"] == "linux_raid_member"
    assert found["sdb"]["type"] == "ssd" and found["sdb"]["in_use_by"]["fstype"] == "zfs_member"
    assert found["nvme0n1"]["type"] == "nvme" and found["nvme0n1"]["in_use"] is False
    assert disks.parse_blkid("TYPE=ext4\nUSAGE=filesystem\n") == {"TYPE": "ext4",
                                                                  "USAGE": "filesystem"}


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0.3, "smart_interval": 0, "include_loop_devices": True}}


async def test_inventory_signatures_and_hotplug_events(client, tmp_path):
    require_root()
    require_tool("losetup", "mkfs.ext4", "blkid")
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
    await asyncio.sleep(6)  # the monitor's first pass (baseline) runs ~5 s after start
    made = []
    try:
        for i in range(2):
            f = tmp_path / f"d{i}.img"
            with open(f, "wb") as fh:
                fh.truncate(64 << 20)
            made.append(subprocess.run(["losetup", "-f", "--show", str(f)], check=True,
                                       capture_output=True, text=True).stdout.strip())
        blank, formatted = made
        subprocess.run(["mkfs.ext4", "-q", "-F", formatted], check=True, capture_output=True)
        inv = {d["path"]: d for d in await (await client.get(f"{API}/disks")).json()}
        assert inv[blank]["in_use"] is False and inv[blank]["type"] == "loop"
        assert inv[blank]["size"] == 64 << 20
        assert inv[formatted]["in_use_by"] == {"kind": "filesystem", "fstype": "ext4",
                                               "usage": "filesystem"}
        free = {d["path"] for d in await (await client.get(f"{API}/disks",
                                                           params={"available": "true"})).json()}
        assert blank in free and formatted not in free
        resp = await client.post(f"{API}/pools", json={"name": "x", "backend": "btrfs",
                                                       "topology": {"layout": "single"},
                                                       "devices": [formatted]})
        answer = await resp.json()
        btrfs = {b["name"]: b for b in await (await client.get(f"{API}/backends")).json()}.get("btrfs")
        if btrfs and btrfs["available"]:   # the formatted disk is refused before mkfs.btrfs runs
            assert resp.status == 409 and answer["error"]["code"] == "device_in_use", answer
            assert answer["error"]["details"]["in_use_by"]["fstype"] == "ext4", answer
        elif btrfs:
            assert resp.status == 409 and answer["error"]["code"] == "backend_unavailable", answer
        else:
            assert resp.status == 400 and answer["error"]["code"] == "unknown_backend", answer
        names = {os.path.basename(d) for d in made}
        seen: set[str] = set()
        while seen != names:
            e = await asyncio.wait_for(ws.receive_json(), 60)
            if e["type"] == "storage.event" and e["data"]["kind"] == "disk_added":
                seen.add(e["data"]["disk"])
        subprocess.run(["losetup", "-d", blank], check=True)
        while True:
            e = await asyncio.wait_for(ws.receive_json(), 60)
            if e["type"] == "storage.event" and e["data"]["kind"] == "disk_removed":
                assert e["data"]["disk"] == os.path.basename(blank)
                break
    finally:
        for dev in made:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        await ws.close()
