"""End-to-end scenarios across plugins against one real daemon with every bundled plugin.

* the 40 agents of the catalogue (shared/AGENTS.md) are listed;
* pool → volume → files → snapshot → compress → encrypt → decrypt → decompress, byte-compared with
  the originals, all through the REST API; then the same backup by the CONDUIT agent, restored
  through the API;
* storage events (a pool created, a pool that loses its storage) arrive on the WebSocket.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from sigmavault.testing import Daemon, api_call, wait_job

# The catalogue of shared/AGENTS.md, #1 … #40.
AGENTS = {
    "TENSOR", "VELOCITY", "AXIOM", "PRISM", "FLUX", "DELTA", "SPARK", "WAVE", "NEXUS", "PULSE",
    "CIPHER", "FORTRESS", "QUANTUM", "SENTINEL", "VAULT", "SHIELD", "GUARDIAN", "PHANTOM", "AEGIS",
    "ORACLE", "ARCHITECT", "LATTICE", "STREAM", "VERTEX", "SENTRY", "FORGE", "PHOTON", "ATLAS",
    "CHRONICLE", "BEACON", "SYNAPSE", "CRYPTO", "BRIDGE", "RELAY", "MIRROR", "MESH", "HARBOR",
    "CONDUIT", "HELIX", "OMNISCIENT",
}


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenario-area")


@pytest.fixture(scope="module")
def sv(tmp_path_factory: pytest.TempPathFactory, area: Path) -> Iterator[Daemon]:
    """A real daemon whose compression, encryption and agents may work in ``area``."""
    cfg = (f'[compression]\nallowed_roots = ["{area}"]\n'
           f'[encryption]\nallowed_roots = ["{area}"]\nscrypt_log_n = 10\n'
           f'[agents]\nallowed_roots = ["{area}"]\n'
           "[storage]\nmonitor_interval = 0.5\nsmart_interval = 0\n")
    d = Daemon(tmp_path_factory.mktemp("scenarios") / "data", cfg)
    d.start(timeout=60)
    try:
        yield d
    finally:
        d.stop()


async def job(session: Any, method: str, path: str, body: dict[str, Any], timeout: float = 30) -> Any:
    """Submit a job (202), wait for it, require SUCCESS, return its result."""
    j = await wait_job(session, (await api_call(session, method, path, 202, json=body))["id"], timeout)
    assert j["state"] == "SUCCESS", j
    return j["result"]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def only_dir(folder: Path) -> Path:
    """The single top-level folder an extraction produced."""
    entries = list(folder.iterdir())
    assert len(entries) == 1 and entries[0].is_dir(), entries
    return entries[0]


async def test_all_40_agents_listed(sv: Daemon) -> None:
    async with sv.session() as s:
        listed = {a["name"] for a in await api_call(s, "GET", "/agents", 200)}
    missing, extra = sorted(AGENTS - listed), sorted(listed - AGENTS)
    assert not missing and not extra, f"missing agents: {missing}; not in the catalogue: {extra}"


async def test_snapshot_compress_encrypt_restore(sv: Daemon, area: Path) -> None:
    files = {"a.txt": b"alpha\n" * 20000, "sub/b.bin": os.urandom(300_000),
             "sub/deeper/c.md": b"# c\n", "empty": b""}
    async with sv.session() as s:
        async with s.ws_connect("/api/v1/ws") as ws:
            await ws.send_json({"type": "client.subscribe", "events": ["storage.*"]})
            await api_call(s, "POST", "/storage/pools", 201, json={"name": "tank", "backend": "dir"})
            seen = await _event(ws, lambda e: e["type"] == "storage.event"
                                and e["data"]["kind"] == "pool_created" and e["data"]["pool"] == "tank")
            assert "tank" in seen["data"]["message"]
        vol = await api_call(s, "POST", "/storage/pools/tank/volumes", 201, json={"name": "docs"})
        root = Path(vol["path"])
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        snap = await api_call(s, "POST", "/storage/pools/tank/volumes/docs/snapshots", 201,
                          json={"name": "s1"})
        # replaced after the snapshot (a dir-backend hard-link snapshot shares inodes, so an
        # in-place edit would show through; a replacement must not)
        (root / "a.new").write_bytes(b"changed after the snapshot")
        os.replace(root / "a.new", root / "a.txt")
        (root / "late.txt").write_bytes(b"not in the snapshot")
        snap_path = Path(snap["path"])
        assert tree(snap_path) == files

        work = area / "pipeline"
        work.mkdir()
        archive = work / "s1.tar.zst"
        r = await job(s, "POST", "/compression/jobs", {
            "operation": "compress", "source": str(snap_path), "target": str(archive),
            "codec": "zstd", "level": 6, "verify": True})
        assert archive.read_bytes()[:4] == b"\x28\xb5\x2f\xfd", r

        key = await api_call(s, "POST", "/encryption/keys", 201,
                         json={"name": "scenario", "passphrase": "correct horse battery"})
        assert key["post_quantum"] and key["state"] == "unlocked", key
        sealed = work / "s1.tar.zst.age"
        await job(s, "POST", "/encryption/jobs/encrypt", {
            "source": {"path": str(archive)}, "target": {"path": str(sealed)}, "key_ids": [key["id"]]})
        assert sealed.read_bytes().startswith(b"age-encryption.org/v1")
        assert archive.read_bytes() not in sealed.read_bytes()

        restore = area / "restore"
        restore.mkdir()
        opened = restore / "s1.tar.zst"
        await job(s, "POST", "/encryption/jobs/decrypt", {
            "source": {"path": str(sealed)}, "target": {"path": str(opened)}})
        assert opened.read_bytes() == archive.read_bytes()
        out = restore / "out"
        await job(s, "POST", "/compression/jobs", {
            "operation": "decompress", "source": str(opened), "target": str(out), "extract": True})
        assert tree(only_dir(out)) == files


async def test_conduit_backup_restored_through_the_api(sv: Daemon, area: Path) -> None:
    async with sv.session() as s:
        await api_call(s, "POST", "/storage/pools", 201, json={"name": "safe", "backend": "dir"})
        vol = await api_call(s, "POST", "/storage/pools/safe/volumes", 201, json={"name": "home"})
        root = Path(vol["path"])
        files = {"notes.txt": b"line\n" * 5000, "photos/p.raw": os.urandom(200_000)}
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        keys = await api_call(s, "GET", "/encryption/keys", 200)
        if not any(k["state"] == "unlocked" and k["status"] == "active" for k in keys):
            await api_call(s, "POST", "/encryption/keys", 201,
                       json={"name": "conduit", "passphrase": "correct horse battery"})
        dest = area / "backups"
        dest.mkdir()
        task = await api_call(s, "POST", "/agents/CONDUIT/task", 202, json={"params": {
            "pool": "safe", "volume": "home", "destination": {"path": str(dest)}, "name": "home-bk"}})
        r = await job_result(s, task["id"])
        backup = Path(r["file"])
        assert backup == dest / "home-bk.tar.zst.age" and [p.name for p in dest.iterdir()] == [backup.name]
        assert r["files"] == 2 and r["snapshot"]
        snaps = await api_call(s, "GET", "/storage/pools/safe/volumes/home/snapshots", 200)
        assert r["snapshot"] in {x["name"] for x in snaps["items"]}

        restore = area / "conduit-restore"
        restore.mkdir()
        await job(s, "POST", "/encryption/jobs/decrypt", {
            "source": {"path": str(backup)}, "target": {"path": str(restore / "home-bk.tar.zst")}})
        await job(s, "POST", "/compression/jobs", {
            "operation": "decompress", "source": str(restore / "home-bk.tar.zst"),
            "target": str(restore / "out"), "extract": True})
        got = tree(restore / "out")
        # CONDUIT may or may not put the snapshot's folder name in front of the members
        if set(got) != set(files):
            got = tree(only_dir(restore / "out"))
        assert got == files


async def job_result(session: Any, job_id: str, timeout: float = 45) -> Any:
    j = await wait_job(session, job_id, timeout)
    assert j["state"] == "SUCCESS", j
    return j["result"]


async def test_pool_losing_its_storage_shows_on_the_event_stream(sv: Daemon) -> None:
    async with sv.session() as s:
        pool = await api_call(s, "POST", "/storage/pools", 201, json={"name": "fragile", "backend": "dir"})
        async with s.ws_connect("/api/v1/ws") as ws:
            await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
            shutil.rmtree(pool["mountpoint"])  # the storage under the pool vanishes
            e = await _event(ws, lambda e: e["type"] == "storage.event" and e["data"]["pool"] == "fragile"
                             and e["data"]["kind"] == "pool_state", timeout=15)
            assert e["data"]["new"] != "online" and e["data"]["old"] == "online", e
        health = await api_call(s, "GET", "/storage/pools/fragile/health")
        assert health.get("state") != "online", health


async def _event(ws: Any, pred: Any, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), max(0.01, deadline - time.monotonic()))
        if pred(msg):
            return msg
