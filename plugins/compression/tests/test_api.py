"""The compression REST API, jobs, statistics and progress events through a real daemon app."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from pathlib import Path

import pytest

from svcomp_support import other_plugins
from sigmavault.testing import next_event, wait_job


def semi(size: int, seed: int = 5) -> bytes:
    rnd = random.Random(seed)
    words = [b"alpha", b"vault", b"sigma", b"pool", b"snapshot", b"\n", b"0123"]
    out = bytearray()
    while len(out) < size:
        out += rnd.randbytes(64) if rnd.random() < 0.3 else b" ".join(
            rnd.choice(words) for _ in range(40))
    return bytes(out[:size])


@pytest.fixture
def sv_config_overrides(work: Path) -> dict:
    return {"plugins": {"disabled": other_plugins()},
            "compression": {"allowed_roots": [str(work)], "progress_interval": 0.05}}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def submit(client, **body) -> dict:
    resp = await client.post("/api/v1/compression/jobs", json=body)
    data = await resp.json()
    assert resp.status == 202, data
    return data


async def test_compress_decompress_round_trip_and_stats(client, work: Path) -> None:
    src = work / "data.bin"
    src.write_bytes(semi(2_000_000))
    job = await submit(client, operation="compress", source=str(src), codec="zstd", level=5,
                       threads=2)
    assert job["kind"] == "compression.compress"
    done = await wait_job(client, job["id"])
    assert done["state"] == "SUCCESS", done
    result = done["result"]
    archive = work / "data.bin.zst"
    assert result["target"] == str(archive) and archive.exists()
    assert result["compressed"] == archive.stat().st_size and result["level"] == 5
    assert result["ratio_text"].endswith("x") and result["ratio"] > 1.5

    src_sum = sha(src)
    src.unlink()
    done = await wait_job(client, (await submit(client, operation="decompress",
                                                source=str(archive)))["id"])
    assert done["state"] == "SUCCESS", done
    assert sha(src) == src_sum and done["result"]["codec"] == "zstd"

    resp = await client.get("/api/v1/compression/stats")
    body = await resp.json()
    assert resp.status == 200, body
    zstd = next(c for c in body["codecs"] if c["codec"] == "zstd")
    assert zstd["jobs"] == 2 and zstd["operations"] == {"compress": 1, "decompress": 1}
    assert zstd["uncompressed_bytes"] == 4_000_000
    assert zstd["ratio_text"] == f"{4_000_000 / zstd['compressed_bytes']:.2f}x"
    assert 0 < zstd["saved_percent"] < 100 and zstd["mean_throughput"] > 0
    assert set(body["available_codecs"]) >= {"zstd", "gzip", "xz", "bz2"}

    listed = await (await client.get("/api/v1/compression/jobs")).json()
    assert listed["total"] == 2 and {j["kind"] for j in listed["items"]} == {
        "compression.compress", "compression.decompress"}
    one = await client.get(f"/api/v1/compression/jobs/{job['id']}")
    assert (await one.json())["id"] == job["id"]


async def test_folder_to_tar_and_extract(client, work: Path) -> None:
    folder = work / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("hello\n" * 1000)
    (folder / "sub" / "b.bin").write_bytes(os.urandom(5000))
    done = await wait_job(client, (await submit(client, operation="compress", source=str(folder),
                                                codec="xz", verify=True))["id"])
    assert done["state"] == "SUCCESS", done
    archive = work / "docs.tar.xz"
    assert done["result"]["payload"] == "tar" and done["result"]["verified"]
    dest = work / "restored"
    done = await wait_job(client, (await submit(client, operation="decompress", source=str(archive),
                                                target=str(dest)))["id"])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["operation"] == "extract"
    assert (dest / "docs" / "a.txt").read_text() == "hello\n" * 1000
    assert (dest / "docs" / "sub" / "b.bin").read_bytes() == (folder / "sub" / "b.bin").read_bytes()


async def test_truncated_archive_is_a_failed_job(client, work: Path) -> None:
    src = work / "x.bin"
    src.write_bytes(semi(500_000))
    done = await wait_job(client, (await submit(client, operation="compress", source=str(src)))["id"])
    archive = work / "x.bin.zst"
    archive.write_bytes(archive.read_bytes()[:-3])
    for op in ("verify", "decompress"):
        body = {"operation": op, "source": str(archive)}
        if op == "decompress":
            body["target"] = str(work / "x.out")
        done = await wait_job(client, (await submit(client, **body))["id"])
        assert done["state"] == "FAILED"
        assert "truncated" in done["error"], done["error"]
    assert not (work / "x.out").exists()
    assert not [p for p in work.iterdir() if "sigmavault-tmp" in p.name]


async def test_recompress_in_place_only_after_verification(client, work: Path) -> None:
    src = work / "log.txt"
    src.write_bytes(semi(800_000))
    original = sha(src)
    await wait_job(client, (await submit(client, operation="compress", source=str(src),
                                         codec="gzip"))["id"])
    gz = work / "log.txt.gz"
    done = await wait_job(client, (await submit(client, operation="recompress", source=str(gz),
                                                codec="zstd", level=9, replace_source=True))["id"])
    assert done["state"] == "SUCCESS", done
    res = done["result"]
    assert res["original_codec"] == "gzip" and res["source_removed"] and res["verified"]
    assert not gz.exists()
    await wait_job(client, (await submit(client, operation="decompress",
                                         source=str(work / "log.txt.zst"),
                                         target=str(work / "again.txt")))["id"])
    assert sha(work / "again.txt") == original


async def test_bad_requests_are_4xx_and_start_nothing(client, work: Path, tmp_path: Path) -> None:
    src = work / "f.bin"
    src.write_bytes(b"abc" * 1000)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    cases = [
        ({"operation": "compress", "source": str(outside)}, 400, "path_not_allowed"),
        ({"operation": "compress", "source": str(work / ".." / "outside.bin")}, 400,
         "path_not_allowed"),
        ({"operation": "compress", "source": "relative/path"}, 400, "invalid_path"),
        ({"operation": "compress", "source": str(work / "nope")}, 404, "not_found"),
        ({"operation": "compress", "source": str(src), "codec": "lz77"}, 400, "unknown_codec"),
        ({"operation": "compress", "source": str(src), "codec": "gzip", "level": 42}, 400,
         "invalid_level"),
        ({"operation": "compress", "source": str(src), "target": str(outside)}, 400,
         "path_not_allowed"),
        ({"operation": "decompress", "source": str(src)}, 400, "not_an_archive"),
        ({"operation": "compress", "source": str(src), "target": str(src), "overwrite": True},
         400, "target_is_source"),
        ({"operation": "shrink", "source": str(src)}, 422, "validation_error"),
        ({"operation": "compress", "source": str(src), "threads": -1}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        resp = await client.post("/api/v1/compression/jobs", json=body)
        data = await resp.json()
        assert resp.status == status and data["error"]["code"] == code, (body, data)
    (work / "f.bin.zst").write_bytes(b"existing")
    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "compress", "source": str(src)})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "target_exists"
    assert (work / "f.bin.zst").read_bytes() == b"existing"
    listed = await (await client.get("/api/v1/compression/jobs")).json()
    assert listed["total"] == 0


@pytest.mark.sv_config({"compression": {}})  # the default allowed root: <data_dir>/pools
async def test_default_targets_stay_inside_the_root_of_the_source(client, sv_app) -> None:
    data_dir = Path(sv_app.data_dir)
    pools = data_dir / "pools"
    (pools / "tank").mkdir(parents=True)
    (pools / "tank" / "a.txt").write_bytes(semi(50_000))
    before = sorted(p.name for p in data_dir.iterdir())
    # the root itself: its default target <data_dir>/pools.tar.zst would lie beside the state DB
    resp = await client.post("/api/v1/compression/jobs",
                             json={"operation": "compress", "source": str(pools)})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["code"] == "target_required", body
    assert "give a target" in body["error"]["message"]
    assert body["error"]["details"]["field"] == "target"
    assert sorted(p.name for p in data_dir.iterdir()) == before
    assert (await (await client.get("/api/v1/compression/jobs")).json())["total"] == 0
    # a folder inside the root keeps its default target beside it
    done = await wait_job(client, (await submit(client, operation="compress",
                                                source=str(pools / "tank")))["id"])
    assert done["state"] == "SUCCESS" and done["result"]["target"] == str(pools / "tank.tar.zst")
    assert sorted(p.name for p in data_dir.iterdir()) == before


async def test_readonly_may_read_but_not_start(readonly_client, work: Path) -> None:
    assert (await readonly_client.get("/api/v1/compression/stats")).status == 200
    resp = await readonly_client.post("/api/v1/compression/jobs",
                                      json={"operation": "verify", "source": str(work)})
    assert resp.status == 403


async def test_progress_events_over_websocket(client, work: Path) -> None:
    src = work / "big.bin"
    src.write_bytes(semi(3_000_000, seed=9))
    ws = await client.ws_connect("/api/v1/ws")
    try:
        await ws.send_json({"type": "client.subscribe", "events": ["compression.*"]})
        await asyncio.sleep(0.2)
        job = await submit(client, operation="compress", source=str(src), codec="xz", level=6)
        events = []
        while True:
            event = await next_event(ws, "compression.progress", timeout=60)
            if event["data"]["job_id"] != job["id"]:
                continue
            events.append(event["data"])
            if event["data"]["done"]:
                break
    finally:
        await ws.close()
    middles = [e for e in events[:-1] if e["bytes_in"] > 0]
    assert middles, events
    middle, last = middles[0], events[-1]
    assert 0 < middle["percent"] < 100 and not middle["done"]
    assert middle["throughput"] > 0 and middle["eta_seconds"] is not None
    assert last["percent"] == 100 and last["bytes_in"] == src.stat().st_size
    assert last["ratio_text"].endswith("x") and last["bytes_out"] == (work / "big.bin.xz").stat().st_size
    done = await wait_job(client, job["id"])
    assert done["state"] == "SUCCESS"


async def test_cancel_and_delete(client, work: Path) -> None:
    src = work / "slow.bin"
    src.write_bytes(semi(6_000_000, seed=2))
    job = await submit(client, operation="compress", source=str(src), codec="xz", level=9)
    await asyncio.sleep(0.3)
    resp = await client.delete(f"/api/v1/compression/jobs/{job['id']}")
    body = await resp.json()
    assert resp.status == 200 and body["action"] == "cancelled" and body["state"] == "ABORTED", body
    assert not (work / "slow.bin.xz").exists()
    assert not [p for p in work.iterdir() if "sigmavault-tmp" in p.name]
    resp = await client.delete(f"/api/v1/compression/jobs/{job['id']}")
    assert (await resp.json())["action"] == "deleted"
    assert (await client.get(f"/api/v1/compression/jobs/{job['id']}")).status == 404


async def test_openapi_lists_the_compression_routes(client) -> None:
    from openapi_spec_validator import validate
    doc = await (await client.get("/api/v1/openapi.json")).json()
    validate(doc)
    for path in ("/api/v1/compression/stats", "/api/v1/compression/jobs",
                 "/api/v1/compression/jobs/{id}", "/api/v1/compression/codecs"):
        assert path in doc["paths"], path
