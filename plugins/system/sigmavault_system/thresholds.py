"""PULSE's judgement: which thresholds the recent samples breach, and which alerts that changes.

Pure functions over metrics dicts (``rates.compute`` output); agent PULSE (``agents/pulse.py``) feeds
them the sampler's history and publishes the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

from pydantic import BaseModel, Field


class PulseParams(BaseModel):
    """Thresholds PULSE checks (percent values are 0-100; a null threshold is not checked)."""

    cpu_percent: float | None = Field(90.0, ge=0, le=100)
    memory_percent: float | None = Field(90.0, ge=0, le=100)
    filesystem_percent: float | None = Field(90.0, ge=0, le=100)
    temperature_celsius: float | None = Field(85.0, ge=0, le=200, description=(
        "also breached when a sensor reaches its own critical value"))
    window_seconds: float = Field(60.0, gt=0, le=3600, description=(
        "CPU and memory are averaged over this much history, so a spike alone does not alert"))
    hysteresis: float = Field(5.0, ge=0, le=50, description=(
        "an active alert clears only when the value is this far below its threshold"))


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    value: float
    threshold: float
    breached: bool
    severity: str = "warning"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "value": self.value,
                "threshold": self.threshold, "breached": self.breached, "severity": self.severity}


def evaluate(samples: list[dict[str, Any]], p: PulseParams) -> list[Check]:
    """Compare the samples of the last ``p.window_seconds`` with the thresholds."""
    if not samples:
        return []
    latest = samples[-1]
    recent = [s for s in samples if s["ts"] > latest["ts"] - p.window_seconds] or [latest]
    checks: list[Check] = []
    if p.cpu_percent is not None:
        v = round(fmean(s["cpu"]["percent"] for s in recent), 2)
        checks.append(Check("system.cpu", f"CPU busy {v:.1f}% (mean of {len(recent)} samples)",
                            v, p.cpu_percent, v >= p.cpu_percent))
    if p.memory_percent is not None:
        v = round(fmean(s["memory"]["percent"] for s in recent), 2)
        checks.append(Check("system.memory", f"memory used {v:.1f}%", v, p.memory_percent,
                            v >= p.memory_percent))
    if p.filesystem_percent is not None:
        for fs in latest["filesystems"]:
            v = float(fs["percent"])
            sev = "critical" if v >= 98 else "warning"
            checks.append(Check(f"system.filesystem:{fs['mountpoint']}",
                                f"filesystem {fs['mountpoint']} is {v:.1f}% full", v,
                                p.filesystem_percent, v >= p.filesystem_percent, sev))
    if p.temperature_celsius is not None:
        for t in latest["temperatures"]:
            v = float(t["celsius"])
            limit = p.temperature_celsius
            crit = t.get("critical")
            breached = v >= limit or (crit is not None and crit > 0 and v >= crit)
            sev = "critical" if crit and v >= crit else "warning"
            checks.append(Check(f"system.temperature:{t['chip']}/{t['label']}",
                                f"{t['chip']} {t['label']} at {v:.1f} °C", v, limit, breached, sev))
    return checks


def transitions(checks: list[Check], active: dict[str, dict[str, Any]], hysteresis: float,
                ) -> tuple[list[Check], list[tuple[str, Check | None]]]:
    """Alerts to raise (breached, not yet active) and to clear (active, now well below, or gone).

    :param active: the currently raised alerts by id (as stored by the agent).
    :return: ``(raise, clear)``; ``clear`` pairs an id with its check, or None when the subject
        disappeared (an unmounted filesystem, a removed sensor).
    """
    to_raise = [c for c in checks if c.breached and c.id not in active]
    by_id = {c.id: c for c in checks}
    to_clear: list[tuple[str, Check | None]] = []
    for alert_id in active:
        c = by_id.get(alert_id)
        if c is None:
            if alert_id.startswith(("system.filesystem:", "system.temperature:")):
                to_clear.append((alert_id, None))
            continue
        # The band never exceeds half the threshold, so a low threshold can still clear.
        if not c.breached and c.value < c.threshold - min(hysteresis, c.threshold / 2):
            to_clear.append((alert_id, c))
    return to_raise, to_clear
