"""Capacity a user can trust on the dir backend: the pool says it shares its filesystem and shows
that filesystem's free space; volumes and snapshots report measured usage, with the time."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import api_call

API = "/storage/pools"


def du_bytes(path: Path) -> int:
    return int(subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def fill(root: Path, sizes: dict[str, int]) -> None:
    for name, size in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(os.urandom(size))


async def measured(client, path: str, expected: int | None = None, timeout: float = 10.0) -> dict:
    """GET ``path`` until its ``used`` has been measured (within 5 % of ``expected``): figures are
    measured in the background and refreshed once ``usage_max_age`` old."""
    for _ in range(int(timeout / 0.1)):
        item = await api_call(client, "GET", path, 200)
        used = item["used"]
        if used is not None and (expected is None or abs(used - expected) <= 0.05 * expected):
            return item
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path}: used is {item['used']}, expected {expected}")


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "usage_max_age": 0.5}}


async def test_dir_pool_volume_and_snapshot_usage(client):
    await api_call(client, "POST", API, 201, json={"name": "cap", "backend": "dir"})
    vol = await api_call(client, "POST", f"{API}/cap/volumes", 201, json={"name": "docs"})
    root = Path(vol["path"])
    fill(root, {"a.bin": 3 << 20, "sub/b.bin": 1 << 20, "sub/c.txt": 1000})

    got = await measured(client, f"{API}/cap/volumes/docs", du_bytes(root))
    assert got["properties"]["used_measured_at"]

    listed = [v for v in await api_call(client, "GET", f"{API}/cap/volumes", 200)]
    assert listed[0]["used"] is not None and listed[0]["properties"]["used_measured_at"]

    pool = await measured(client, f"{API}/cap", du_bytes(root))
    fs = os.statvfs(root)
    assert pool["properties"]["shares_filesystem"] is True
    assert pool["properties"]["filesystem"]["mount"]
    assert pool["size"] == fs.f_blocks * fs.f_frsize
    assert abs(pool["free"] - fs.f_bavail * fs.f_frsize) < 64 << 20   # the disk is shared

    await api_call(client, "POST", f"{API}/cap/volumes/docs/snapshots", 201, json={"name": "s1"})
    if pool["properties"]["snapshot_method"] in ("copy", "unknown"):
        # a full copy holds all of the volume's data on its own
        snap = await measured(client, f"{API}/cap/volumes/docs/snapshots/s1", du_bytes(root))
    else:
        snap = await measured(client, f"{API}/cap/volumes/docs/snapshots/s1")
    assert snap["properties"]["used_measured_at"]


@pytest.mark.sv_config({"storage": {"monitor_interval": 0, "usage_max_age": 0.5,
                                    "dir_snapshot_mode": "hardlink"}})
async def test_a_hardlink_snapshot_counts_only_what_the_volume_no_longer_holds(client):
    await api_call(client, "POST", API, 201, json={"name": "hl", "backend": "dir"})
    vol = await api_call(client, "POST", f"{API}/hl/volumes", 201, json={"name": "v"})
    root = Path(vol["path"])
    fill(root, {"keep.bin": 2 << 20, "gone.bin": 1 << 20})
    await api_call(client, "POST", f"{API}/hl/volumes/v/snapshots", 201, json={"name": "s"})
    (root / "gone.bin").unlink()
    await measured(client, f"{API}/hl/volumes/v", du_bytes(root))
    await measured(client, f"{API}/hl/volumes/v/snapshots/s", 1 << 20)
