"""Tamper-evident audit log: each record carries the hash of the one before it."""

from __future__ import annotations

import contextvars
import hashlib
import json
from typing import Any

from .db import Database
from .jobs import now

MIGRATIONS = ["""
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""]

GENESIS = "0" * 64
ANONYMOUS = "anonymous"  # the actor of a request that presented no valid credentials
FIELDS = ("ts", "actor", "address", "action", "target", "outcome", "details")


def record_hash(prev_hash: str, row: dict[str, Any]) -> str:
    material = json.dumps([prev_hash, *(row[f] for f in FIELDS)], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


# Set by the request pipeline around a public write: the handler's own records land here, so the
# pipeline adds its generic one only when the handler wrote none (a login records "auth.login").
_written: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("audit_written", default=None)


def watch() -> tuple[list[str], contextvars.Token]:
    """Start collecting the actions recorded in this context; ``unwatch(token)`` ends it."""
    written: list[str] = []
    return written, _written.set(written)


def unwatch(token: contextvars.Token) -> None:
    _written.reset(token)


class AuditLog:
    def __init__(self, db: Database):
        self.db = db

    def record(self, actor: str, address: str, action: str, target: str = "",
               outcome: str = "ok", details: dict[str, Any] | None = None) -> None:
        row = {"ts": now(), "actor": actor, "address": address, "action": action,
               "target": target, "outcome": outcome,
               "details": json.dumps(details or {}, sort_keys=True, default=str)}
        with self.db.transaction() as conn:
            last = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            prev = last[0] if last else GENESIS
            conn.execute("INSERT INTO audit(ts, actor, address, action, target, outcome, details, "
                         "prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?)",
                         (*row.values(), prev, record_hash(prev, row)))
        written = _written.get()
        if written is not None:
            written.append(action)

    def list(self, limit: int = 100, offset: int = 0, actor: str | None = None,
             action: str | None = None) -> tuple[list[dict[str, Any]], int]:
        where, args = [], []
        if actor:
            where.append("actor=?")
            args.append(actor)
        if action:
            where.append("action LIKE ?")
            args.append(action.replace("*", "%"))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.db.one(f"SELECT count(*) AS n FROM audit {clause}", args)["n"]
        rows = self.db.all(f"SELECT * FROM audit {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                           (*args, limit, offset))
        for r in rows:
            r["details"] = json.loads(r["details"])
        return rows, total

    def verify(self) -> dict[str, Any]:
        """Walk the chain; report the first record whose hash or link does not match."""
        prev, checked = None, 0
        for row in self.db.all("SELECT * FROM audit ORDER BY id"):
            expected_prev = prev if prev is not None else row["prev_hash"]
            if row["prev_hash"] != expected_prev or record_hash(row["prev_hash"], row) != row["hash"]:
                return {"ok": False, "checked": checked, "first_bad_id": row["id"]}
            prev = row["hash"]
            checked += 1
        return {"ok": True, "checked": checked, "first_bad_id": None}
