"""Per-codec totals of finished compression work, kept in SQLite."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .progress import format_ratio

NAMESPACE = "compression"
MIGRATIONS = ["""
CREATE TABLE compression_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT,
    operation TEXT NOT NULL,
    codec TEXT NOT NULL,
    level INTEGER,
    threads INTEGER,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    uncompressed INTEGER NOT NULL,
    compressed INTEGER NOT NULL,
    seconds REAL NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX compression_runs_codec ON compression_runs(codec);
"""]

_DIRECTION = {"compress": "out", "recompress": "out", "decompress": "in", "extract": "in",
              "verify": "in"}


def record(db: Any, outcome: dict[str, Any], job_id: str | None) -> None:
    """Add one finished operation (an ``Outcome.to_dict()``) to the totals."""
    operation = outcome["operation"]
    uncompressed, compressed = int(outcome["uncompressed"]), int(outcome["compressed"])
    if _DIRECTION.get(operation, "out") == "out":
        bytes_in, bytes_out = uncompressed, compressed
        if operation == "recompress":
            bytes_in = int(outcome.get("original_compressed") or 0)
    else:
        bytes_in, bytes_out = compressed, uncompressed
    if operation == "verify":
        bytes_out = 0
    db.execute(
        "INSERT INTO compression_runs(job_id, operation, codec, level, threads, bytes_in, bytes_out,"
        " uncompressed, compressed, seconds, finished_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
        (job_id, operation, outcome["codec"], outcome.get("level"), outcome.get("threads"),
         bytes_in, bytes_out, uncompressed, compressed, float(outcome["seconds"]),
         datetime.now(timezone.utc).isoformat(timespec="seconds")))


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    seconds = row["seconds"] or 0.0
    return {"jobs": row["jobs"], "bytes_in": row["bytes_in"] or 0, "bytes_out": row["bytes_out"] or 0,
            "uncompressed_bytes": row["uncompressed"] or 0, "compressed_bytes": row["compressed"] or 0,
            **format_ratio(row["uncompressed"] or 0, row["compressed"] or 0),
            "mean_throughput": round(row["mean_tp"], 1) if row["mean_tp"] is not None else None,
            "overall_throughput": round((row["uncompressed"] or 0) / seconds, 1) if seconds else None,
            "seconds": round(seconds, 3)}


_SELECT = ("SELECT count(*) AS jobs, sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out, "
           "sum(uncompressed) AS uncompressed, sum(compressed) AS compressed, "
           "sum(seconds) AS seconds, avg(CASE WHEN seconds > 0 THEN uncompressed / seconds END) "
           "AS mean_tp FROM compression_runs")


def totals(db: Any) -> dict[str, Any]:
    """``{"codecs": [per codec], "total": {...}}``; ratios only count compress-side runs."""
    codecs = []
    for name in [r["codec"] for r in db.all("SELECT DISTINCT codec FROM compression_runs ORDER BY codec")]:
        row = db.one(_SELECT + " WHERE codec=?", (name,))
        ops = {r["operation"]: r["n"] for r in db.all(
            "SELECT operation, count(*) AS n FROM compression_runs WHERE codec=? GROUP BY operation",
            (name,))}
        codecs.append({"codec": name, **_summary(row), "operations": ops})
    return {"codecs": codecs, "total": _summary(db.one(_SELECT))}
