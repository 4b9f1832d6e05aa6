"""Progress of compression work, on the job's one progress channel.

Byte counters (:class:`Meter` for one stream, :class:`BatchProgress` for an agent's many files)
report every change to the job (``JobContext.progress`` with a typed
:class:`~sigmavault.jobs.ProgressDetail`); the core throttles that once and publishes
``job.progress``, and :func:`publish_events` derives ``compression.progress`` from the same
throttled updates. Nothing here keeps a clock of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Literal

from sigmavault.jobs import FINISHED, Job, JobContext, JobState, ProgressDetail

log = logging.getLogger("sigmavault.compression")

Snapshot = dict[str, Any]
ProgressFn = Callable[[Snapshot], None]
CheckFn = Callable[[], None]
Side = Literal["in", "out"]


def format_ratio(uncompressed: int, compressed: int) -> dict[str, Any]:
    """``{"ratio": 2.41, "ratio_text": "2.41x", "saved_percent": 58.5}`` (``None`` when undefined)."""
    if compressed <= 0 or uncompressed <= 0:
        return {"ratio": None, "ratio_text": None, "saved_percent": None}
    ratio = uncompressed / compressed
    return {"ratio": round(ratio, 4), "ratio_text": f"{ratio:.2f}x",
            "saved_percent": round(100.0 * (1 - compressed / uncompressed), 2)}


def snapshot(bytes_in: int, bytes_out: int, total: int | None, raw: int, compressed: int,
             started: float, final: bool = False) -> Snapshot:
    """Bytes in/out, percent, ratio, throughput and ETA of work that started at ``started``."""
    elapsed = max(time.monotonic() - started, 1e-9)
    throughput = bytes_in / elapsed
    percent = eta = None
    if final:
        percent, eta = 100.0, 0.0
    elif total:
        percent = min(99.9, 100.0 * bytes_in / total)
        eta = max(total - bytes_in, 0) / throughput if throughput > 0 else None
    return {"bytes_in": bytes_in, "bytes_out": bytes_out, "bytes_total": total,
            "uncompressed": raw, "percent": None if percent is None else round(percent, 2),
            **format_ratio(raw, compressed), "throughput": round(throughput, 1),
            "elapsed": round(elapsed, 3), "eta_seconds": None if eta is None else round(eta, 1),
            "done": final}


class Meter:
    """Counts bytes read and written by one operation; calls ``callback`` with a snapshot on
    every change (the job's progress channel throttles, not the meter).

    ``compressed_side`` says which counter holds compressed bytes ("out" when compressing, "in"
    when decompressing); ``raw`` always counts uncompressed bytes, so the ratio so far is
    ``raw / compressed``. ``total`` is the expected size of the input side, for percent and ETA.
    """

    def __init__(self, total: int | None, callback: ProgressFn | None = None, *,
                 compressed_side: Side = "out"):
        self.total = total
        self.callback = callback
        self.compressed_side = compressed_side
        self.bytes_in = 0
        self.bytes_out = 0
        self.raw = 0
        self.out_is_raw = False  # extraction: what is written is the decoded stream itself
        self.started = time.monotonic()

    def tick(self) -> None:
        if self.callback is not None:
            self.callback(self.snapshot())

    def done(self) -> Snapshot:
        """The final report (percent 100); also sent to the callback."""
        snap = self.snapshot(final=True)
        if self.callback is not None:
            self.callback(snap)
        return snap

    def snapshot(self, final: bool = False) -> Snapshot:
        if self.out_is_raw:
            self.bytes_out = self.raw
        compressed = self.bytes_out if self.compressed_side == "out" else self.bytes_in
        return snapshot(self.bytes_in, self.bytes_out, self.total, self.raw, compressed,
                        self.started, final)


def reporter(ctx: JobContext) -> ProgressFn:
    """A thread-safe callback putting engine snapshots on ``ctx``'s progress channel."""

    def report(snap: Snapshot) -> None:
        ctx.progress(percent=snap["percent"], bytes_done=snap["bytes_in"],
                     bytes_total=snap["bytes_total"], detail=ProgressDetail.model_construct(
                         bytes_out=snap["bytes_out"], bytes_plain=snap["uncompressed"],
                         ratio=snap["ratio"], speed_bps=snap["throughput"],
                         elapsed_s=snap["elapsed"], eta_s=snap["eta_seconds"]))

    return report


class BatchProgress:
    """Progress of an agent over many files, summed from each file's meter. Thread-safe: worker
    threads call :meth:`add`; every sum goes to the job's progress channel."""

    def __init__(self, ctx: JobContext, operation: str, codec: str, source: str, total: int,
                 interval: float | None = None):
        self.total = total
        self.bytes_in = self.bytes_out = self.raw = self.compressed = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._report = reporter(ctx)
        publish_events(ctx, operation, codec, source, "out", interval)

    def add(self, bytes_in: int, bytes_out: int, uncompressed: int, compressed: int,
            final: bool = False) -> None:
        with self._lock:
            self.bytes_in += bytes_in
            self.bytes_out += bytes_out
            self.raw += uncompressed
            self.compressed += compressed
            snap = snapshot(self.bytes_in, self.bytes_out, self.total, self.raw, self.compressed,
                            self.started, final)
            self._report(snap)  # under the lock: the channel gets the sums in order

    def finish(self) -> None:
        self.add(0, 0, 0, 0, final=True)


def publish_events(ctx: JobContext, operation: str, codec: str, source: str,
                   compressed_side: Side, interval: float | None = None) -> None:
    """Publish ``compression.progress`` from each ``job.progress`` of ``ctx``'s job that carries
    byte detail, and a final one (``done``, percent 100) when the job succeeds; ``interval``
    (seconds) sets how often the job's one channel may publish."""
    events = ctx.app.events
    if interval is not None:
        ctx.progress_interval = interval

    def on_progress(job: Job) -> None:
        progress, detail = job.progress, job.progress.detail
        if detail is None or (job.state in FINISHED and job.state != JobState.SUCCESS):
            return
        done = job.state == JobState.SUCCESS
        bytes_in, plain = progress.bytes_done or 0, detail.bytes_plain or 0
        bytes_out = detail.bytes_out or 0
        compressed = bytes_out if compressed_side == "out" else bytes_in
        percent = 100.0 if done else progress.percent if progress.bytes_total else None
        events.publish("compression.progress", {
            "job_id": job.id, "operation": operation, "codec": codec, "source": source,
            "bytes_in": bytes_in, "bytes_out": bytes_out, "bytes_total": progress.bytes_total,
            "uncompressed": plain, "percent": percent, **format_ratio(plain, compressed),
            "throughput": detail.speed_bps or 0.0, "elapsed": detail.elapsed_s or 0.0,
            "eta_seconds": 0.0 if done else detail.eta_s, "done": done})

    ctx.on_progress(on_progress)
