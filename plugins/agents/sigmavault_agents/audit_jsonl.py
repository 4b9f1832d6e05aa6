"""CHRONICLE: audit records as JSON lines (the core's audit log checks them, with its key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

FIELDS = ("id", "ts", "actor", "address", "action", "target", "outcome", "count", "details",
          "prev_hash", "hash")


def write_jsonl(f: Any, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    for row in rows:
        f.write(json.dumps({k: row[k] for k in FIELDS}, separators=(",", ":")) + "\n")
        n += 1
    return n


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
