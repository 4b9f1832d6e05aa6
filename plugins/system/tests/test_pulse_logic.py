"""PULSE's threshold judgement on real samples."""

from __future__ import annotations

import asyncio

from sigmavault_system.thresholds import PulseParams, evaluate, transitions
from sigmavault_system.sampler import Sampler


async def _samples(n: int = 3) -> list[dict]:
    s = Sampler(interval=0.05, fs_interval=0)
    for _ in range(n + 1):
        await s.tick()
        await asyncio.sleep(0.05)
    return s.window()


async def test_breach_raise_and_clear_with_hysteresis():
    samples = await _samples()
    mem = samples[-1]["memory"]["percent"]
    low = PulseParams(cpu_percent=None, memory_percent=0, filesystem_percent=None,
                      temperature_celsius=None)
    [check] = evaluate(samples, low)
    assert check.id == "system.memory" and check.breached
    assert abs(check.value - mem) < 5
    raise_, clear = transitions([check], {}, hysteresis=5)
    assert [c.id for c in raise_] == ["system.memory"] and clear == []
    # already active: nothing new to raise
    assert transitions([check], {"system.memory": {}}, 5) == ([], [])
    # threshold just above the value: no longer breached, but inside the hysteresis band
    near = evaluate(samples, low.model_copy(update={"memory_percent": min(100, mem + 1)}))
    assert not near[0].breached
    assert transitions(near, {"system.memory": {}}, hysteresis=5) == ([], [])
    # well above: cleared
    far = evaluate(samples, low.model_copy(update={"memory_percent": 100}))
    if mem < 95:
        assert transitions(far, {"system.memory": {}}, 5)[1] == [("system.memory", far[0])]


async def test_filesystem_checks_one_per_mount_and_vanished_ones_clear():
    samples = await _samples(1)
    p = PulseParams(cpu_percent=None, memory_percent=None, filesystem_percent=0,
                    temperature_celsius=None)
    checks = evaluate(samples, p)
    ids = {c.id for c in checks}
    assert "system.filesystem:/" in ids and all(c.breached for c in checks)
    _, clear = transitions(checks, {"system.filesystem:/gone": {}}, 5)
    assert clear == [("system.filesystem:/gone", None)]


def test_temperature_uses_the_sensor_critical_value():
    sample = {"ts": 1.0, "cpu": {"percent": 1}, "memory": {"percent": 1}, "filesystems": [],
              "temperatures": [{"chip": "coretemp", "label": "Package id 0", "celsius": 71.0,
                                "high": 70.0, "critical": 70.0}]}
    [c] = evaluate([sample], PulseParams(cpu_percent=None, memory_percent=None,
                                         filesystem_percent=None, temperature_celsius=85))
    assert c.breached and c.severity == "critical" and c.id == "system.temperature:coretemp/Package id 0"


def test_cpu_is_averaged_over_the_window():
    samples = [{"ts": float(t), "cpu": {"percent": v}, "memory": {"percent": 1}, "filesystems": [],
                "temperatures": []} for t, v in ((0, 100), (50, 100), (100, 10), (110, 10))]
    p = PulseParams(cpu_percent=50, memory_percent=None, filesystem_percent=None,
                    temperature_celsius=None, window_seconds=30)
    [c] = evaluate(samples, p)
    assert c.value == 10 and not c.breached  # the old spike is outside the window
    [c] = evaluate(samples, p.model_copy(update={"window_seconds": 1000}))
    assert c.value == 55 and c.breached
