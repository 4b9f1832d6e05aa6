"""SQLite tables: what was encrypted, verify runs and authentication failures."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

MIGRATIONS = ["""
CREATE TABLE encryption_items (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    recipients TEXT NOT NULL,
    post_quantum INTEGER NOT NULL,
    plaintext_bytes INTEGER NOT NULL,
    ciphertext_bytes INTEGER NOT NULL,
    job_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX encryption_items_path ON encryption_items(path);
CREATE TABLE encryption_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    job_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX encryption_events_kind ON encryption_events(kind, created_at);
""", """
CREATE TABLE encryption_recovered (
    job_id TEXT PRIMARY KEY,
    removed TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def record_item(db: Any, *, path: str, kind: str, source: str, recipients: list[str],
                post_quantum: bool, plaintext_bytes: int, ciphertext_bytes: int,
                job_id: str | None) -> None:
    """Remember an encrypted file or folder (one row per path: a re-encryption replaces it)."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM encryption_items WHERE path=?", (path,))
        conn.execute(
            "INSERT INTO encryption_items(path, kind, source, recipients, post_quantum, plaintext_bytes,"
            " ciphertext_bytes, job_id, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
            (path, kind, source, json.dumps(recipients), int(post_quantum), plaintext_bytes,
             ciphertext_bytes, job_id, _now()))


def update_item_recipients(db: Any, path: str, recipients: list[str], post_quantum: bool) -> None:
    db.execute("UPDATE encryption_items SET recipients=?, post_quantum=? WHERE path=?",
               (json.dumps(recipients), int(post_quantum), path))


def record_event(db: Any, kind: str, path: str, ok: bool, detail: str = "",
                 job_id: str | None = None) -> None:
    """``kind``: verify | decrypt | rewrap | auth_failure."""
    db.execute("INSERT INTO encryption_events(kind, path, ok, detail, job_id, created_at)"
               " VALUES(?,?,?,?,?,?)", (kind, path, int(ok), detail[:500], job_id, _now()))


def summary(db: Any) -> dict[str, Any]:
    """Counts of encrypted items, the last verify run and authentication failures."""
    row = db.one(
        "SELECT count(*) AS items, coalesce(sum(post_quantum),0) AS pq,"
        " coalesce(sum(kind='folder'),0) AS folders, coalesce(sum(plaintext_bytes),0) AS bytes"
        " FROM encryption_items")
    verify = db.one("SELECT * FROM encryption_events WHERE kind='verify' ORDER BY id DESC LIMIT 1")
    fail = db.one("SELECT count(*) AS n, max(created_at) AS last FROM encryption_events"
                  " WHERE kind='auth_failure'")
    last_fail = db.one("SELECT path, detail FROM encryption_events WHERE kind='auth_failure'"
                       " ORDER BY id DESC LIMIT 1")
    return {
        "items": {"total": row["items"], "post_quantum": row["pq"], "classic": row["items"] - row["pq"],
                  "folders": row["folders"], "files": row["items"] - row["folders"],
                  "plaintext_bytes": row["bytes"]},
        "last_verify": None if verify is None else {
            "at": verify["created_at"], "path": verify["path"], "ok": bool(verify["ok"]),
            "detail": verify["detail"]},
        "authentication_failures": {
            "count": fail["n"], "last_at": fail["last"],
            "last_path": last_fail["path"] if last_fail else None,
            "last_detail": last_fail["detail"] if last_fail else None},
    }
