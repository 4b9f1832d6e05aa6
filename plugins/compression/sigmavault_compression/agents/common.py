"""What the compression agents share: where they work, aggregated progress, a null sink."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

from sigmavault.jobs import JobContext
from sigmavault.locations import Location, resolve as resolve_location

from ..meter import format_ratio
from ..paths import allowed_roots


class Target(Location):
    """Where a compression agent works (the core's :class:`~sigmavault.locations.Location`)."""

    def lock_name(self) -> str:
        """One compression task at a time per path or volume location."""
        return f"compression:{self.path or f'{self.pool}/{self.volume}/{self.subpath}'}"

    async def preflight(self, app: Any) -> None:
        """Resolve the path before the task queues, so a bad path is a 4xx at dispatch."""
        await self.resolve(app)

    async def resolve(self, app: Any, kind: Literal["any", "dir", "file"] = "any") -> Path:
        """The real path; 400 outside the roots/volume, 404 when missing, 400 for a wrong kind."""
        return await resolve_location(app, self, await allowed_roots(app), kind=kind)


class NullSink(io.RawIOBase):
    """Counts what a compressor writes and throws it away (trial compression)."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        self.count += n
        return n


class BatchProgress:
    """Progress of an agent over many files: ``compression.progress`` events and job progress.

    Thread-safe: worker threads call :meth:`add`; events go out through the event loop, a few
    per second at most.
    """

    def __init__(self, ctx: JobContext, operation: str, codec: str, source: str, total: int,
                 interval: float = 0.25):
        self.ctx = ctx
        self.loop = asyncio.get_running_loop()
        self.operation, self.codec, self.source = operation, codec, source
        self.total = total
        self.interval = interval
        self.bytes_in = self.bytes_out = self.raw = self.compressed = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, bytes_in: int, bytes_out: int, uncompressed: int, compressed: int,
            final: bool = False) -> None:
        with self._lock:
            self.bytes_in += bytes_in
            self.bytes_out += bytes_out
            self.raw += uncompressed
            self.compressed += compressed
            now = time.monotonic()
            if not final and now - self._last < self.interval:
                return
            self._last = now
            data = self._snapshot(now, final)
        self.ctx.progress(percent=data["percent"], bytes_done=data["bytes_in"],
                          bytes_total=self.total or None)
        self.loop.call_soon_threadsafe(self._publish, data)

    def finish(self) -> None:
        self.add(0, 0, 0, 0, final=True)

    def _snapshot(self, now: float, final: bool) -> dict[str, Any]:
        elapsed = max(now - self.started, 1e-9)
        throughput = self.bytes_in / elapsed
        if final:
            percent, eta = 100.0, 0.0
        elif self.total:
            percent = round(min(99.9, 100.0 * self.bytes_in / self.total), 2)
            eta = round(max(self.total - self.bytes_in, 0) / throughput, 1) if throughput else None
        else:
            percent = eta = None
        return {"job_id": self.ctx.job_id, "operation": self.operation, "codec": self.codec,
                "source": self.source, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                "bytes_total": self.total, "uncompressed": self.raw, "percent": percent,
                **format_ratio(self.raw, self.compressed), "throughput": round(throughput, 1),
                "elapsed": round(elapsed, 3), "eta_seconds": eta, "done": final}

    def _publish(self, data: dict[str, Any]) -> None:
        try:
            self.ctx.app.events.publish("compression.progress", data)
        except Exception:
            pass


def cores() -> int:
    return os.cpu_count() or 1
