"""The event catalogue and the WebSocket event stream ``/api/v1/ws``.

Client → server: ``{"type": "client.subscribe", "events": [...], "since": N?}``,
``{"type": "client.unsubscribe", "events": [...]}``, ``{"type": "ping"}``.
Server → client: event envelopes, plus ``client.hello``, ``client.subscribed``, ``client.gap``
(the ring no longer holds what ``since`` asks for: refetch state), ``pong`` and ``client.error``.
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
from sigmavault.errors import APIError
from sigmavault.events import Subscriber

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

    @app.api.get("/ws", tags=["events"])
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
        hub = sv.events
        closing: list[str] = []

        def overflow() -> None:
            closing.append("client too slow: event queue overflowed")
            asyncio.ensure_future(ws.close(code=CLOSE_SLOW_CONSUMER, message=closing[0].encode()))

        sub: Subscriber = hub.subscribe(overflow)

        async def write() -> None:
            try:
                while not sub.overflowed:
                    await ws.send_str(await sub.queue.get())
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
            writer.cancel()
            sv.websockets.discard(ws)
            if not ws.closed and not closing:
                await ws.close()
        return ws

    async def _handle(ws: web.WebSocketResponse, hub: Any, sub: Subscriber, raw: str) -> None:
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
                await ws.send_str(_control("client.error", hub.seq,
                                           message="'events' must be a list of event type patterns"))
                return
            if kind == "client.subscribe":
                sub.patterns.update(events)
                since = msg.get("since")
                await ws.send_str(_control("client.subscribed", hub.seq, events=sorted(sub.patterns)))
                if isinstance(since, int) and not hub.replay(sub, since):
                    await ws.send_str(_control("client.gap", hub.seq, since=since,
                                               oldest_seq=hub.oldest_seq(),
                                               message="events since that point are gone; refetch state"))
            else:
                sub.patterns.difference_update(events)
                await ws.send_str(_control("client.subscribed", hub.seq, events=sorted(sub.patterns)))
        else:
            await ws.send_str(_control("client.error", hub.seq, message=f"unknown message type {kind!r}"))
