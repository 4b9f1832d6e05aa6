"""Agent PULSE end to end: a job samples, raises and clears `alert` events, persists active alerts."""

from __future__ import annotations

import pytest

from sigmavault.testing import next_event, wait_job

pytestmark = pytest.mark.sv_config({"system": {"interval": 0.2, "pulse_interval": 0}})

ONLY_MEMORY = {"cpu_percent": None, "filesystem_percent": None, "temperature_celsius": None,
               "window_seconds": 5}


async def _run_direct(sv_app, client, **params):
    agent = sv_app.registries["agents"]["PULSE"]
    p = agent.params_model(**params)
    job = sv_app.jobs.submit("agent.PULSE", lambda ctx: agent.run(ctx, p), params=params,
                             description="PULSE test")
    done = await wait_job(client, job.id)
    assert done["state"] == "SUCCESS", done
    return done["result"]


async def test_pulse_raises_and_clears_a_memory_alert(sv_app, client):
    agent = sv_app.registries["agents"]["PULSE"]
    assert agent.tier == "core" and agent.specialty == "health heartbeat"
    ws = await client.ws_connect("/api/v1/ws")
    try:
        await ws.send_json({"type": "client.subscribe", "events": ["alert"]})
        raised = await _run_direct(sv_app, client, memory_percent=0, **ONLY_MEMORY)
        assert raised["raised"] == ["system.memory"] and raised["active"] == ["system.memory"]
        [check] = raised["checks"]
        meminfo_used = check["value"]
        assert 0 < meminfo_used < 100 and check["breached"]
        event = await next_event(ws, "alert", timeout=5)
        assert event["data"]["id"] == "system.memory" and event["data"]["active"] is True
        assert event["data"]["source"] == "PULSE"

        listed = await (await client.get("/api/v1/system/alerts")).json()
        assert [a["id"] for a in listed] == ["system.memory"]

        again = await _run_direct(sv_app, client, memory_percent=0, **ONLY_MEMORY)
        assert again["raised"] == [] and again["active"] == ["system.memory"]  # no repeat

        if meminfo_used < 90:
            cleared = await _run_direct(sv_app, client, memory_percent=100, **ONLY_MEMORY)
            assert cleared["cleared"] == ["system.memory"] and cleared["active"] == []
            event = await next_event(ws, "alert", timeout=5)
            assert event["data"]["id"] == "system.memory" and event["data"]["active"] is False
            assert await (await client.get("/api/v1/system/alerts")).json() == []
    finally:
        await ws.close()


async def test_pulse_defaults_come_from_config(sv_app, client):
    result = await _run_direct(sv_app, client)
    assert result["thresholds"]["cpu_percent"] == 90.0
    ids = {c["id"] for c in result["checks"]}
    assert {"system.cpu", "system.memory", "system.filesystem:/"} <= ids
    assert result["samples"] >= 1


async def test_pulse_through_the_agents_api(sv_app, client):
    resp = await client.get("/api/v1/agents")
    if resp.status == 404:
        pytest.skip("the agents plugin (task runtime) is not installed")
    resp = await client.post("/api/v1/agents/PULSE/task",
                             json={"params": {"filesystem_percent": 0, "cpu_percent": None,
                                              "memory_percent": None, "temperature_celsius": None}})
    body = await resp.json()
    assert resp.status == 202, body
    done = await wait_job(client, body["id"])
    assert done["state"] == "SUCCESS", done
    assert "system.filesystem:/" in done["result"]["raised"]
    bad = await client.post("/api/v1/agents/PULSE/task", json={"params": {"cpu_percent": 150}})
    assert bad.status == 422


@pytest.mark.sv_config({"system": {"interval": 0.2, "pulse_interval": 0.3, "pulse": {
    "cpu_percent": None, "memory_percent": 0, "filesystem_percent": None,
    "temperature_celsius": None}}})
async def test_heartbeat_raises_configured_alerts_without_a_task(sv_app, client):
    ws = await client.ws_connect("/api/v1/ws")
    try:
        # since=0 replays from the ring: the first beat may come before the subscription
        await ws.send_json({"type": "client.subscribe", "events": ["alert"], "since": 0})
        event = await next_event(ws, "alert", timeout=5)
        assert event["data"]["id"] == "system.memory" and event["data"]["active"] is True
        listed = await (await client.get("/api/v1/system/alerts")).json()
        assert [a["id"] for a in listed] == ["system.memory"]
        jobs = await (await client.get("/api/v1/jobs")).json()
        assert jobs["total"] == 0  # the heartbeat runs no job
    finally:
        await ws.close()


@pytest.mark.sv_config({"system": {"interval": 0.2, "pulse_interval": 0.3, "pulse": {
    "cpu_percent": None, "memory_percent": 100, "filesystem_percent": None,
    "temperature_celsius": None}}})
async def test_thresholds_changed_through_the_api_drive_the_heartbeat(sv_app, client, readonly_client):
    configured = await (await client.get("/api/v1/system/alerts/thresholds")).json()
    assert configured["memory_percent"] == 100 and configured["cpu_percent"] is None
    bad = await client.put("/api/v1/system/alerts/thresholds", json={"memory_percent": 150})
    assert bad.status == 422 and "memory_percent" in (await bad.json())["error"]["message"]
    denied = await readonly_client.put("/api/v1/system/alerts/thresholds", json={})
    assert denied.status == 403
    ws = await client.ws_connect("/api/v1/ws")
    try:
        await ws.send_json({"type": "client.subscribe", "events": ["alert"]})
        await next_event(ws, "client.subscribed")
        changed = await client.put("/api/v1/system/alerts/thresholds", json={
            **configured, "memory_percent": 0})
        assert changed.status == 200 and (await changed.json())["memory_percent"] == 0
        event = await next_event(ws, "alert", timeout=5)   # the next beat uses the new threshold
        assert event["data"]["id"] == "system.memory" and event["data"]["threshold"] == 0
    finally:
        await ws.close()
    kept = await (await readonly_client.get("/api/v1/system/alerts/thresholds")).json()
    assert kept["memory_percent"] == 0
