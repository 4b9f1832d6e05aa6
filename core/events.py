"""The event hub: typed events, a bounded replay ring, and bounded per-subscriber queues."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from itertools import islice
from typing import Any, Awaitable, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from .api import dump

log = logging.getLogger("sigmavault.events")


class Alert(BaseModel):
    """The ``alert`` event: one alert raised (``active``) or cleared, identified by ``id``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="stable per condition: a later event with the same id "
                    "updates or clears it", examples=["sentry:pool:tank"])
    severity: Literal["info", "warning", "critical"]
    message: str = Field(min_length=1)
    source: str = Field(min_length=1, description="who raised it (an agent such as SENTRY or a plugin)")
    active: bool = Field(True, description="false when the condition has cleared")
    value: float | None = Field(None, description="the measured value, for threshold alerts")
    threshold: float | None = Field(None, description="the limit that was crossed")
    details: dict[str, Any] | None = Field(None, description="anything else the source wants to add")


@dataclass(frozen=True)
class EventType:
    name: str
    model: type[BaseModel] | None
    description: str
    plugin: str


class Subscriber:
    """One consumer (a WebSocket): its patterns and a bounded queue of ``(seq, encoded envelope)``.

    :meth:`deliver` sends every event once and in increasing ``seq``. A replay requested with
    :meth:`request_replay` is read from the ring at the pace the client accepts; live events are
    not queued meanwhile (the ring holds them too), so a long replay never counts as slow."""

    def __init__(self, hub: "EventHub", queue_size: int, on_overflow: Callable[[], None]):
        self.hub = hub
        self.patterns: set[str] = set()
        self.queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=queue_size)
        self.on_overflow = on_overflow
        self.overflowed = False
        self.sent = 0  # seq of the last event sent
        self.replay_from: int | None = None  # set from a replay request until it has caught up

    def matches(self, event_type: str) -> bool:
        return any(p == "*" or p == event_type or fnmatchcase(event_type, p) for p in self.patterns)

    def offer(self, seq: int, event_type: str, encoded: str) -> None:
        if self.overflowed or self.replay_from is not None or not self.matches(event_type):
            return
        try:
            self.queue.put_nowait((seq, encoded))
        except asyncio.QueueFull:
            self.overflowed = True
            self.on_overflow()

    def request_replay(self, since: int) -> None:
        """Send the ring's matching events after ``since`` before any live one. Queued events are
        dropped: those after ``since`` come again from the ring, the others the client has."""
        if self.replay_from is not None:  # the running replay reads up to the newest event anyway
            return
        self.replay_from = since
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)  # wakes deliver()

    async def deliver(self, send: Callable[[str], Awaitable[None]],
                      on_gap: Callable[[int, int], Awaitable[None]]) -> None:
        """Send queued and replayed events until the queue overflows. When the ring drops events
        after ``since`` before a replay could send them, ``on_gap(since, newest)`` is awaited and
        the replay goes on after ``newest``."""
        while not self.overflowed:
            item = await self.queue.get()
            if self.replay_from is not None:
                await self._replay(send, on_gap)
            elif item is not None and item[0] > self.sent:
                await send(item[1])
                self.sent = item[0]

    async def _replay(self, send: Callable[[str], Awaitable[None]],
                      on_gap: Callable[[int, int], Awaitable[None]]) -> None:
        cursor = max(self.replay_from or 0, self.sent)
        while True:
            pending = self.hub.after(cursor)
            if pending is None:
                newest = self.hub.seq
                await on_gap(cursor, newest)
                cursor = self.sent = newest
                continue
            if not pending:
                break
            for seq, event_type, encoded in pending:
                if self.matches(event_type):
                    await send(encoded)
                    self.sent = seq
                cursor = seq
        self.replay_from = None  # caught up: no await since the ring was read, so nothing is missed


class EventHub:
    """Publish typed events; deliver them to subscribers and in-process listeners."""

    def __init__(self, ring_size: int = 1000, client_queue: int = 256):
        self.types: dict[str, EventType] = {}
        self.seq = 0
        self.ring: deque[tuple[int, str, str]] = deque(maxlen=ring_size)
        self.client_queue = client_queue
        self.subscribers: set[Subscriber] = set()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.current_plugin = "sigmavault"

    def register(self, name: str, model: type[BaseModel] | None = None, description: str = "") -> None:
        """Declare an event type (``register_events`` calls this)."""
        if name in self.types and self.types[name].plugin != self.current_plugin:
            raise ValueError(f"event type {name!r} is already declared by {self.types[name].plugin}")
        self.types[name] = EventType(name, model, description, self.current_plugin)

    def publish(self, event_type: str, data: Any = None) -> dict[str, Any]:
        """Validate ``data`` against the declared model and deliver the envelope."""
        declared = self.types.get(event_type)
        if declared is None:
            raise ValueError(f"event type {event_type!r} is not declared (register_events)")
        payload = dump(declared.model, data if data is not None else {})  # invalid: no seq used
        self.seq += 1
        envelope = {"type": event_type, "seq": self.seq,
                    "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "data": payload}
        encoded = json.dumps(envelope, separators=(",", ":"))
        self.ring.append((self.seq, event_type, encoded))
        for sub in tuple(self.subscribers):
            sub.offer(self.seq, event_type, encoded)
        for listener in self.listeners:
            try:
                listener(envelope)
            except Exception:
                log.exception("event listener failed for %s", event_type)
        return envelope

    def has_subscribers(self, event_type: str) -> bool:
        """True when some subscriber would receive ``event_type`` (publish only then if costly)."""
        return any(s.matches(event_type) for s in self.subscribers)

    def subscribe(self, on_overflow: Callable[[], None], queue_size: int | None = None) -> Subscriber:
        sub = Subscriber(self, queue_size or self.client_queue, on_overflow)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def after(self, seq: int) -> list[tuple[int, str, str]] | None:
        """The ring's ``(seq, type, encoded)`` after ``seq``, oldest first; None when some of
        them are no longer in the ring."""
        start = seq + 1 - self.oldest_seq()
        return None if start < 0 else list(islice(self.ring, start, None))

    def oldest_seq(self) -> int:
        return self.ring[0][0] if self.ring else self.seq + 1
