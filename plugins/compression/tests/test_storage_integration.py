"""With the storage plugin: pool mountpoints become allowed roots; stats report storage ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmavault.testing import wait_job
from sigmavault_compression.storage_ratios import parse_ratio, ratio_of
from svcomp_support import other_plugins


@pytest.fixture
def sv_config_overrides(tmp_path: Path) -> dict:
    return {"plugins": {"disabled": other_plugins({"sigmavault-compression", "sigmavault-storage"})},
            "storage": {"pools_root": str(tmp_path / "elsewhere"), "monitor_interval": 0,
                        "smart_interval": 0}}


async def test_pool_mountpoints_are_allowed_and_stats_ask_storage(client, sv_app,
                                                                  tmp_path: Path) -> None:
    if not sv_app.has_method("storage.pools.list"):
        pytest.skip("the storage plugin is not installed")
    resp = await client.post("/api/v1/storage/pools", json={"name": "tank", "backend": "dir"})
    body = await resp.json()
    assert resp.status in (201, 202), body
    if resp.status == 202:
        assert (await wait_job(client, body["id"]))["state"] == "SUCCESS"
    pools = [p if isinstance(p, dict) else p.model_dump()
             for p in await sv_app.call("storage.pools.list")]
    mount = Path(next(p for p in pools if p["name"] == "tank")["mountpoint"])
    assert (tmp_path / "elsewhere") in mount.parents  # outside the default root <data>/pools
    src = mount / "report.txt"
    src.write_bytes(b"pool data " * 50_000)
    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "compress", "source": str(src)})
    job = await resp.json()
    assert resp.status == 202, job  # allowed only because the storage plugin reports the pool
    assert (await wait_job(client, job["id"]))["state"] == "SUCCESS"
    assert (mount / "report.txt.zst").exists()
    stats = await (await client.get("/api/v1/compression/stats")).json()
    assert stats["storage_available"] is True
    # the dir backend reports no on-disk ratio, so no rows (btrfs ones: test_stats_storage.py)
    assert stats["storage"] == []


async def test_without_storage_stats_skip_it(client, sv_app) -> None:
    if sv_app.has_method("storage.pools.list"):
        sv_app.methods.pop("storage.pools.list")
    stats = await (await client.get("/api/v1/compression/stats")).json()
    assert stats["storage_available"] is False and stats["storage"] == []


def test_ratio_shapes_backends_report() -> None:
    assert parse_ratio("1.52x") == 1.52 and parse_ratio(2) == 2.0 and parse_ratio("n/a") is None
    assert ratio_of({"properties": {"compressratio": "2.10x"}}) == (2.10, "compressratio")
    assert ratio_of({"compression_ratio": 1.7}) == (1.7, "compression_ratio")
    found = ratio_of({"properties": {"disk_uncompressed": 300, "disk_usage": 100}})
    assert found == (3.0, "disk_uncompressed/disk_usage")
    assert ratio_of({"used": 10, "properties": {}}) is None
