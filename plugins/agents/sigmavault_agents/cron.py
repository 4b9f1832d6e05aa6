"""OMNISCIENT: cron expressions (5 fields, or 6 with seconds last) and due-time arithmetic."""

from __future__ import annotations

from datetime import datetime, timezone

from croniter import croniter


def validate(expr: str) -> str:
    """Return ``expr`` normalised, or raise ``ValueError`` with the reason."""
    expr = " ".join(expr.split())
    if len(expr.split()) not in (5, 6) or not croniter.is_valid(expr):
        raise ValueError(f"not a valid cron expression (5 fields, or 6 with seconds last): {expr!r}")
    return expr


def next_after(expr: str, after: float) -> float:
    """The first time (epoch seconds, UTC) strictly after ``after`` that matches ``expr``."""
    start = datetime.fromtimestamp(after, tz=timezone.utc)
    return float(croniter(expr, start).get_next(float))


def upcoming(expr: str, after: float, count: int = 5) -> list[float]:
    """The next ``count`` run times after ``after``."""
    it = croniter(expr, datetime.fromtimestamp(after, tz=timezone.utc))
    return [float(it.get_next(float)) for _ in range(count)]
