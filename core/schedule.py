"""Cron schedules run by the daemon: expressions, next-run times and the loop that starts what is
due.

A store keeps each schedule's next run time; :class:`DueLoop` calls ``run_due`` (which starts
whatever is due and moves each one's next run to :func:`next_after` *now*), then sleeps until the
earliest next run, at most ``interval``, or until :meth:`DueLoop.wake` says a schedule changed.
A time that passed while the daemon was down is therefore run once at the next start, not
replayed one by one. Times are epoch seconds; expressions are read in UTC.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Any

from croniter import croniter

log = logging.getLogger("sigmavault.schedule")


def normalise(expr: str, seconds: bool = False) -> str:
    """``expr`` with single spaces, or ``ValueError`` saying why it is no cron expression.

    :param seconds: also accept a sixth field, seconds, last.
    """
    norm = " ".join(expr.split())
    if len(norm.split()) not in ((5, 6) if seconds else (5,)) or not croniter.is_valid(norm):
        shape = "5 fields, or 6 with seconds last" if seconds else \
            "5 fields: minute hour day-of-month month day-of-week"
        raise ValueError(f"not a valid cron expression ({shape}): {expr!r}")
    return norm


def next_after(expr: str, after: float) -> float:
    """The first time strictly after ``after`` that matches ``expr``."""
    return float(croniter(expr, datetime.fromtimestamp(after, timezone.utc)).get_next(float))


def upcoming(expr: str, after: float, count: int = 5) -> list[float]:
    """The next ``count`` times after ``after`` that match ``expr``."""
    it = croniter(expr, datetime.fromtimestamp(after, timezone.utc))
    return [float(it.get_next(float)) for _ in range(count)]


class DueLoop:
    """Runs ``run_due()`` until stopped, sleeping until ``next_due()`` (the earliest next run,
    ``None``: none), at most ``interval()`` seconds, or until :meth:`wake`."""

    def __init__(self, run_due: Callable[[], object], next_due: Callable[[], float | None],
                 interval: Callable[[], float], clock: Callable[[], float] = time.time,
                 name: str = "scheduler") -> None:
        self.run_due, self.next_due, self.interval = run_due, next_due, interval
        self.clock, self.name = clock, name
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look at the schedules again now (one was created or changed)."""
        self._wake.set()

    def start(self, spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]) -> None:
        """Start the loop with ``spawn`` (the app's, so it is cancelled on shutdown)."""
        if self._task is None:
            self._task = spawn(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)
            self._task = None

    def wait_time(self) -> float:
        """Seconds until the earliest next run, within [0.05, interval]."""
        due = self.next_due()
        interval = self.interval()
        return interval if due is None else max(0.05, min(interval, due - self.clock()))

    async def run(self) -> None:
        while True:
            self._wake.clear()  # a wake while due ones start is kept: the wait ends at once
            try:
                self.run_due()
            except Exception:
                log.exception("%s tick failed", self.name)
            wait = self.wait_time()
            # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancel that
            # arrives as its timeout fires, and the daemon would never finish shutting down
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=wait)
            finally:
                waiter.cancel()


def _cron_field(values: str) -> str:
    one = rf"(?:\*|(?:{values})(?:-(?:{values}))?)(?:/[1-9][0-9]?)?"
    return rf"{one}(?:,{one})*"


def cron_pattern(seconds: bool = False) -> str:
    """What :func:`normalise` accepts, as far as a regular expression can say it (for schemas;
    croniter decides): numbers in range, ranges, steps, lists, '*', month and day names; with
    ``seconds``, an optional sixth field of seconds last."""
    minute = _cron_field(r"[0-5]?[0-9]")
    fields = [minute] + [_cron_field(v) for v in (
        r"[01]?[0-9]|2[0-3]", r"0?[1-9]|[12][0-9]|3[01]",
        r"0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec",
        r"[0-7]|sun|mon|tue|wed|thu|fri|sat")]
    return "^ *" + " +".join(fields) + (f"(?: +{minute})?" if seconds else "") + " *$"
