"""Pure forecasting: days until full by least squares, SMART risk from counter trends."""

from __future__ import annotations

import re
from statistics import StatisticsError, correlation, linear_regression
from typing import Any

DAY = 86400.0
# SMART counters whose growth means a dying disk (ATA attribute ids) and their weight
CRITICAL_ATTRS = {197: "pending_sectors", 198: "offline_uncorrectable", 187: "reported_uncorrectable"}
WARNING_ATTRS = {5: "reallocated_sectors", 196: "reallocation_events", 199: "crc_errors"}


def days_until_full(samples: list[tuple[float, int]], size: int, now: float) -> dict[str, Any]:
    """``samples`` (unix time, used bytes) → growth per day and days until ``used`` reaches ``size``."""
    if len({t for t, _ in samples}) < 2:
        return {"samples": len(samples), "growth_per_day": None, "days_until_full": None,
                "full_at": None, "r2": None, "reason": "need two samples at different times"}
    xs = [t / DAY for t, _ in samples]
    ys = [float(u) for _, u in samples]
    slope, intercept = linear_regression(xs, ys)
    try:
        r2 = correlation(xs, ys) ** 2
    except StatisticsError:   # constant usage
        r2 = None
    current = intercept + slope * now / DAY
    out: dict[str, Any] = {"samples": len(samples), "growth_per_day": slope, "r2": r2,
                           "days_until_full": None, "full_at": None, "reason": None}
    if slope <= 0:
        out["reason"] = "usage is not growing"
        return out
    days = max(0.0, (size - current) / slope)
    out["days_until_full"] = days
    out["full_at"] = now + days * DAY
    return out


def raw_int(value: str | None) -> int | None:
    m = re.match(r"\s*(\d+)", value or "")
    return int(m.group(1)) if m else None


def smart_counters(report: dict[str, Any]) -> dict[str, int]:
    """The failure-related counters of a SMART report (ATA attributes, NVMe media errors)."""
    out: dict[str, int] = {}
    for a in report.get("attributes") or []:
        name = CRITICAL_ATTRS.get(a["id"]) or WARNING_ATTRS.get(a["id"])
        if name and raw_int(a.get("raw")) is not None:
            out[name] = raw_int(a.get("raw"))  # type: ignore[assignment]
    nvme = report.get("nvme") or {}
    for key, name in (("mediaErrors", "media_errors"), ("percentageUsed", "percentage_used"),
                      ("criticalWarning", "critical_warning")):
        if isinstance(nvme.get(key), int):
            out[name] = nvme[key]
    return out


def smart_risk(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Risk of one disk from its readings oldest first ({health, counters})."""
    if not history:
        return {"risk": "unknown", "reasons": []}
    first, last = history[0]["counters"], history[-1]["counters"]
    reasons, risk = [], "low"
    growth = {k: last[k] - first.get(k, last[k]) for k in last}
    if history[-1]["health"] == "FAIL":
        risk = "high"
        reasons.append("SMART overall health FAILED")
    for k in (*CRITICAL_ATTRS.values(), "media_errors", "critical_warning"):
        if growth.get(k, 0) > 0:
            risk = "high"
            reasons.append(f"{k} grew by {growth[k]}")
    for k in WARNING_ATTRS.values():
        if growth.get(k, 0) > 0 and risk != "high":
            risk = "medium"
            reasons.append(f"{k} grew by {growth[k]}")
    if risk == "low" and (history[-1]["health"] == "WARN" or any(last.get(k) for k in CRITICAL_ATTRS.values())):
        risk = "medium"
        reasons.append("non-zero failure counters or SMART warning")
    if last.get("percentage_used", 0) >= 90 and risk == "low":
        risk = "medium"
        reasons.append(f"SSD endurance {last['percentage_used']}% used")
    return {"risk": risk, "reasons": reasons, "growth": growth, "readings": len(history)}
