"""Snapshot retention by policy (keep last N, hourly, daily, weekly, monthly, yearly).

Pure functions: a snapshot is kept when a rule keeps it; every other matching snapshot goes.
Each bucket rule keeps the newest snapshot of each of its newest K buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

BUCKETS: dict[str, Callable[[datetime], Any]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar())[:2],
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: t.year,
}


def plan(snaps: list[tuple[str, datetime]], keep_last: int = 0,
         **rules: int) -> tuple[list[dict[str, Any]], list[str]]:
    """``snaps`` as (name, time) → (kept with the reasons, names to delete), newest first."""
    ordered = sorted(snaps, key=lambda s: (s[1], s[0]), reverse=True)
    reasons: dict[str, list[str]] = {}
    for name, _ in ordered[:keep_last]:
        reasons.setdefault(name, []).append("last")
    for rule, count in rules.items():
        if not count:
            continue
        key, seen = BUCKETS[rule], set[str]()
        for name, t in ordered:
            bucket = key(t)
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(bucket)
            reasons.setdefault(name, []).append(rule)
    kept = [{"snapshot": n, "time": t.isoformat(), "reasons": reasons[n]}
            for n, t in ordered if n in reasons]
    return kept, [n for n, _ in ordered if n not in reasons]
