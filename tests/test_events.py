"""The WebSocket event hub with real clients: subscriptions, heartbeat, resume, slow clients."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType
from pydantic import ValidationError

from sigmavault.testing import next_event


def publish(app, n: int = 1, kind: str = "test.tick", **data):
    if kind not in app.events.types:
        app.events.register(kind, None, "test events")
    return [app.events.publish(kind, {"i": i, **data}) for i in range(n)]


async def subscribe(ws, *events, since=None):
    msg = {"type": "client.subscribe", "events": list(events)}
    if since is not None:
        msg["since"] = since
    await ws.send_json(msg)
    return await next_event(ws, "client.subscribed")


async def test_hello_envelope_and_event_catalogue(sv_app, client):
    ws = await client.ws_connect("/api/v1/ws")
    hello = await ws.receive_json()
    assert hello["type"] == "client.hello" and "oldest_seq" in hello["data"]
    types = {t["name"] for t in await (await client.get("/api/v1/events")).json()}
    assert {"job.progress", "alert"} <= types
    await ws.close()


async def test_alert_has_a_schema_and_payloads_are_validated(sv_app, client):
    catalogue = {t["name"]: t for t in await (await client.get("/api/v1/events")).json()}
    schema = catalogue["alert"]["schema_"]
    assert set(schema["required"]) == {"id", "severity", "message", "source"}
    assert schema["properties"]["severity"]["enum"] == ["info", "warning", "critical"]
    ws = await client.ws_connect("/api/v1/ws")
    await subscribe(ws, "alert")
    for bad in ({"id": "a", "severity": "loud", "message": "m", "source": "t"},
                {"id": "a", "severity": "info", "source": "t"},
                {"id": "a", "severity": "info", "message": "m", "source": "t", "typo": 1}):
        with pytest.raises(ValidationError):
            sv_app.events.publish("alert", bad)
    sv_app.events.publish("alert", {"id": "t:1", "severity": "warning", "message": "disk hot",
                                    "source": "test", "value": 71, "threshold": 70})
    event = await next_event(ws, "alert")
    assert event["data"] == {"id": "t:1", "severity": "warning", "message": "disk hot", "source": "test",
                             "active": True, "value": 71.0, "threshold": 70.0, "details": None}
    await ws.close()


async def test_subscribe_wildcards_and_unsubscribe(sv_app, client):
    ws = await client.ws_connect("/api/v1/ws")
    await subscribe(ws, "test.*", "marker")
    publish(sv_app, 1, "other.tick")  # first: a wildcard letting everything through receives it first
    publish(sv_app, 1, "test.tick")
    event = await next_event(ws, lambda e: e["type"] not in ("client.hello", "client.subscribed"))
    assert event["type"] == "test.tick" and event["data"] == {"i": 0}
    assert set(event) == {"type", "seq", "ts", "data"}
    await ws.send_json({"type": "client.unsubscribe", "events": ["test.*"]})
    assert (await next_event(ws, "client.subscribed"))["data"]["events"] == ["marker"]
    publish(sv_app, 1, "test.tick")
    publish(sv_app, 1, "marker")  # still subscribed: once it arrives, test.tick would have too
    after = await next_event(ws, lambda e: e["type"] in ("test.tick", "marker"))
    assert after["type"] == "marker"
    await subscribe(ws, "*")
    publish(sv_app, 1, "other.tick")
    assert (await next_event(ws, lambda e: e["type"].endswith(".tick")))["type"] == "other.tick"
    await ws.close()


async def test_ping_pong_and_bad_messages(client):
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "ping", "data": 7})
    assert (await next_event(ws, "pong"))["data"] == {"echo": 7}
    await ws.send_str("not json")
    assert (await next_event(ws, "client.error"))["data"]["message"]
    await ws.send_json({"type": "client.subscribe", "events": "system.*"})
    assert "list" in (await next_event(ws, "client.error"))["data"]["message"]
    await ws.close()


@pytest.mark.sv_config({"events": {"heartbeat_seconds": 0.2}})
async def test_protocol_heartbeat(client):
    ws = await client.ws_connect("/api/v1/ws", autoping=False)
    await ws.receive_json()  # hello
    msg = await asyncio.wait_for(ws.receive(), 3)
    assert msg.type == WSMsgType.PING
    await ws.pong(msg.data)
    await ws.close()


async def test_resume_without_gap(sv_app, client):
    first = publish(sv_app, 3)
    ws = await client.ws_connect("/api/v1/ws")
    await subscribe(ws, "test.*", since=first[0]["seq"])
    got = [await next_event(ws, "test.tick"), await next_event(ws, "test.tick")]
    assert [e["seq"] for e in got] == [first[1]["seq"], first[2]["seq"]]
    await ws.close()


@pytest.mark.sv_config({"events": {"ring_size": 10}})
async def test_resume_with_gap_says_refetch(sv_app, client):
    first = publish(sv_app, 30)
    ws = await client.ws_connect("/api/v1/ws")
    await subscribe(ws, "test.*", since=first[0]["seq"])
    gap = await next_event(ws, "client.gap")
    assert gap["data"]["since"] == first[0]["seq"] and "refetch" in gap["data"]["message"]
    await ws.close()


@pytest.mark.sv_config({"events": {"client_queue": 8}})
async def test_slow_client_is_dropped_and_fast_client_keeps_receiving(sv_app, client):
    slow = await client.ws_connect("/api/v1/ws", max_msg_size=0)
    await subscribe(slow, "test.*")
    fast = await client.ws_connect("/api/v1/ws", max_msg_size=0)
    await subscribe(fast, "test.*")
    received = 0

    async def read_fast():
        nonlocal received
        while received < 400:
            msg = await fast.receive()
            if msg.type == WSMsgType.TEXT and '"test.tick"' in msg.data[:40]:
                received += 1

    reader = asyncio.create_task(read_fast())
    blob = "x" * 65536
    for _ in range(400):  # the slow client never reads: its socket buffers and queue fill up
        publish(sv_app, 1, blob=blob)
        await asyncio.sleep(0)
    await asyncio.wait_for(reader, 20)
    assert received == 400
    # the slow client's stream ends with a close frame giving the reason
    while True:
        msg = await asyncio.wait_for(slow.receive(), 20)
        if msg.type != WSMsgType.TEXT:
            break
    assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 4008, "client too slow: event queue overflowed")
    assert len(sv_app.events.subscribers) == 1
    await fast.close()


async def test_shutdown_closes_sockets(sv_app, client):
    ws = await client.ws_connect("/api/v1/ws")
    await ws.receive_json()
    await sv_app.web.shutdown()
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 1001, "server shutting down")


async def test_websocket_requires_upgrade(client):
    resp = await client.get("/api/v1/ws")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "websocket_required"
