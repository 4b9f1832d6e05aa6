"""PULSE's alert book: raised alerts persist in SQLite so a restart neither repeats nor loses them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .thresholds import Check, PulseParams, evaluate, transitions

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault
    from sigmavault.db import Database

SOURCE = "PULSE"

MIGRATIONS = [
    """CREATE TABLE system_alerts (
        id TEXT PRIMARY KEY,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        value REAL NOT NULL,
        threshold REAL NOT NULL,
        raised_at REAL NOT NULL
    );""",
    # thresholds set through the API; they override [system.pulse] from the config file
    """CREATE TABLE system_thresholds (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        params TEXT NOT NULL
    );""",
]


def stored_thresholds(db: "Database", configured: PulseParams) -> PulseParams:
    """``[system.pulse]`` with what was set through the API on top."""
    saved = db.value("SELECT params FROM system_thresholds WHERE id = 1")
    return PulseParams.model_validate_json(saved) if saved else configured


def store_thresholds(db: "Database", params: PulseParams) -> None:
    db.execute("INSERT OR REPLACE INTO system_thresholds(id, params) VALUES (1, ?)",
               (params.model_dump_json(),))


def active_alerts(db: "Database") -> dict[str, dict[str, Any]]:
    """The alerts PULSE raised and has not cleared yet, by id."""
    return {row["id"]: row for row in db.all("SELECT * FROM system_alerts ORDER BY raised_at")}


def check_thresholds(app: "SigmaVault", samples: list[dict[str, Any]], params: PulseParams) -> dict[str, Any]:
    """Evaluate ``samples``, raise and clear ``alert`` events, and return what happened."""
    checks = evaluate(samples, params)
    active = active_alerts(app.db)
    to_raise, to_clear = transitions(checks, active, params.hysteresis)
    raised, cleared = [], []
    for c in to_raise:
        app.db.execute("INSERT OR REPLACE INTO system_alerts(id, severity, message, value, threshold,"
                       " raised_at) VALUES(?,?,?,?,?,?)",
                       (c.id, c.severity, c.title, c.value, c.threshold, time.time()))
        app.events.publish("alert", _event(c.id, c.severity, f"{c.title} (threshold {c.threshold:g})",
                                           True, c))
        raised.append(c.id)
    for alert_id, gone in to_clear:
        app.db.execute("DELETE FROM system_alerts WHERE id = ?", (alert_id,))
        message = (f"{gone.title}: back below {gone.threshold:g}" if gone
                   else f"{alert_id}: no longer present")
        app.events.publish("alert", _event(alert_id, "info", message, False, gone))
        cleared.append(alert_id)
    return {"checks": [c.as_dict() for c in checks], "raised": raised, "cleared": cleared,
            "active": sorted(active_alerts(app.db))}


def _event(alert_id: str, severity: str, message: str, is_active: bool, c: Check | None) -> dict[str, Any]:
    return {"id": alert_id, "severity": severity, "message": message, "source": SOURCE,
            "active": is_active, "value": c.value if c else None,
            "threshold": c.threshold if c else None}
