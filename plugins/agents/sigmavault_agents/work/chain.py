"""CHRONICLE: export audit records as JSON lines and verify a hash chain offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

FIELDS = ("id", "ts", "actor", "address", "action", "target", "outcome", "details", "prev_hash", "hash")


def write_jsonl(f: Any, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    for row in rows:
        f.write(json.dumps({k: row[k] for k in FIELDS}, separators=(",", ":")) + "\n")
        n += 1
    return n


def verify_rows(rows: Iterable[dict[str, Any]], record_hash: Callable[[str, dict[str, Any]], str]) -> dict[str, Any]:
    """Check every record's hash and its link to the one before (the first link is trusted)."""
    prev, checked = None, 0
    for row in rows:
        if (prev is not None and row["prev_hash"] != prev) or record_hash(row["prev_hash"], row) != row["hash"]:
            return {"ok": False, "checked": checked, "first_bad_id": row["id"]}
        prev = row["hash"]
        checked += 1
    return {"ok": True, "checked": checked, "first_bad_id": None, "last_hash": prev}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
