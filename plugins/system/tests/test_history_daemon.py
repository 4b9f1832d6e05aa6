"""The on-disk history through the API: a real daemon keeps it across a restart; bad ranges 422."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from importlib.metadata import entry_points

import pytest
from sigmavault_system.models import MetricsHistory

NEEDED = {"sigmavault-system", "sigmavault-agents"}


def _config() -> str:
    others = sorted({ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist is not None}
                    - {d for d in NEEDED} - {d.replace("-", "_") for d in NEEDED})
    disabled = ", ".join(f'"{d}"' for d in others)
    # 1 s buckets kept 5 s, then 5 s buckets: a minute of history exercises both tiers
    return f"""
[plugins]
disabled = [{disabled}]
[system]
interval = 0.2
pulse_interval = 0
[system.history]
tiers = [{{step = 1, keep = 5}}, {{step = 5, keep = 3600}}]
"""


async def _history(session, **params) -> dict:
    async with session.get("/api/v1/system/metrics/history", params=params) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    MetricsHistory.model_validate(body)
    return body


def _points(doc: dict, metric: str = "cpu.percent") -> dict[float, float]:
    s = next(s for s in doc["series"] if s["metric"] == metric)
    return {ts: v for ts, v in zip(doc["timestamps"], s["avg"]) if v is not None}


async def test_history_survives_a_restart(sv_daemon):
    started = time.time()
    daemon = sv_daemon(config=_config())
    await asyncio.sleep(12)  # two 5 s buckets closed and rolled up
    async with daemon.session() as s:
        fine = await _history(s, **{"from": str(-4)})
        coarse = await _history(s, **{"from": str(started - 1)})
    assert fine["tier"] == 1 and len(_points(fine)) >= 2
    assert coarse["tier"] == 5 and coarse["step"] == 5
    before = _points(coarse)
    assert len(before) >= 2, coarse
    assert {s["metric"] for s in coarse["series"]} >= {"cpu.percent", "memory.used", "load.1", "net.rx"}
    assert any(s["metric"] == "net.rx" and s["label"] == "lo" for s in coarse["series"])
    db = daemon.data_dir / "metrics.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600

    assert daemon.stop() == 0
    daemon.start()
    async with daemon.session() as s:
        after = _points(await _history(s, **{"from": str(started - 1), "to": str(time.time())}))
        # the live in-memory window starts afresh and keeps its old shape
        live = await _history(s)
    for ts, v in before.items():
        assert after.get(ts) == v, (ts, before, after)
    assert set(live) == {"interval", "capacity", "samples"}
    assert live["capacity"] == 900 / 0.2 and isinstance(live["samples"], list)


@pytest.mark.parametrize("params, field", [
    ({"from": str(time.time() + 3600)}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "-10"}, "to"),
    ({"from": "-60", "to": "-120"}, "to"),
    ({"from": "-60", "step": "0"}, "step"),
    ({"from": "-20000", "step": "1"}, "step"),  # 2 001 buckets of 10 s: too many
    ({"from": "-60", "seconds": "30"}, "seconds"),
    ({"from": "-60", "metrics": "cpu;drop"}, "metrics"),
    ({"metrics": "cpu"}, "metrics"),
])
async def test_bad_ranges_are_422_naming_the_field(client, params, field):
    resp = await client.get("/api/v1/system/metrics/history", params=params)
    body = await resp.json()
    assert resp.status == 422, body
    assert body["error"]["details"]["errors"][0]["loc"] == ["query", field], body
    assert f": {field}: " in body["error"]["message"]


async def test_named_method_takes_from_as_from_(sv_app, client):
    await client.get("/api/v1/system/metrics")  # a sample exists
    h = await sv_app.call("system.metrics.history", from_=-60, step=10, metrics="cpu")
    assert h["tier"] == 10 and h["step"] == 10 and h["samples"] == []
    assert all(s["metric"].startswith("cpu.") for s in h["series"])
