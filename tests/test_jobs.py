"""Jobs through the public API: progress events, cancel, lock queueing, restart recovery."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import datetime

import pytest

from sigmavault.jobs import PROGRESS_INTERVAL, ProgressDetail
from sigmavault.testing import next_event, wait_job


async def countdown(client, seconds=0.3, steps=3, lock=None, expect=202):
    body = {"seconds": seconds, "steps": steps}
    if lock:
        body["lock"] = lock
    resp = await client.post("/api/v1/hello/countdown", json=body)
    job = await resp.json()
    assert resp.status == expect, job
    return job


async def test_job_runs_with_progress_events(client):
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress"]})
    await next_event(ws, "client.subscribed")
    job = await countdown(client, 0.6, 3)
    assert job["state"] in ("WAITING", "RUNNING") and job["created_by"] == "admin"
    percents = []
    while True:
        event = await next_event(ws, "job.progress")
        assert event["data"]["id"] == job["id"]
        percents.append(event["data"]["progress"]["percent"])
        if event["data"]["state"] == "SUCCESS":
            break
    assert percents[-1] == 100 and len(percents) >= 2 and percents == sorted(percents)
    done = await wait_job(client, job["id"])
    assert done["result"] == {"steps": 3} and done["finished_at"]
    listed = await (await client.get("/api/v1/jobs", params={"kind": "hello.*", "state": "SUCCESS"})).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]] and listed["total"] == 1
    await ws.close()


async def job_events(ws, job_id: str) -> list[dict]:
    """The ``job.progress`` envelopes of one job up to and including its final one."""
    events = []
    while True:
        event = await next_event(ws, lambda e: e["type"] == "job.progress" and e["data"]["id"] == job_id)
        events.append(event)
        if event["data"]["finished_at"]:
            return events


async def test_repeated_progress_sends_events_only_on_change(sv_app, client):
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress"]})
    await next_event(ws, "client.subscribed")

    async def same_progress(ctx):
        for _ in range(8):  # spaced wider than the throttle, so only the change check can merge them
            ctx.progress(50, "same")
            await asyncio.sleep(PROGRESS_INTERVAL * 1.2)
        ctx.progress(50, "other")
        await asyncio.sleep(PROGRESS_INTERVAL * 1.2)
        ctx.progress(50.0, "other", bytes_done=None)
        await asyncio.sleep(PROGRESS_INTERVAL * 1.2)

    job = sv_app.jobs.submit("test.same", same_progress)
    events = await job_events(ws, job.id)
    running = [e["data"]["progress"] for e in events[:-1]]
    assert running == [{"percent": 50, "description": "same", "bytes_done": None, "bytes_total": None,
                        "detail": None},
                       {"percent": 50, "description": "other", "bytes_done": None, "bytes_total": None,
                        "detail": None}]
    assert events[-1]["data"]["state"] == "SUCCESS"
    await ws.close()


async def test_fast_progress_is_throttled(client):
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress"]})
    await next_event(ws, "client.subscribed")
    job = await countdown(client, 1.5, 300)  # 300 distinct progress values in ~1.5 s
    events = await job_events(ws, job["id"])
    done = events[-1]["data"]
    assert done["state"] == "SUCCESS"
    ran = (datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"]))
    running = [datetime.fromisoformat(e["ts"]) for e in events[:-1]]
    # unthrottled this would be ~300 events a few ms apart
    assert 3 <= len(running) <= ran.total_seconds() / PROGRESS_INTERVAL + 2, (len(running), ran)
    gaps = [(b - a).total_seconds() for a, b in zip(running, running[1:])]
    assert min(gaps) >= PROGRESS_INTERVAL * 0.5, gaps
    await ws.close()


async def test_typed_detail_rides_the_one_throttled_channel(sv_app, client):
    """Thousands of progress calls from a worker thread: job.progress at the job's own interval,
    each with the newest typed detail; listeners see every published job and the finished one."""
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["job.progress"]})
    await next_event(ws, "client.subscribed")
    heard = []

    def work(ctx):
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < 1.0:
            i += 1
            ctx.progress(percent=min(99, i / 100), bytes_done=i, bytes_total=10_000_000,
                         detail=ProgressDetail(bytes_out=i // 2, bytes_plain=i, ratio=2.0,
                                               speed_bps=i / (time.monotonic() - started),
                                               elapsed_s=time.monotonic() - started, eta_s=1.0))
        return i

    async def job_func(ctx):
        ctx.progress_interval = 0.3
        ctx.on_progress(heard.append)
        return {"calls": await ctx.to_thread(work, ctx)}

    job = sv_app.jobs.submit("test.detail", job_func)
    events = await job_events(ws, job.id)
    await ws.close()
    calls = events[-1]["data"]["result"]["calls"]
    running = [e for e in events[:-1] if e["data"]["progress"]["detail"]]
    assert calls > 1000 and 2 <= len(running) <= 1.0 / 0.3 + 2, (calls, len(running))
    stamps = [datetime.fromisoformat(e["ts"]) for e in running]
    assert min((b - a).total_seconds() for a, b in zip(stamps, stamps[1:])) >= 0.3 * 0.8
    for event in running:
        progress = event["data"]["progress"]
        assert progress["detail"]["bytes_plain"] == progress["bytes_done"]  # one consistent update
        assert progress["detail"]["ratio"] == 2.0 and progress["detail"]["eta_s"] == 1.0
    final = events[-1]["data"]
    assert final["state"] == "SUCCESS" and final["progress"]["detail"]["bytes_plain"] == calls
    stored = await (await client.get(f"/api/v1/jobs/{job.id}")).json()
    assert stored["progress"]["detail"] == final["progress"]["detail"]
    assert [j.progress.model_dump(mode="json") for j in heard] == [e["data"]["progress"] for e in events]
    assert heard[-1].state == "SUCCESS"


async def test_a_failing_progress_listener_does_not_break_the_job(sv_app):
    async def job_func(ctx):
        ctx.on_progress(lambda job: 1 / 0)
        ctx.progress(50, "half", detail=ProgressDetail(ratio=1.5))
        await asyncio.sleep(PROGRESS_INTERVAL * 1.5)
        return {"ok": True}

    job = sv_app.jobs.submit("test.listener", job_func)
    done = await sv_app.jobs.wait(job.id, 10)
    assert done.state == "SUCCESS" and done.progress.detail == ProgressDetail(ratio=1.5)


@pytest.mark.sv_config({"jobs": {"history": 10}})
async def test_history_keeps_only_the_newest_finished_jobs(client):
    running = await countdown(client, 60, 60, lock="retention")
    queued = await countdown(client, 0.1, 1, lock="retention")
    ids = []
    for _ in range(100):  # two prune rounds
        ids.append((await countdown(client, 0, 1))["id"])
        assert (await wait_job(client, ids[-1]))["state"] == "SUCCESS"
    kept = await (await client.get("/api/v1/jobs", params={"state": "SUCCESS", "limit": "200"})).json()
    assert kept["total"] == 10 and [j["id"] for j in kept["items"]] == ids[:-11:-1]
    everything = await (await client.get("/api/v1/jobs", params={"limit": "200"})).json()
    assert everything["total"] == 12
    assert (await (await client.get(f"/api/v1/jobs/{ids[0]}")).json())["error"]["code"] == "not_found"
    states = {j["id"]: j["state"] for j in everything["items"]}
    assert states[running["id"]] == "RUNNING" and states[queued["id"]] == "WAITING"
    await client.post(f"/api/v1/jobs/{running['id']}/cancel")
    assert (await wait_job(client, queued["id"]))["state"] == "SUCCESS"


async def test_cancel_running_job(client):
    job = await countdown(client, 30, 30)
    await asyncio.sleep(0.2)
    resp = await client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert resp.status == 202
    done = await wait_job(client, job["id"], 5)
    assert done["state"] == "ABORTED"
    resp = await client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "job_finished"
    logs = await (await client.get(f"/api/v1/jobs/{job['id']}/logs")).json()
    assert any("ABORTED" in line["message"] for line in logs)


async def test_lock_queues_jobs_one_at_a_time(client):
    first = await countdown(client, 0.4, 2, lock="pool:tank")
    second = await countdown(client, 0.1, 1, lock="pool:tank")
    await asyncio.sleep(0.1)
    assert (await (await client.get(f"/api/v1/jobs/{second['id']}")).json())["state"] == "WAITING"
    a, b = await wait_job(client, first["id"]), await wait_job(client, second["id"])
    assert a["state"] == b["state"] == "SUCCESS"
    assert b["started_at"] >= a["finished_at"]


@pytest.mark.sv_config({"jobs": {"queue_limit": 1}})
async def test_lock_queue_limit_is_409(client):
    await countdown(client, 2, 2, lock="pool:x")
    await countdown(client, 0.1, 1, lock="pool:x")
    resp = await client.post("/api/v1/hello/countdown", json={"seconds": 0.1, "lock": "pool:x"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "lock_queue_full"


async def test_unknown_job_is_404(client):
    resp = await client.get("/api/v1/jobs/nope")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


def test_job_running_when_daemon_dies_is_interrupted(sv_daemon):
    import urllib.request
    daemon = sv_daemon()

    def call(method, path, body=None):
        req = urllib.request.Request(f"{daemon.url}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {daemon.admin_key}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    job = call("POST", "/hello/countdown", {"seconds": 60, "steps": 60})
    time.sleep(0.5)
    assert call("GET", f"/jobs/{job['id']}")["state"] == "RUNNING"
    daemon.kill()
    db = sqlite3.connect(daemon.data_dir / "sigmavault.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    daemon.start()
    after = call("GET", f"/jobs/{job['id']}")
    assert after["state"] == "ABORTED" and after["interrupted"] is True
    assert "interrupted" in after["error"]
    audit = call("GET", "/audit?action=hello.countdown.interrupted")
    assert [r["target"] for r in audit["items"]] == [job["id"]]  # the job_interrupted hook ran


def test_sweep_temporaries_removes_only_leftovers(tmp_path):
    from sigmavault.files import atomic_write, sweep_temporaries, temp_path_for
    target = tmp_path / "out" / "archive.zst"
    target.parent.mkdir()
    with atomic_write(target) as f:
        f.write(b"complete")
    leftover = temp_path_for(target)
    leftover.write_bytes(b"half")
    assert sweep_temporaries(tmp_path) == 1
    assert not leftover.exists() and target.read_bytes() == b"complete"


def test_atomic_write_perms_apply_before_data(tmp_path):
    import os
    from sigmavault.files import atomic_write
    target = tmp_path / "secret.key"
    with atomic_write(target, perms=0o600) as f:
        assert os.stat(f.fileno()).st_mode & 0o777 == 0o600
        f.write(b"k")
    assert target.stat().st_mode & 0o777 == 0o600
    with atomic_write(tmp_path / "plain", mode="w") as f:
        f.write("x")
    assert (tmp_path / "plain").read_text() == "x"
