"""The one sampler: cadence, bounded history, windows, listeners."""

from __future__ import annotations

import asyncio

from sigmavault_system.sampler import Sampler


async def test_sampler_keeps_a_bounded_history_at_its_cadence():
    s = Sampler(interval=0.1, history_seconds=0.5, fs_interval=0)
    seen = []
    s.add_listener(seen.append)
    task = asyncio.create_task(s.run())
    try:
        first = await s.current()
        await asyncio.sleep(1.0)
    finally:
        task.cancel()
    assert s.capacity == 5
    assert len(s.history) == 5
    assert 7 <= s.samples_taken <= 12
    assert seen[0] is first and len(seen) == s.samples_taken
    hist = s.window()
    assert hist[-1] == s.latest
    gaps = [b["ts"] - a["ts"] for a, b in zip(hist, hist[1:])]
    assert all(0.03 < g < 0.3 for g in gaps), gaps
    assert 0.08 < sum(gaps) / len(gaps) < 0.15, gaps
    assert all(0.03 < x["interval"] < 0.3 for x in hist)
    assert s.latest["filesystems"], "filesystem usage missing"


async def test_window_and_step():
    s = Sampler(interval=1.0, history_seconds=60)
    for _ in range(7):
        await s.tick()
        await asyncio.sleep(0.02)
    assert len(s.history) == 6  # the first read only primes the counters
    all_ = s.window()
    assert [x["ts"] for x in all_] == sorted(x["ts"] for x in all_)
    stepped = s.window(step=2)
    assert stepped[-1] == all_[-1] and len(stepped) == 3
    span = all_[-1]["ts"] - all_[1]["ts"]
    assert len(s.window(seconds=span + 0.01)) == 5


async def test_a_failing_listener_does_not_stop_sampling():
    s = Sampler(interval=1.0)

    def broken(_):
        raise RuntimeError("boom")

    s.add_listener(broken)
    await s.tick()
    assert await s.tick() is not None
    assert await s.tick() is not None
    assert s.samples_taken == 2


async def test_current_times_out_when_not_running():
    s = Sampler(interval=0.05)
    try:
        await s.current(timeout=0.1)
    except asyncio.TimeoutError:
        return
    raise AssertionError("current() returned without a sample")
