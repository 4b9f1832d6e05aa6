"""The system plugin through the daemon's public surface: REST, WebSocket, OpenAPI."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import svsys_proc as proc
from sigmavault.testing import next_event
from sigmavault_system.models import MetricsHistory, Status

async def _ok(client, path, **kw):
    resp = await client.get(path, **kw)
    body = await resp.json()
    assert resp.status == 200, body
    return body


async def test_status_matches_the_kernel(client):
    s = await _ok(client, "/api/v1/system/status")
    Status.model_validate(s)
    later = await _ok(client, "/api/v1/system/status")
    assert later["time"] >= s["time"] and later["uptime"] >= s["uptime"]
    assert s["hostname"] == socket.gethostname()
    assert s["kernel"] == os.uname().release
    assert abs(s["uptime"] - proc.uptime()) < 3
    assert abs(s["time"] - time.time()) < 3
    assert s["memory"]["total"] == proc.meminfo()["MemTotal"]
    assert abs(s["memory"]["available"] - proc.meminfo()["MemAvailable"]) < 0.05 * s["memory"]["total"]
    assert all(abs(a - b) < 1.0 for a, b in zip(s["load"], proc.loadavg()))
    assert s["cpu_count"] == len([k for k in proc.cpu_stat() if k != "cpu"])
    assert 0 <= s["cpu_percent"] <= 100 and s["sampler_interval"] == 0.2


async def test_metrics_are_rates_over_the_sampling_interval(client):
    before = proc.net_dev()["lo"]
    m = await _ok(client, "/api/v1/system/metrics")
    after = proc.net_dev()["lo"]
    assert 0.1 < m["interval"] < 0.5
    assert len(m["cpu"]["per_core"]) == m["cpu"]["count"] == os.cpu_count()
    lo = next(n for n in m["network"] if n["interface"] == "lo")
    # the sample may predate this request by one interval: allow that much traffic
    assert lo["rx_bytes_total"] <= after["rx_bytes"]
    assert lo["rx_bytes_total"] >= before["rx_bytes"] - 50 * 1024 ** 2
    assert any(f["mountpoint"] == "/" for f in m["filesystems"])
    assert not any(d["device"].startswith("loop") for d in m["disks"])


async def test_history_is_bounded_windowed_and_downsampled(client):
    await asyncio.sleep(2.6)
    h = await _ok(client, "/api/v1/system/metrics/history")
    assert h["capacity"] == 10 and h["interval"] == 0.2
    MetricsHistory.model_validate(h)  # the spliced JSON still matches the declared schema
    assert 8 <= len(h["samples"]) <= 10
    ts = [s["ts"] for s in h["samples"]]
    assert ts == sorted(ts)
    recent = await _ok(client, "/api/v1/system/metrics/history", params={"seconds": "0.5"})
    assert 1 <= len(recent["samples"]) <= 4
    stepped = await _ok(client, "/api/v1/system/metrics/history", params={"step": "3"})
    assert 2 <= len(stepped["samples"]) <= 4
    bad = await client.get("/api/v1/system/metrics/history", params={"step": "0"})
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "validation_error"


async def test_interfaces_in_a_test_namespace(client, veth_netns):
    links = await _ok(client, "/api/v1/system/network/interfaces", params={"netns": veth_netns})
    by_name = {i["name"]: i for i in links}
    assert by_name["svtest0"]["kind"] == by_name["svtest1"]["kind"] == "veth"
    assert by_name["svtest0"]["peer_index"] == by_name["svtest1"]["index"]
    assert by_name["svtest0"]["mtu"] == 1400
    assert [a["address"] for a in by_name["svtest0"]["addresses"]] == ["10.77.0.1"] or \
        "10.77.0.1" in [a["address"] for a in by_name["svtest0"]["addresses"]]
    host = await _ok(client, "/api/v1/system/network/interfaces")
    assert "lo" in {i["name"] for i in host} and "svtest0" not in {i["name"] for i in host}


async def test_interfaces_bad_namespace(client):
    missing = await client.get("/api/v1/system/network/interfaces",
                               params={"netns": f"svsys-none-{secrets.token_hex(3)}"})
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    for bad in ("../etc", "-x", "a/b", ""):
        resp = await client.get("/api/v1/system/network/interfaces", params={"netns": bad})
        assert resp.status == 422, bad
    assert not os.path.exists("/run/netns/svsys-none")


@pytest.mark.sv_config({"system": {"interval": 0.2, "pulse_interval": 0, "services": [
    {"name": "sleeper", "process": "sleep", "cmdline": "4242.4242"}]}})
async def test_services_configured_list(client):
    proc_ = await asyncio.create_subprocess_exec("sleep", "4242.4242")
    try:
        [svc] = await _ok(client, "/api/v1/system/services")
        assert svc["name"] == "sleeper" and svc["active"] and proc_.pid in svc["pids"]
    finally:
        proc_.kill()
        await proc_.wait()
    [svc] = await _ok(client, "/api/v1/system/services")
    assert not svc["active"] and svc["state"] == "stopped"


async def test_default_services_listed(client):
    names = {s["name"] for s in await _ok(client, "/api/v1/system/services")}
    assert {"ssh", "smbd", "nfs-server", "zfs-fuse"} <= names


async def test_prometheus_exposition_behind_auth(client, readonly_client, anon_client):
    resp = await readonly_client.get("/api/v1/system/prometheus")
    assert resp.status == 200 and resp.content_type == "text/plain"
    families = {f.name for f in text_string_to_metric_families(await resp.text())}
    assert {"sigmavault_cpu_seconds", "sigmavault_memory_bytes", "sigmavault_network_receive_bytes",
            "sigmavault_process_resident_memory_bytes"} <= families
    assert (await anon_client.get("/api/v1/system/prometheus")).status == 401


async def test_prometheus_at_the_well_known_url(sv_app, readonly_client, anon_client):
    if not any(getattr(r, "absolute", False) for r in sv_app.api.routes):
        pytest.skip("this core cannot mount un-prefixed routes (Api.route(absolute=True))")
    resp = await readonly_client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert "sigmavault_memory_bytes" in await resp.text()
    assert (await anon_client.get("/metrics")).status == 401


@pytest.mark.sv_config({"system": {"prometheus": False, "pulse_interval": 0}})
async def test_prometheus_can_be_disabled(client):
    for path in ("/api/v1/system/prometheus", "/metrics"):
        resp = await client.get(path)
        if path == "/metrics" and resp.content_type != "application/json":
            continue  # no absolute routes in this core: not ours
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "disabled", path


async def test_anonymous_gets_nothing(anon_client):
    for path in ("status", "metrics", "metrics/history", "network/interfaces", "services"):
        assert (await anon_client.get(f"/api/v1/system/{path}")).status == 401


async def test_metrics_events_stream_at_the_configured_rate_only_while_subscribed(client, sv_app):
    await asyncio.sleep(0.5)
    assert not any(t == "system.metrics" for _, t, _ in sv_app.events.ring), \
        "published with no subscriber"
    ws = await client.ws_connect("/api/v1/ws")
    try:
        await ws.send_json({"type": "client.subscribe", "events": ["system.*"]})
        first = await next_event(ws, "system.metrics", timeout=5)
        started = time.monotonic()
        events = [first]
        while len(events) < 6:
            events.append(await next_event(ws, "system.metrics", timeout=2))
        elapsed = time.monotonic() - started
        assert 0.7 < elapsed < 1.6, elapsed  # five more events at 0.2 s each
        gaps = [b["data"]["ts"] - a["data"]["ts"] for a, b in zip(events, events[1:])]
        assert all(0.1 < g < 0.35 for g in gaps), gaps
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
        data = events[-1]["data"]
        assert data["memory"]["total"] == proc.meminfo()["MemTotal"]
        assert len(data["cpu"]["per_core"]) == os.cpu_count()
    finally:
        await ws.close()
    await asyncio.sleep(0.3)
    n = sum(1 for _, t, _ in sv_app.events.ring if t == "system.metrics")
    await asyncio.sleep(0.6)
    assert sum(1 for _, t, _ in sv_app.events.ring if t == "system.metrics") == n, \
        "still publishing after the last subscriber left"


async def test_openapi_declares_the_system_routes(client):
    doc = await _ok(client, "/api/v1/openapi.json")
    for path in ("status", "metrics", "metrics/history", "network/interfaces", "services",
                 "alerts", "prometheus"):
        assert f"/api/v1/system/{path}" in doc["paths"], path
    pages = {p["id"]: p for p in await _ok(client, "/api/v1/ui/pages")}
    assert pages["system"]["path"] == "/system" and pages["system"]["plugin"] == "sigmavault-system"
    events = {e["name"]: e for e in await _ok(client, "/api/v1/events")}
    assert events["system.metrics"]["plugin"] == "sigmavault-system"


async def test_named_methods_answer_documents(sv_app, client):
    """The operations are named methods too: other plugins get dicts, not the served bytes."""
    from sigmavault_system.service import SystemService

    await _ok(client, "/api/v1/system/status")  # a sample exists
    Status.model_validate(await sv_app.call("system.status"))
    h = MetricsHistory.model_validate(await sv_app.call("system.metrics.history", step=2))
    assert h.capacity == 10 and h.samples
    assert (await sv_app.call("system.metrics"))["cpu"]["count"] == os.cpu_count()
    assert "sigmavault_cpu_seconds_total" in await sv_app.call("system.prometheus")
    assert await sv_app.call("system.alerts.list") == []
    assert sv_app.services[SystemService].sampler.samples_taken > 0
