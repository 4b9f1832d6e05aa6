"""Pool usage reaches the on-disk history when the storage plugin is there."""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import entry_points

import pytest

NEEDED = {"sigmavault-system", "sigmavault-agents"}


def _with_storage() -> dict:
    others = [d for d in _disabled() if d.replace("_", "-") != "sigmavault-storage"]
    return {"plugins": {"disabled": others},
            "system": {"interval": 0.2, "history_seconds": 2, "pulse_interval": 0,
                       "history": {"pool_interval": 1, "tiers": [{"step": 1, "keep": 3600}]}}}


def _disabled() -> list[str]:
    return sorted({ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist is not None}
                  - NEEDED - {d.replace("-", "_") for d in NEEDED})


@pytest.fixture
def sv_config_overrides():
    return _with_storage()


async def test_pool_usage_is_kept_when_the_storage_plugin_is_there(client):
    resp = await client.post("/api/v1/storage/pools", json={"name": "histpool", "backend": "dir"})
    assert resp.status == 201, await resp.text()
    deadline = time.monotonic() + 15
    while True:
        resp = await client.get("/api/v1/system/metrics/history",
                                params={"from": "-30", "metrics": "pool"})
        body = await resp.json()
        assert resp.status == 200, body
        used = [s for s in body["series"] if s["metric"] == "pool.used" and s["label"] == "histpool"]
        if used and any(v is not None for v in used[0]["avg"]):
            break
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.5)
    assert {s["metric"] for s in body["series"]} == {"pool.used", "pool.size"}
