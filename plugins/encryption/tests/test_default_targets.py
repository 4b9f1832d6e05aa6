"""Default outputs obey the containment an explicit target gets (issue 19, defect 7)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sigmavault.testing import require, wait_job

PASS = "correct horse battery"


@pytest.fixture
def sv_config_overrides(tmp_path: Path) -> dict:
    keep = {"sigmavault-encryption", "sigmavault-storage"}
    others = sorted({ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist} - keep)
    root = tmp_path / "files"
    root.mkdir()
    return {"plugins": {"disabled": others},
            "storage": {"pools_root": str(tmp_path / "pools"), "monitor_interval": 0, "smart_interval": 0},
            "encryption": {"allowed_roots": [str(root)], "scrypt_log_n": 10}}


@pytest.fixture
async def volume(client, sv_app) -> Path:
    require(sv_app.has_method("storage.volume.path"), "the storage plugin is not installed")
    resp = await client.post("/api/v1/storage/pools", json={"name": "tank", "backend": "dir"})
    assert resp.status == 201, await resp.json()
    resp = await client.post("/api/v1/storage/pools/tank/volumes", json={"name": "media"})
    assert resp.status == 201, await resp.json()
    return Path(await sv_app.call("storage.volume.path", pool="tank", volume="media"))


async def _key(client) -> str:
    resp = await client.post("/api/v1/encryption/keys", json={"name": "k", "kind": "x25519", "passphrase": PASS})
    assert resp.status == 201
    return (await resp.json())["id"]


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


async def test_whole_volume_without_target_is_refused(client, volume: Path) -> None:
    key = await _key(client)
    (volume / "album").mkdir()
    (volume / "album" / "a.jpg").write_bytes(b"jpeg")
    pool_dir = volume.parent
    before = _tree(pool_dir)
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"pool": "tank", "volume": "media"}, "key_ids": [key]})
    body = await resp.json()
    assert resp.status == 400, body
    assert body["error"]["code"] == "target_required" and "give a 'target'" in body["error"]["message"]
    assert _tree(pool_dir) == before  # no media.tar.age beside the volume


async def test_allowed_root_itself_without_target_is_refused(client, sv_app, tmp_path: Path) -> None:
    key = await _key(client)
    root = tmp_path / "files"
    (root / "doc").write_bytes(b"x")
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"path": str(root)}, "key_ids": [key]})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["code"] == "target_required", body
    assert not (tmp_path / "files.tar.age").exists()


async def test_volume_defaults_stay_inside_and_are_reachable(client, volume: Path) -> None:
    key = await _key(client)
    (volume / "album").mkdir()
    (volume / "album" / "a.jpg").write_bytes(b"jpeg")
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"pool": "tank", "volume": "media", "subpath": "album"},
                                   "key_ids": [key]})
    assert resp.status == 202, await resp.json()
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS", job
    assert Path(job["result"]["target"]) == volume / "album.tar.age"
    (volume / "restored").mkdir()
    resp = await client.post("/api/v1/encryption/jobs/decrypt",
                             json={"source": {"pool": "tank", "volume": "media", "subpath": "album.tar.age"},
                                   "target": {"pool": "tank", "volume": "media", "subpath": "restored/album"}})
    assert resp.status == 202, await resp.json()
    assert (await wait_job(client, (await resp.json())["id"]))["state"] == "SUCCESS"
    assert (volume / "restored" / "album" / "a.jpg").read_bytes() == b"jpeg"
