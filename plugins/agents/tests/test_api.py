"""The swarm API end to end: listing, dispatch, validation, history, cancel, events, counters."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sigmavault.testing import next_event, wait_job

OWN = {"VELOCITY", "PRISM", "WAVE", "NEXUS", "FORTRESS", "SENTINEL", "SHIELD", "GUARDIAN", "PHANTOM",
       "VERTEX", "PHOTON", "ATLAS", "CHRONICLE", "SYNAPSE", "RELAY", "OMNISCIENT"}


async def test_lists_the_sixteen_with_owner(client) -> None:
    resp = await client.get("/api/v1/agents")
    assert resp.status == 200
    agents = {a["id"]: a for a in await resp.json()}
    assert OWN <= set(agents)
    for name in OWN:
        a = agents[name]
        assert a["owner"] == "sigmavault-agents"
        assert a["status"] == "idle" and a["tier"] in ("core", "security", "storage", "support")
        assert a["params_schema"]["type"] == "object"
    resp = await client.get("/api/v1/agents/wave")
    assert (await resp.json())["specialty"] == "duplicate finder"


async def test_readonly_cannot_dispatch(readonly_client, area: Path) -> None:
    assert (await readonly_client.get("/api/v1/agents")).status == 200
    resp = await readonly_client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area)}})
    assert resp.status == 403


async def test_dispatch_errors(client, area: Path, tmp_path: Path) -> None:
    resp = await client.post("/api/v1/agents/NOPE/task", json={"params": {}})
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area), "top": 0}})
    body = await resp.json()
    assert resp.status == 422 and body["error"]["code"] == "validation_error", body
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {}})
    assert resp.status == 422
    outside = tmp_path / "outside"
    outside.mkdir()
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(outside)}})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "path_not_allowed"
    os.symlink(outside, area / "escape")
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area / "escape")}})
    assert resp.status == 400
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": f"{area}/../outside"}})
    assert resp.status == 400
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area / "missing")}})
    assert resp.status == 404
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": f"{area}/a\u0000b"}})
    assert resp.status == 400
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": "relative/dir"}})
    assert resp.status == 400
    total = (await (await client.get("/api/v1/agents/tasks")).json())["total"]
    assert total == 0  # nothing half-started


async def test_dispatch_runs_as_job_with_history_and_counters(client, sv_app, area: Path) -> None:
    (area / "a.txt").write_text("hello\n")
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["agent.status"]})
    await asyncio.sleep(0.1)
    resp = await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area)}})
    assert resp.status == 202
    task = await resp.json()
    assert task["agent"] == "PRISM" and task["job_id"] == task["id"]
    job = await wait_job(client, task["job_id"])
    assert job["state"] == "SUCCESS" and job["result"]["files"] == 1
    busy = await next_event(ws, lambda e: e["type"] == "agent.status" and e["data"]["agent"] == "PRISM")
    assert busy["data"]["state"] == "busy" and busy["data"]["previous"] == "idle"
    idle = await next_event(ws, lambda e: e["type"] == "agent.status" and e["data"]["agent"] == "PRISM")
    assert idle["data"]["state"] == "idle"
    await ws.close()
    got = await (await client.get(f"/api/v1/agents/tasks/{task['id']}")).json()
    assert got["state"] == "SUCCESS" and got["result"]["bytes"] == 6 and got["duration"] >= 0
    assert got["created_by"] == "admin"
    info = await (await client.get("/api/v1/agents/PRISM")).json()
    assert info["counters"]["tasks_done"] == 1 and info["counters"]["mean_duration"] is not None
    assert info["counters"]["last_active"]
    page = await (await client.get("/api/v1/agents/PRISM/tasks", params={"limit": "1"})).json()
    assert page["total"] == 1 and page["items"][0]["id"] == task["id"]
    row = sv_app.db.one("SELECT done FROM agents_counters WHERE agent='PRISM'")
    assert row["done"] == 1


async def test_failure_sets_error_state_and_counts(client, area: Path) -> None:
    resp = await client.post("/api/v1/agents/SHIELD/task", json={"params": {"path": str(area), "action": "verify"}})
    task = await resp.json()
    job = await wait_job(client, task["id"])
    assert job["state"] == "FAILED" and "build" in job["error"]
    info = await (await client.get("/api/v1/agents/SHIELD")).json()
    assert info["status"] == "error" and info["counters"]["tasks_failed"] == 1
    swarm = await (await client.get("/api/v1/agents/swarm")).json()
    assert swarm["by_state"]["error"] >= 1 and swarm["tasks"]["FAILED"] == 1
    assert swarm["by_tier"]["security"]["agents"] >= 5


async def test_priority_queue_and_cancel(client, sv_app, area: Path) -> None:
    (area / "f.bin").write_bytes(os.urandom(1024))
    # VELOCITY has concurrency 1: the first task holds the slot while the rest queue
    first = await (await client.post("/api/v1/agents/VELOCITY/task",
                                     json={"params": {"path": str(area), "size_mib": 64}})).json()
    low = await (await client.post("/api/v1/agents/VELOCITY/task",
                                   json={"params": {"path": str(area), "size_mib": 1}, "priority": -5})).json()
    high = await (await client.post("/api/v1/agents/VELOCITY/task",
                                    json={"params": {"path": str(area), "size_mib": 1}, "priority": 50})).json()
    doomed = await (await client.post("/api/v1/agents/VELOCITY/task",
                                      json={"params": {"path": str(area), "size_mib": 1}})).json()
    swarm = await (await client.get("/api/v1/agents/swarm")).json()
    assert swarm["queues"].get("VELOCITY", 0) >= 2
    resp = await client.delete(f"/api/v1/agents/tasks/{doomed['id']}")
    assert resp.status == 202
    assert (await resp.json())["state"] == "ABORTED"
    for t in (first, low, high):
        assert (await wait_job(client, t["id"], 60))["state"] == "SUCCESS"
    tasks = {t: await (await client.get(f"/api/v1/agents/tasks/{t}")).json() for t in (low["id"], high["id"])}
    assert tasks[high["id"]]["started_at"] <= tasks[low["id"]]["started_at"]
    resp = await client.delete(f"/api/v1/agents/tasks/{first['id']}")
    assert resp.status == 409
    resp = await client.get("/api/v1/agents/tasks/nope")
    assert resp.status == 404
    info = await (await client.get("/api/v1/agents/VELOCITY")).json()
    assert info["counters"]["tasks_aborted"] == 1 and info["counters"]["tasks_done"] == 3
    assert info["status"] == "idle"


async def test_task_history_offset_pages_newest_first(client, area: Path) -> None:
    (area / "a.txt").write_text("hello\n")
    ids = []
    for _ in range(3):
        task = await (await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area)}})).json()
        assert (await wait_job(client, task["id"]))["state"] == "SUCCESS"
        ids.append(task["id"])
    newest_first = ids[::-1]
    pages = []
    for offset in (0, 2, 3):
        resp = await client.get("/api/v1/agents/PRISM/tasks", params={"limit": "2", "offset": str(offset)})
        page = await resp.json()
        assert resp.status == 200, page
        assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == offset
        pages.append([t["id"] for t in page["items"]])
    assert pages == [newest_first[:2], newest_first[2:], []]
    one = await (await client.get("/api/v1/agents/PRISM/tasks", params={"limit": "1", "offset": "1"})).json()
    assert [t["id"] for t in one["items"]] == [newest_first[1]]
    # another agent's tasks never leak into PRISM's history, and a negative offset is refused
    other = await (await client.get("/api/v1/agents/WAVE/tasks", params={"offset": "0"})).json()
    assert other["total"] == 0 and other["items"] == []
    resp = await client.get("/api/v1/agents/PRISM/tasks", params={"offset": "-1"})
    assert resp.status == 422, await resp.text()


async def test_agent_status_events_for_a_failing_task_over_websocket(client, area: Path) -> None:
    (area / "f.txt").write_text("data\n")
    ws = await client.ws_connect("/api/v1/ws")
    try:
        await ws.send_json({"type": "client.subscribe", "events": ["agent.status"]})
        await asyncio.sleep(0.1)

        async def shield_event() -> dict:
            event = await next_event(ws, lambda e: e["type"] == "agent.status" and e["data"]["agent"] == "SHIELD")
            return event["data"]

        # verify without a manifest fails: busy, then error
        task = await (await client.post("/api/v1/agents/SHIELD/task",
                                        json={"params": {"path": str(area), "action": "verify"}})).json()
        assert (await wait_job(client, task["id"]))["state"] == "FAILED"
        busy = await shield_event()
        assert (busy["state"], busy["previous"], busy["task_id"]) == ("busy", "idle", task["id"])
        error = await shield_event()
        assert (error["state"], error["previous"], error["task_id"]) == ("error", "busy", task["id"])
        assert error["owner"] == "sigmavault-agents" and error["tier"] == "security" and error["running"] == 0
        # the next successful task clears the error state: busy (from error), then idle
        task = await (await client.post("/api/v1/agents/SHIELD/task",
                                        json={"params": {"path": str(area), "action": "build"}})).json()
        assert (await wait_job(client, task["id"]))["state"] == "SUCCESS"
        busy = await shield_event()
        assert (busy["state"], busy["previous"]) == ("busy", "error")
        idle = await shield_event()
        assert (idle["state"], idle["previous"], idle["task_id"]) == ("idle", "busy", task["id"])
    finally:
        await ws.close()
    info = await (await client.get("/api/v1/agents/SHIELD")).json()
    assert info["status"] == "idle" and info["counters"]["tasks_failed"] == 1 and info["counters"]["tasks_done"] == 1


async def test_operations_are_named_methods_too(sv_app, area: Path) -> None:
    """Each route is an operation: other plugins reach the same thing with ``app.call``."""
    (area / "a.txt").write_text("hello")
    task = await sv_app.call("agents.task.dispatch", id="prism", params={"path": str(area)})
    assert task["agent"] == "PRISM" and task["source"] == "call" and task["created_by"] is None
    await sv_app.jobs.wait(task["id"], 20)
    done = await sv_app.call("agents.task.get", task=task["id"])
    assert done["state"] == "SUCCESS" and done["result"]["files"] == 1
    page = await sv_app.call("agents.tasks.list", agent="prism", limit=5)
    assert page["limit"] == 5 and [t["id"] for t in page["items"]] == [task["id"]]
    swarm = await sv_app.call("agents.swarm.get")
    assert swarm["agents"] >= 16 and swarm["schedules"] == []
    assert (await sv_app.call("agents.get", id="Wave"))["specialty"] == "duplicate finder"
