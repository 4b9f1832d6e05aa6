"""Byte counters and a throttled progress report: bytes in/out, percent, ratio, throughput, ETA."""

from __future__ import annotations

import time
from typing import Any, Callable

ProgressFn = Callable[[dict[str, Any]], None]
CheckFn = Callable[[], None]


def format_ratio(uncompressed: int, compressed: int) -> dict[str, Any]:
    """``{"ratio": 2.41, "ratio_text": "2.41x", "saved_percent": 58.5}`` (``None`` when undefined)."""
    if compressed <= 0 or uncompressed <= 0:
        return {"ratio": None, "ratio_text": None, "saved_percent": None}
    ratio = uncompressed / compressed
    return {"ratio": round(ratio, 4), "ratio_text": f"{ratio:.2f}x",
            "saved_percent": round(100.0 * (1 - compressed / uncompressed), 2)}


class Meter:
    """Counts bytes read and written; calls ``callback`` at most every ``interval`` seconds.

    ``compressed_side`` says which counter holds compressed bytes ("out" when compressing, "in"
    when decompressing); ``raw`` always counts uncompressed bytes, so the ratio so far is
    ``raw / compressed``. ``total`` is the expected size of the input side, for percent and ETA.
    """

    def __init__(self, total: int | None, callback: ProgressFn | None = None, *,
                 compressed_side: str = "out", interval: float = 0.25):
        self.total = total
        self.callback = callback
        self.compressed_side = compressed_side
        self.interval = interval
        self.bytes_in = 0
        self.bytes_out = 0
        self.raw = 0
        self.out_is_raw = False  # extraction: what is written is the decoded stream itself
        self.started = time.monotonic()
        self._last = 0.0

    def tick(self) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.callback(self.snapshot(now))

    def done(self) -> dict[str, Any]:
        """The final report (percent 100); also sent to the callback."""
        snap = self.snapshot(time.monotonic(), final=True)
        if self.callback is not None:
            self.callback(snap)
        return snap

    def snapshot(self, now: float | None = None, final: bool = False) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        if self.out_is_raw:
            self.bytes_out = self.raw
        compressed = self.bytes_out if self.compressed_side == "out" else self.bytes_in
        throughput = self.bytes_in / elapsed
        percent = eta = None
        if final:
            percent, eta = 100.0, 0.0
        elif self.total:
            percent = min(99.9, 100.0 * self.bytes_in / self.total)
            remaining = max(self.total - self.bytes_in, 0)
            eta = remaining / throughput if throughput > 0 else None
        return {"bytes_in": self.bytes_in, "bytes_out": self.bytes_out, "bytes_total": self.total,
                "uncompressed": self.raw, "percent": None if percent is None else round(percent, 2),
                **format_ratio(self.raw, compressed), "throughput": round(throughput, 1),
                "elapsed": round(elapsed, 3), "eta_seconds": None if eta is None else round(eta, 1),
                "done": final}
