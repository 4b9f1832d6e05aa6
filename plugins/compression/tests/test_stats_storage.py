"""GET /compression/stats with real btrfs: the on-disk ratio of each compressed volume, from the
btrfs backend's compsize figures (needs root, loop devices, btrfs-progs and compsize)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigmavault.testing import compressible_text, require_tool
from svcomp_support import other_plugins

pytestmark = pytest.mark.root
API = "/api/v1/storage"


@pytest.fixture
def sv_config_overrides() -> dict:
    return {"plugins": {"disabled": other_plugins({"sigmavault-compression", "sigmavault-storage",
                                                   "sigmavault-btrfs"})},
            "storage": {"monitor_interval": 0, "smart_interval": 0, "include_loop_devices": True}}


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


async def test_stats_show_btrfs_volume_ratios(client, loop_devices) -> None:
    require_tool("mkfs.btrfs", "btrfs", "compsize")
    [dev] = loop_devices(1)
    await ok(await client.post(f"{API}/pools", json={
        "name": "h10stats", "backend": "btrfs", "topology": {"layout": "single"},
        "devices": [dev]}), 201)
    try:
        docs = await ok(await client.post(f"{API}/pools/h10stats/volumes", json={
            "name": "docs", "compression": "zstd"}), 201)
        raw = await ok(await client.post(f"{API}/pools/h10stats/volumes", json={"name": "raw"}), 201)
        await ok(await client.post(f"{API}/pools/h10stats/volumes", json={"name": "empty"}), 201)
        (Path(docs["path"]) / "log.txt").write_bytes(compressible_text(16 << 20, seed=10))
        (Path(raw["path"]) / "noise.bin").write_bytes(os.urandom(4 << 20))
        os.sync()

        stats = await ok(await client.get("/api/v1/compression/stats"))
        assert stats["storage_available"] is True
        rows = {(r["pool"], r["volume"]): r for r in stats["storage"]}
        # an empty volume has no data extents, the pool itself no figure: no rows for them
        assert set(rows) == {("h10stats", "docs"), ("h10stats", "raw")}, stats["storage"]
        row = rows[("h10stats", "docs")]
        assert row["backend"] == "btrfs" and row["source"] == "compressratio"
        assert row["ratio"] > 1.5 and row["ratio_text"] == f"{row['ratio']:.2f}x"
        assert row["saved_percent"] == pytest.approx(100 * (1 - 1 / row["ratio"]), abs=0.5)
        assert rows[("h10stats", "raw")]["ratio"] == 1.0     # zstd off, random data
    finally:
        resp = await client.delete(f"{API}/pools/h10stats", params={"confirm": "h10stats"})
        assert resp.status in (204, 404), await resp.text()
