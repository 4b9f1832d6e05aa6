"""Agents address storage volumes (pool/volume/subpath) through the storage plugin's method."""

from __future__ import annotations

from typing import Any

import pytest

from sigmavault.testing import require

from .conftest import others
from .test_agents_files import run



@pytest.fixture
def sv_config_overrides(tmp_path) -> dict[str, Any]:
    return {"plugins": {"disabled": others("sigmavault-storage")},
            "storage": {"pools_root": str(tmp_path / "pools"), "monitor_interval": 0, "smart_interval": 0}}


async def test_agent_on_a_volume(client, sv_app) -> None:
    require(sv_app.has_method("storage.volume.path"), "the storage plugin is not installed")
    resp = await client.post("/api/v1/storage/pools", json={"name": "tank", "backend": "dir"})
    assert resp.status == 201, await resp.json()
    resp = await client.post("/api/v1/storage/pools/tank/volumes", json={"name": "media"})
    assert resp.status == 201, await resp.json()
    from pathlib import Path
    root = Path(await sv_app.call("storage.volume.path", pool="tank", volume="media"))
    (root / "films").mkdir()
    (root / "films/a.mkv").write_bytes(b"m" * 777)
    r = (await run(client, "PRISM", {"pool": "tank", "volume": "media"}))["result"]
    assert r["files"] == 1 and r["bytes"] == 777
    r = (await run(client, "VERTEX", {"pool": "tank", "volume": "media", "subpath": "films"}))["result"]
    assert r["root"]["apparent_bytes"] == 777
    resp = await client.post("/api/v1/agents/PRISM/task",
                             json={"params": {"pool": "tank", "volume": "media", "subpath": "../../.."}})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "path_outside_volume"
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"pool": "tank", "volume": "nope"}})
    assert resp.status == 404
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(root)}})
    assert resp.status == 400  # not under allowed_roots: volumes are reached by pool/volume
