"""The daemon's single metrics sampler: one tick per interval, a bounded history, listeners.

Requests and WebSocket clients never sample: they read ``latest``/``history``, so the cost of
metrics does not grow with the number of clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from typing import Any, Callable

from . import collectors, rates

log = logging.getLogger("sigmavault.system.sampler")

Listener = Callable[[dict[str, Any]], None]


class Sampler:
    """Samples the kernel counters every ``interval`` seconds and keeps ``history_seconds`` of it.

    History is kept as compact JSON (one encoded sample each): a dict per sample would cost
    several times the memory on machines with many cores, disks and interfaces.

    :param fs_interval: filesystems are re-read at most this often (``statvfs`` of every mount
        is the most expensive part of a sample and fill levels move slowly).
    """

    def __init__(self, interval: float = 1.0, history_seconds: float = 900.0,
                 fs_interval: float = 10.0, disk_exclude: str | None = r"^(loop|ram)\d+$",
                 net_exclude: str | None = None) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self.interval = interval
        self.fs_interval = fs_interval
        self.capacity = max(1, int(round(history_seconds / interval)))
        self.history: deque[tuple[float, bytes]] = deque(maxlen=self.capacity)  # (ts, JSON)
        self.latest: dict[str, Any] | None = None
        self.latest_raw: collectors.RawSample | None = None
        self.samples_taken = 0
        self._disk_exclude = re.compile(disk_exclude) if disk_exclude else None
        self._net_exclude = re.compile(net_exclude) if net_exclude else None
        self._listeners: list[Listener] = []
        self._ready = asyncio.Event()
        self._fs_at = float("-inf")

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(metrics)`` in the event loop after every sample (it must return quickly)."""
        self._listeners.append(fn)

    def _read(self) -> collectors.RawSample:
        now = time.monotonic()
        fresh_fs = now - self._fs_at >= self.fs_interval
        raw = collectors.read_sample(disk_exclude=self._disk_exclude, net_exclude=self._net_exclude,
                                     with_filesystems=fresh_fs)
        if fresh_fs:
            self._fs_at = now
        elif self.latest_raw is not None:
            raw.filesystems = self.latest_raw.filesystems
        return raw

    async def tick(self) -> dict[str, Any] | None:
        """Take one sample now; returns the metrics (None for the very first, priming read)."""
        raw = await asyncio.to_thread(self._read)
        prev, self.latest_raw = self.latest_raw, raw
        if prev is None:
            return None
        metrics = rates.compute(prev, raw)
        self.latest = metrics
        self.history.append((metrics["ts"], json.dumps(metrics, separators=(",", ":")).encode()))
        self.samples_taken += 1
        self._ready.set()
        for fn in list(self._listeners):
            try:
                fn(metrics)
            except Exception:  # a listener's bug must not stop sampling
                log.exception("metrics listener failed")
        return metrics

    async def run(self) -> None:
        """Sample forever on a fixed cadence (no drift; a late tick is not made up for).

        The first rates come after a short priming read, not a full interval, so a freshly
        started daemon answers metric requests quickly.
        """
        loop = asyncio.get_running_loop()
        if self.latest_raw is None:
            await self.tick()
            await asyncio.sleep(min(self.interval, 0.2))
        next_at = loop.time()
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("metrics sample failed")
            next_at += self.interval
            now = loop.time()
            if next_at < now:
                next_at = now + self.interval - ((now - next_at) % self.interval)
            await asyncio.sleep(next_at - now)

    async def current(self, timeout: float | None = None) -> dict[str, Any]:
        """The latest metrics, waiting for the first sample when the sampler just started."""
        if self.latest is None:
            await asyncio.wait_for(self._ready.wait(), timeout or max(5.0, 3 * self.interval))
        assert self.latest is not None
        return self.latest

    def window_json(self, seconds: float | None = None, step: int = 1) -> list[bytes]:
        """Encoded history samples of the last ``seconds`` (all when None), every ``step``-th
        counted back from the newest, oldest first."""
        entries = list(self.history)
        if seconds is not None and entries:
            cutoff = entries[-1][0] - seconds
            entries = [e for e in entries if e[0] > cutoff]
        if step > 1:
            entries = entries[::-1][::step][::-1]
        return [blob for _, blob in entries]

    def window(self, seconds: float | None = None, step: int = 1) -> list[dict[str, Any]]:
        """Like :meth:`window_json`, decoded."""
        return [json.loads(blob) for blob in self.window_json(seconds, step)]
