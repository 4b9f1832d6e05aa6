"""``sigmavault.schedule``: cron expressions, next runs, and the loop that runs what is due."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from sigmavault.schedule import DueLoop, next_after, normalise, upcoming


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_expressions() -> None:
    assert normalise("  30   2 * * 1-5 ") == "30 2 * * 1-5"
    for bad in ("61 * * * *", "every day", "0 0 * * * *", ""):
        with pytest.raises(ValueError, match="not a valid cron expression"):
            normalise(bad)
    assert normalise("0 0 * * * 30", seconds=True) == "0 0 * * * 30"
    with pytest.raises(ValueError, match="6 with seconds last"):
        normalise("0 0 * * * * *", seconds=True)


def test_next_runs_are_strictly_after_and_in_utc() -> None:
    at = ts(2026, 1, 1, 2, 30)
    assert next_after("30 2 * * *", at) == ts(2026, 1, 2, 2, 30)
    assert next_after("30 2 * * *", at - 1) == at
    assert upcoming("0 */6 * * *", at, 3) == [ts(2026, 1, 1, 6), ts(2026, 1, 1, 12),
                                              ts(2026, 1, 1, 18)]


async def test_loop_catches_up_sleeps_until_due_wakes_and_stops() -> None:
    """One store of one schedule whose time passed while "the daemon was down": it runs at once,
    once; the next run comes when due (well before the 60 s interval); a wake looks again at
    once; stop ends the loop."""
    now = time.time()
    state = {"next": now - 3600.0}
    runs: list[float] = []
    ran = asyncio.Event()

    def run_due() -> None:
        t = time.time()
        if state["next"] <= t:
            runs.append(t)
            state["next"] = t + 0.3
            ran.set()

    def boom() -> None:
        raise RuntimeError("a failing tick is logged and the loop goes on")

    loop = DueLoop(run_due, lambda: state["next"], lambda: 60.0, name="test")
    tasks: list[asyncio.Task[None]] = []

    def spawn(coro):  # type: ignore[no-untyped-def]
        tasks.append(asyncio.get_running_loop().create_task(coro))
        return tasks[-1]

    loop.start(spawn)
    await asyncio.wait_for(ran.wait(), 2)
    assert len(runs) == 1 and runs[0] - now < 1  # the missed run, once
    ran.clear()
    await asyncio.wait_for(ran.wait(), 2)  # due 0.3 s later, not after the 60 s interval
    assert len(runs) == 2 and 0.25 <= runs[1] - runs[0] < 1.5
    ran.clear()
    state["next"] = time.time() + 3600.0
    await asyncio.sleep(0.1)
    state["next"] = 0.0  # changed: due now
    loop.wake()
    await asyncio.wait_for(ran.wait(), 1)
    assert len(runs) == 3
    loop.run_due = boom
    loop.wake()
    await asyncio.sleep(0.1)
    assert not tasks[0].done()
    await loop.stop()
    assert tasks[0].cancelled()
    assert DueLoop(run_due, lambda: None, lambda: 5.0).wait_time() == 5.0
