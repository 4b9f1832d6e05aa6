"""The event catalogue and the WebSocket event stream ``/api/v1/ws``.

Client → server: ``{"type": "client.subscribe", "events": [...], "since": N?}``,
``{"type": "client.unsubscribe", "events": [...]}``, ``{"type": "ping"}``.
Server → client: event envelopes, plus ``client.hello``, ``client.subscribed``, ``client.gap``
(the ring no longer holds what ``since`` asks for: refetch state), ``pong`` and ``client.error``
(with ``field`` naming the bad one, if any). Close codes: 4008 slow client, 4401 credentials no
longer valid, 4403 role changed (``sigmavault.stream_auth``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from pydantic import BaseModel

from sigmavault import __version__, hookimpl
from sigmavault.app import SigmaVault, get_app
from sigmavault.auth import identity
from sigmavault.errors import APIError
from sigmavault.events import EventHub, Subscriber
from sigmavault.stream_auth import CredentialWatch

CLOSE_SLOW_CONSUMER = 4008


class EventTypeOut(BaseModel):
    name: str
    description: str
    plugin: str
    schema_: dict[str, Any] | None = None


def _origin_allowed(request: web.Request, sv: SigmaVault) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: scripts authenticate with API keys
        return True
    if origin in sv.config.auth.allowed_origins:
        return True
    return urlsplit(origin).netloc == request.host


def _control(kind: str, hub_seq: int, **data: Any) -> str:
    return json.dumps({"type": kind, "seq": hub_seq, "ts": None, "data": data})


@hookimpl
def register_routes(app: Any) -> None:
    @app.api.get("/events", response=list[EventTypeOut], tags=["events"])
    async def event_types(request: web.Request) -> list:
        """Every event type with its description, owner plugin and data schema."""
        out = []
        for t in sorted(get_app(request).events.types.values(), key=lambda t: t.name):
            schema = t.model.model_json_schema() if t.model is not None else None
            out.append({"name": t.name, "description": t.description, "plugin": t.plugin,
                        "schema_": schema})
        return out

    watch = CredentialWatch(app.auth)

    @app.api.get("/ws", tags=["events"], status=101, errors=[400, 403])
    async def websocket(request: web.Request) -> web.StreamResponse:
        """The live event stream (WebSocket upgrade required)."""
        sv = get_app(request)
        if not _origin_allowed(request, sv):
            raise APIError(403, "origin_refused", f"Origin {request.headers['Origin']} may not "
                           "open the event stream")
        # no permessage-deflate: one encoded event goes to many clients unchanged
        ws = web.WebSocketResponse(heartbeat=sv.config.events.heartbeat_seconds,
                                   max_msg_size=64 * 1024, compress=False)
        if not ws.can_prepare(request).ok:
            raise APIError(400, "websocket_required", "connect with a WebSocket client")
        await ws.prepare(request)
        sv.websockets.add(ws)
        watch.add(ws, request, identity(request))
        hub = sv.events
        closing: list[str] = []

        def overflow() -> None:
            closing.append("client too slow: event queue overflowed")
            asyncio.ensure_future(ws.close(code=CLOSE_SLOW_CONSUMER, message=closing[0].encode()))

        sub: Subscriber = hub.subscribe(overflow)

        async def gap(since: int, newest: int) -> None:
            await ws.send_str(_control("client.gap", newest, since=since, oldest_seq=hub.oldest_seq(),
                                       message="events since that point are gone; refetch state"))

        async def write() -> None:
            try:
                await sub.deliver(ws.send_str, gap)
            except ConnectionError:
                pass

        writer = asyncio.get_running_loop().create_task(write())
        try:
            await ws.send_str(_control("client.hello", hub.seq, version=__version__,
                                       oldest_seq=hub.oldest_seq()))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await _handle(ws, hub, sub, msg.data)
                if writer.done():
                    break
        finally:
            hub.unsubscribe(sub)
            watch.discard(ws)
            writer.cancel()
            sv.websockets.discard(ws)
            if not ws.closed and not closing:
                await ws.close()
        return ws

    async def _handle(ws: web.WebSocketResponse, hub: EventHub, sub: Subscriber, raw: str) -> None:
        try:
            msg = json.loads(raw)
            kind = msg["type"]
        except (ValueError, KeyError, TypeError):
            await ws.send_str(_control("client.error", hub.seq, message="send JSON objects with a 'type'"))
            return
        if kind == "ping":
            await ws.send_str(_control("pong", hub.seq, echo=msg.get("data")))
        elif kind in ("client.subscribe", "client.unsubscribe"):
            events = msg.get("events")
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                await ws.send_str(_control("client.error", hub.seq, field="events",
                                           message="'events' must be a list of event type patterns"))
                return
            since = msg.get("since") if kind == "client.subscribe" else None
            problem = None if since is None else _since_problem(since, hub.seq)
            if problem:
                await ws.send_str(_control("client.error", hub.seq, field="since", message=problem))
                return
            if kind == "client.subscribe":
                sub.patterns.update(events)
            else:
                sub.patterns.difference_update(events)
            await ws.send_str(_control("client.subscribed", hub.seq, events=sorted(sub.patterns)))
            if since is None:
                return
            if hub.after(since) is None:
                await ws.send_str(_control("client.gap", hub.seq, since=since, oldest_seq=hub.oldest_seq(),
                                           message="events since that point are gone; refetch state"))
            else:
                sub.request_replay(since)
        else:
            await ws.send_str(_control("client.error", hub.seq, message=f"unknown message type {kind!r}"))


def _since_problem(since: Any, newest: int) -> str | None:
    """Why ``since`` cannot be resumed from, or None."""
    if isinstance(since, bool) or not isinstance(since, int):
        return f"'since' must be the seq of an event (a whole number), not {json.dumps(since)}"
    if since < 0:
        return f"'since' must be 0 or more, not {since}"
    if since > newest:
        return (f"'since' {since} is after the newest event ({newest}); after a server restart "
                "refetch state and subscribe without 'since'")
    return None
