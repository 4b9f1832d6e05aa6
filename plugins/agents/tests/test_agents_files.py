"""VELOCITY, PRISM, WAVE, NEXUS, VERTEX, PHOTON and ATLAS through the API on real files."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sigmavault.testing import wait_job


async def run(client, agent: str, params: dict[str, Any], state: str = "SUCCESS") -> dict[str, Any]:
    resp = await client.post(f"/api/v1/agents/{agent}/task", json={"params": params})
    body = await resp.json()
    assert resp.status == 202, body
    job = await wait_job(client, body["id"], 60)
    assert job["state"] == state, job
    return job


async def test_velocity(client, area: Path) -> None:
    r = (await run(client, "VELOCITY", {"path": str(area), "size_mib": 2, "block_kib": 256}))["result"]
    assert r["bytes"] == 2 * 1024 * 1024 and r["write_mb_s"] > 0 and r["read_mb_s"] > 0
    assert list(area.iterdir()) == []


async def test_wave_exact_reclaimable_bytes(client, area: Path) -> None:
    blob = os.urandom(123_457)
    for p in ("x/1.bin", "y/2.bin", "y/z/3.bin"):
        (area / p).parent.mkdir(parents=True, exist_ok=True)
        (area / p).write_bytes(blob)
    (area / "x/other.bin").write_bytes(os.urandom(123_457))
    (area / "d1.txt").write_text("dup")
    (area / "d2.txt").write_text("dup")
    r = (await run(client, "WAVE", {"roots": [{"path": str(area / "x")}, {"path": str(area / "y")},
                                              {"path": str(area)}]}))["result"]
    assert r["reclaimable_bytes"] == 2 * 123_457 + 3
    assert len(r["groups"]) == 2


async def test_nexus_and_vertex(client, area: Path) -> None:
    old = time.time() - 400 * 86400
    (area / "old").mkdir()
    for i in range(4):
        f = area / "old" / f"{i}.log"
        f.write_bytes(b"z" * 2500)
        os.utime(f, (old, old))
    (area / "new").mkdir()
    (area / "new/today.txt").write_bytes(b"n" * 100)
    r = (await run(client, "NEXUS", {"path": str(area), "days": 365}))["result"]
    assert r["cold_files"] == 4 and r["cold_bytes"] == 10_000 and r["bytes"] == 10_100
    v = (await run(client, "VERTEX", {"path": str(area), "top": 5}))["result"]
    assert v["children"][0]["path"] == str(area / "old") and v["children"][0]["apparent_bytes"] == 10_000
    assert v["root"]["files"] == 5


async def test_photon_copy_and_move(client, area: Path) -> None:
    src = area / "src"
    (src / "deep").mkdir(parents=True)
    data = os.urandom(2 * 1024 * 1024 + 5)
    (src / "deep/blob.bin").write_bytes(data)
    (src / "note.txt").write_text("note")
    dst = area / "dst"
    dst.mkdir()
    r = (await run(client, "PHOTON", {"source": {"path": str(src)}, "destination": {"path": str(dst)}}))["result"]
    assert r["files"] == 2 and r["copied"] == 2 and r["verified"]
    assert (dst / "src/deep/blob.bin").read_bytes() == data
    moved = area / "moved"
    moved.mkdir()
    r = (await run(client, "PHOTON", {"source": {"path": str(src)}, "destination": {"path": str(moved)},
                                      "move": True}))["result"]
    assert r["move"] and not src.exists() and (moved / "src/note.txt").read_text() == "note"
    job = await run(client, "PHOTON", {"source": {"path": str(moved)}, "destination": {"path": str(moved / "src")}},
                    state="FAILED")
    assert "inside the source" in job["error"]


async def test_atlas_index_then_search(client, area: Path) -> None:
    (area / "music").mkdir()
    (area / "music/Bohemian Rhapsody.flac").write_bytes(b"f")
    (area / "taxes-2025.pdf").write_bytes(b"p")
    r = (await run(client, "ATLAS", {"action": "index", "target": {"path": str(area)}}))["result"]
    assert r["entries"] == 3
    hits = (await run(client, "ATLAS", {"query": "rhapsody"}))["result"]
    assert [m["path"] for m in hits["matches"]] == [str(area / "music/Bohemian Rhapsody.flac")]
    resp = await client.post("/api/v1/agents/ATLAS/task", json={"params": {"action": "index"}})
    assert resp.status == 422
