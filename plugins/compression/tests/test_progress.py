"""One progress channel: compression.progress derived from the job's throttled job.progress (typed
detail), for a compression job and for a batch agent; the service's named operations."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from svcomp_support import other_plugins
from sigmavault.testing import next_event, wait_job

INTERVAL = 0.1


@pytest.fixture
def sv_config_overrides(work: Path) -> dict:
    return {"plugins": {"disabled": other_plugins()},
            "compression": {"allowed_roots": [str(work)], "progress_interval": INTERVAL}}


def semi(size: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rnd.randbytes(64) if rnd.random() < 0.3 else b"sigma vault pool snapshot " * 8
    return bytes(out[:size])


async def events_until_done(ws, job_id: str) -> list[dict]:
    """job.progress and compression.progress envelopes of one job, through its final job.progress
    and its final compression.progress."""
    seen: list[dict] = []
    finished = done = False
    while not (finished and done):
        event = await next_event(ws, lambda e: e["type"] in ("job.progress", "compression.progress"),
                                 timeout=60)
        data = event["data"]
        if (data.get("id") if event["type"] == "job.progress" else data["job_id"]) != job_id:
            continue
        seen.append(event)
        finished = finished or (event["type"] == "job.progress" and bool(data["finished_at"]))
        done = done or (event["type"] == "compression.progress" and data["done"])
    return seen


async def test_compression_progress_comes_from_the_job_channel(client, work: Path) -> None:
    src = work / "big.bin"
    src.write_bytes(semi(3_000_000, seed=4))
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress", "compression.*"]})
    await next_event(ws, "client.subscribed")
    resp = await client.post("/api/v1/compression/jobs", json={
        "operation": "compress", "source": str(src), "codec": "xz", "level": 6})
    job = await resp.json()
    assert resp.status == 202, job
    events = await events_until_done(ws, job["id"])
    await ws.close()

    # every compression.progress directly follows the job.progress it was made from
    pairs = [(a, b) for a, b in zip(events, events[1:]) if b["type"] == "compression.progress"]
    assert len(pairs) == sum(e["type"] == "compression.progress" for e in events) >= 2
    for jp, cp in pairs:
        assert jp["type"] == "job.progress" and cp["seq"] == jp["seq"] + 1
        progress, data = jp["data"]["progress"], cp["data"]
        detail = progress["detail"]
        assert data["bytes_in"] == progress["bytes_done"] and data["bytes_out"] == detail["bytes_out"]
        assert data["uncompressed"] == detail["bytes_plain"]
        assert data["throughput"] == detail["speed_bps"] and data["elapsed"] == detail["elapsed_s"]
    running = [cp for jp, cp in pairs if not cp["data"]["done"]]
    assert running and all(0 <= e["data"]["percent"] < 100 for e in running)
    stamps = [e["seq"] for e in events if e["type"] == "job.progress" and e["data"]["progress"]["detail"]]
    assert len(stamps) >= 2

    final_job, final = pairs[-1][0]["data"], pairs[-1][1]["data"]
    archive = work / "big.bin.xz"
    assert final_job["state"] == "SUCCESS" and final["done"] and final["percent"] == 100
    assert final["bytes_in"] == src.stat().st_size == final["uncompressed"]
    assert final["bytes_out"] == archive.stat().st_size and final["eta_seconds"] == 0
    stored = await wait_job(client, job["id"])
    detail = stored["progress"]["detail"]
    assert detail["bytes_out"] == archive.stat().st_size and detail["ratio"] > 1
    assert stored["progress"]["bytes_done"] == stored["progress"]["bytes_total"] == src.stat().st_size


async def test_a_failed_job_sends_no_done_event(client, work: Path) -> None:
    bad = work / "bad.bin.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200_000))
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress", "compression.*"]})
    await next_event(ws, "client.subscribed")
    resp = await client.post("/api/v1/compression/jobs", json={"operation": "verify",
                                                                "source": str(bad)})
    job = await resp.json()
    assert resp.status == 202, job
    seen = []
    while True:
        event = await next_event(ws, lambda e: e["type"] in ("job.progress", "compression.progress"),
                                 timeout=60)
        seen.append(event)
        if event["type"] == "job.progress" and event["data"]["finished_at"]:
            break
    await ws.close()
    assert seen[-1]["data"]["state"] == "FAILED"
    assert not [e for e in seen if e["type"] == "compression.progress" and e["data"]["done"]]


async def test_a_batch_agent_reports_on_the_same_channel(sv_app, client, work: Path) -> None:
    root = work / "many"
    root.mkdir()
    for i in range(6):
        (root / f"f{i}.log").write_bytes(semi(400_000, seed=i))
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress", "compression.*"]})
    await next_event(ws, "client.subscribed")
    spark = sv_app.registries["agents"]["SPARK"]
    params = spark.params_model.model_validate({"path": str(root), "workers": 2})
    job = sv_app.jobs.submit("test.spark", lambda ctx: spark.run(ctx, params))
    events = await events_until_done(ws, job.id)
    await ws.close()
    progress = [e["data"] for e in events if e["type"] == "compression.progress"]
    assert {p["operation"] for p in progress} == {"spark"} and progress[-1]["done"]
    assert progress[-1]["bytes_in"] == 6 * 400_000 and progress[-1]["percent"] == 100
    assert progress[-1]["ratio"] > 1 and progress[-1]["ratio_text"].endswith("x")
    final = [e["data"] for e in events if e["type"] == "job.progress"][-1]
    assert final["state"] == "SUCCESS" and final["progress"]["detail"]["bytes_plain"] == 6 * 400_000


async def test_named_operations(sv_app, work: Path) -> None:
    names = {c["name"] for c in await sv_app.call("compression.codecs.list")}
    assert {"zstd", "gzip", "xz", "bz2"} <= names
    src = work / "named.txt"
    src.write_bytes(semi(100_000, seed=7))
    job = await sv_app.call("compression.job.create", body={"operation": "compress",
                                                            "source": str(src)})
    assert job["kind"] == "compression.compress" and job["state"] in ("WAITING", "RUNNING")
    done = await sv_app.jobs.wait(job["id"], 30)
    assert done.state == "SUCCESS" and (work / "named.txt.zst").is_file()
    got = await sv_app.call("compression.job.get", id=job["id"])
    assert got["result"]["ratio"] > 1
    stats = await sv_app.call("compression.stats.get")
    assert [c["codec"] for c in stats["codecs"]] == ["zstd"]
    page = await sv_app.call("compression.jobs.list", query={"state": "SUCCESS"})
    assert [j["id"] for j in page["items"]] == [job["id"]]
    assert (await sv_app.call("compression.job.delete", id=job["id"]))["action"] == "deleted"
