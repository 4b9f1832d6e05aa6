"""Resuming the event stream with ``since``: long replays, live events after them, bad values."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType

from sigmavault.testing import next_event


def publish(app, n: int, kind: str = "test.tick") -> list[dict]:
    if kind not in app.events.types:
        app.events.register(kind, None, "test events")
    return [app.events.publish(kind, {"i": i}) for i in range(n)]


async def ticks(ws, n: int) -> list[int]:
    """The seqs of the next ``n`` test.tick events; fails on a close or an unexpected message."""
    seqs = []
    while len(seqs) < n:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, msg.extra, len(seqs))
        event = msg.json()
        assert event["type"] in ("test.tick", "client.subscribed"), event
        if event["type"] == "test.tick":
            seqs.append(event["seq"])
    return seqs


async def test_replay_longer_than_the_client_queue_then_live(sv_app, client):
    assert (sv_app.config.events.ring_size, sv_app.config.events.client_queue) == (1000, 256)
    newest = publish(sv_app, 900)[-1]["seq"]
    ws = await client.ws_connect("/api/v1/ws")
    await next_event(ws, "client.hello")
    await ws.send_json({"type": "client.subscribe", "events": ["test.*"], "since": newest - 800})
    assert await ticks(ws, 800) == list(range(newest - 799, newest + 1))
    publish(sv_app, 5)
    assert await ticks(ws, 5) == list(range(newest + 1, newest + 6))
    await ws.close()


async def test_events_published_during_a_replay_follow_it_once_and_in_order(sv_app, client):
    newest = publish(sv_app, 900)[-1]["seq"]
    ws = await client.ws_connect("/api/v1/ws")
    await next_event(ws, "client.hello")
    await ws.send_json({"type": "client.subscribe", "events": ["test.*"], "since": newest - 800})

    async def keep_publishing() -> None:
        for _ in range(300):
            publish(sv_app, 1)
            await asyncio.sleep(0)

    publisher = asyncio.create_task(keep_publishing())
    seqs = await ticks(ws, 1100)
    await publisher
    assert seqs == list(range(newest - 799, newest + 301))
    await ws.close()


async def test_since_older_than_the_ring_says_gap_then_goes_live(sv_app, client):
    publish(sv_app, 1100)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["test.*"], "since": 50})
    gap = await next_event(ws, "client.gap")
    assert gap["data"]["since"] == 50 and gap["data"]["oldest_seq"] == sv_app.events.oldest_seq()
    newest = publish(sv_app, 1)[0]["seq"]
    assert (await next_event(ws, "test.tick"))["seq"] == newest
    await ws.close()


@pytest.mark.parametrize("since", ["abc", 1.5, -1, True, [3], "future"])
async def test_bad_since_is_a_client_error_naming_it(sv_app, client, since):
    newest = publish(sv_app, 20)[-1]["seq"]
    since = newest + 5 if since == "future" else since
    ws = await client.ws_connect("/api/v1/ws")
    await next_event(ws, "client.hello")
    await ws.send_json({"type": "client.subscribe", "events": ["test.*"], "since": since})
    reply = await next_event(ws, lambda e: True)
    assert reply["type"] == "client.error", reply
    assert reply["data"]["field"] == "since" and "'since'" in reply["data"]["message"]
    await ws.send_json({"type": "ping"})  # the refused subscription changed nothing
    assert (await next_event(ws, lambda e: True))["type"] == "pong"
    publish(sv_app, 1)
    await ws.send_json({"type": "ping"})
    assert (await next_event(ws, lambda e: True))["type"] == "pong"
    await ws.close()


async def test_since_equal_to_the_newest_seq_replays_nothing(sv_app, client):
    newest = publish(sv_app, 3)[-1]["seq"]
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["test.*"], "since": newest})
    await next_event(ws, "client.subscribed")
    publish(sv_app, 1)
    assert (await next_event(ws, "test.tick"))["seq"] == newest + 1
    await ws.close()


@pytest.mark.sv_config({"events": {"ring_size": 50}})
async def test_a_replay_overtaken_by_the_ring_says_gap_and_goes_on(sv_app, client):
    sv_app.events.register("test.blob", None, "big test events")
    blob = "x" * (256 << 10)  # the replay outgrows the socket buffers and waits for the reader

    def publish_blobs(n: int) -> None:
        for _ in range(n):
            sv_app.events.publish("test.blob", {"blob": blob})

    publish_blobs(50)
    since = sv_app.events.oldest_seq()
    ws = await client.ws_connect("/api/v1/ws", max_msg_size=0)
    await next_event(ws, "client.hello")
    await ws.send_json({"type": "client.subscribe", "events": ["test.*"], "since": since})
    await next_event(ws, "client.subscribed")
    for _ in range(200):  # while the client reads nothing, the ring moves past the replay
        publish_blobs(1)
        await asyncio.sleep(0)
    newest = sv_app.events.seq
    seen, gaps, at = [], [], 0  # at: the seq the client is up to (a gap's seq skips ahead)
    while at < newest:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        event = msg.json()
        (gaps if event["type"] == "client.gap" else seen).append(event)
        at = event["seq"]
    seen = [e["seq"] for e in seen]
    assert seen[0] == since + 1 and seen == sorted(set(seen))  # in order, no repeats
    assert gaps and len(seen) < newest - since
    after_gap = [s for s in seen if s > gaps[-1]["seq"]]
    assert after_gap == list(range(gaps[-1]["seq"] + 1, newest + 1))  # nothing lost after it
    await ws.close()
