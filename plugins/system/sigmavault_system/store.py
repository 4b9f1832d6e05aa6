"""Metrics history on disk: tiers of rollups in a SQLite file of their own (``metrics.db``).

Why a separate file rather than the daemon's state DB: metrics are written every few seconds,
pruned continuously and worth nothing in a state backup; kept apart they neither bloat the state
DB nor share its write lock and WAL checkpoints, and a user can delete ``metrics.db`` to start the
history afresh without touching state. The file is created 0600 and runs in WAL mode with
``synchronous=NORMAL`` (a commit is an append to the WAL, no fsync; a crash loses at most the last
few commits, never the file's consistency).

Layout:

- ``series(id, metric, label)``: each (metric, label) pair — ``("net.rx", "eth0")`` — gets a small
  integer id once.
- one table per tier, named by its step: the finest (``tier_10``) holds the average of the samples
  in each step-wide bucket (``ts, series, v``); the coarser ones (``tier_300``, ``tier_3600``) hold
  ``avg, min, max`` per bucket rolled up from the tier below. Keys are ``(ts, series)``, so every
  write appends at the end of the B-tree (pages stay full) and a time range is one range scan.
- ``meta``: the rollup watermark of each coarse tier (buckets below it are done).

Samples are accumulated in memory per finest bucket (sum, count) and written when the bucket
closes, one transaction per bucket. A coarse bucket is computed from the tier below with one
``INSERT … SELECT … GROUP BY`` once the tier below has passed its end, so rollups are incremental
and survive restarts: the finer rows of a bucket open at shutdown are still on disk when the
daemon comes back. Each tier keeps ``keep`` seconds; older rows are deleted (the pages are reused).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

Key = tuple[str, str]  # (metric, label)

MIGRATIONS = [
    """CREATE TABLE series (id INTEGER PRIMARY KEY, metric TEXT NOT NULL, label TEXT NOT NULL,
                            UNIQUE (metric, label));
       CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;""",
]

DEFAULT_MAX_POINTS = 2000  # buckets one answer may hold
AUTO_POINTS = 400  # buckets aimed at when no step is given


@dataclass(frozen=True)
class Tier:
    step: int  # seconds per bucket
    keep: int  # seconds of history kept

    @property
    def table(self) -> str:
        return f"tier_{self.step}"


DEFAULT_TIERS = (Tier(10, 86400), Tier(300, 30 * 86400), Tier(3600, 2 * 365 * 86400))


class QueryError(ValueError):
    """A query the store cannot answer; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def flatten(m: dict[str, Any]) -> dict[Key, float]:
    """The series kept on disk from one ``/system/metrics`` sample.

    CPU (busy, user, system, iowait %), memory (used, cached bytes, %), swap used, load averages,
    per-interface rx/tx bytes/s, per-disk read/write bytes/s and busy %, temperatures (°C).
    Per-core CPU and filesystems stay in the live in-memory history only.
    """
    out: dict[Key, float] = {}
    cpu = m["cpu"]
    for k in ("percent", "user", "system", "iowait"):
        out[("cpu." + k, "")] = cpu[k]
    mem = m["memory"]
    out[("memory.used", "")] = mem["used"]
    out[("memory.cached", "")] = mem.get("cached", 0)
    out[("memory.percent", "")] = mem["percent"]
    out[("swap.used", "")] = m["swap"]["used"]
    for name, v in zip(("load.1", "load.5", "load.15"), m["load"]):
        out[(name, "")] = v
    for n in m["network"]:
        out[("net.rx", n["interface"])] = n["rx_bytes_per_s"]
        out[("net.tx", n["interface"])] = n["tx_bytes_per_s"]
    for d in m["disks"]:
        out[("disk.read", d["device"])] = d["read_bytes_per_s"]
        out[("disk.write", d["device"])] = d["write_bytes_per_s"]
        if d.get("busy_percent") is not None:
            out[("disk.busy", d["device"])] = d["busy_percent"]
    for t in m["temperatures"]:
        out[("temperature", f"{t['chip']}/{t['label']}")] = t["celsius"]
    return out


def pool_values(pools: Iterable[dict[str, Any]]) -> dict[Key, float]:
    """``pool.used`` and ``pool.size`` (bytes) of each pool ``storage.pools.list`` reports."""
    out: dict[Key, float] = {}
    for p in pools:
        if p.get("size") is not None and p.get("used") is not None:
            out[("pool.used", p["name"])] = p["used"]
            out[("pool.size", p["name"])] = p["size"]
    return out


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class MetricsStore:
    """The history store. Thread-safe: writes and queries may run in worker threads.

    :param tiers: finest first; each step a multiple of the one before, each ``keep`` at least
        the next tier's step (so a bucket's finer rows exist until it is rolled up).
    """

    def __init__(self, path: Path, tiers: Iterable[Tier] = DEFAULT_TIERS) -> None:
        self.path = Path(path)
        self.tiers = tuple(tiers)
        check_tiers(self.tiers)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._ids: dict[Key, int] = {}
        self._open: dict[int, dict[Key, list[float]]] = {}  # bucket ts -> key -> [sum, count]
        self._taken_until = 0  # buckets before this were handed to write(): later samples are late
        self.rows_written = 0
        self.late_samples = 0

    # --- lifecycle -------------------------------------------------------------------------------

    def open(self) -> MetricsStore:
        _create_private(self.path)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA journal_size_limit=4194304")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(f"BEGIN; {script} PRAGMA user_version={i}; COMMIT;")
        for n, tier in enumerate(self.tiers):
            cols = "v REAL NOT NULL" if n == 0 else \
                "avg REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL"
            db.execute(f"CREATE TABLE IF NOT EXISTS {tier.table} (ts INTEGER NOT NULL, "
                       f"series INTEGER NOT NULL, {cols}, PRIMARY KEY (ts, series)) WITHOUT ROWID")
        self._ids = {(m, lb): i for i, m, lb in db.execute("SELECT id, metric, label FROM series")}
        self._db = db
        return self

    def close(self) -> None:
        """Write every open bucket (partial ones too) and close the file."""
        if self._db is None:
            return
        self.write(self.take(math.inf))
        with self._lock:
            self._db.close()
            self._db = None

    # --- writing ---------------------------------------------------------------------------------

    def add(self, ts: float, values: dict[Key, float]) -> None:
        """Account one sample's values to the finest bucket holding ``ts`` (memory only, cheap)."""
        step = self.tiers[0].step
        start = int(ts // step) * step
        if start < self._taken_until:
            # its bucket is written already: dropping one late sample beats replacing the
            # bucket's mean with that one sample
            self.late_samples += 1
            return
        bucket = self._open.setdefault(start, {})
        for key, v in values.items():
            acc = bucket.get(key)
            if acc is None:
                bucket[key] = [v, 1]
            else:
                acc[0] += v
                acc[1] += 1

    def take(self, now: float) -> list[tuple[int, dict[Key, float]]]:
        """Remove and return the buckets closed at ``now`` as ``(ts, {key: mean})``."""
        step = self.tiers[0].step
        closed = sorted(b for b in self._open if b + step <= now)
        if closed:
            self._taken_until = max(self._taken_until, closed[-1] + step)
        return [(b, {k: s / n for k, (s, n) in self._open.pop(b).items()}) for b in closed]

    def write(self, buckets: list[tuple[int, dict[Key, float]]]) -> None:
        """Insert finished finest buckets and roll up whatever they complete (one transaction)."""
        if not buckets:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN")
            try:
                rows: list[tuple[int, int, float]] = []
                for ts, values in buckets:
                    rows.extend((ts, self._id(db, k), v) for k, v in values.items())
                db.executemany(f"INSERT OR REPLACE INTO {self.tiers[0].table} VALUES (?,?,?)",
                               rows)
                self.rows_written += len(rows)
                self._rollup(db, buckets[-1][0] + self.tiers[0].step)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("metrics store is not open")
        return self._db

    def _id(self, db: sqlite3.Connection, key: Key) -> int:
        sid = self._ids.get(key)
        if sid is None:
            db.execute("INSERT OR IGNORE INTO series(metric, label) VALUES (?,?)", key)
            sid = db.execute("SELECT id FROM series WHERE metric=? AND label=?", key).fetchone()[0]
            self._ids[key] = sid
        return sid

    def _rollup(self, db: sqlite3.Connection, complete: int) -> None:
        """Roll up every coarse bucket that ends at or before ``complete`` (the finest tier holds
        everything before it); each coarse tier's watermark then completes the next one."""
        for finer, tier in pairwise(self.tiers):
            end = complete // tier.step * tier.step
            row = db.execute("SELECT value FROM meta WHERE key=?", (tier.table,)).fetchone()
            start = row[0] if row else 0
            if end > start:
                pick = "avg(v), min(v), max(v)" if finer is self.tiers[0] else \
                    "avg(avg), min(min), max(max)"
                db.execute(f"INSERT OR REPLACE INTO {tier.table} SELECT ts / {tier.step} * "
                           f"{tier.step}, series, {pick} FROM {finer.table} WHERE ts >= ? AND "
                           f"ts < ? GROUP BY 1, 2", (start, end))
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (tier.table, end))
            complete = max(end, start)

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than each tier keeps; returns how many."""
        now = time.time() if now is None else now
        deleted = 0
        with self._lock:
            db = self._conn()
            for tier in self.tiers:
                deleted += db.execute(f"DELETE FROM {tier.table} WHERE ts < ?",
                                      (int(now - tier.keep),)).rowcount
        return deleted

    # --- reading ---------------------------------------------------------------------------------

    def pick_tier(self, start: float, now: float, step: int | None = None) -> Tier:
        """The tier to read from ``start`` on at ``step`` seconds per bucket: among the tiers
        whose retention still covers ``start``, the coarsest whose step is at most ``step`` (the
        fewest rows for that resolution), else the finest covering one; the coarsest tier when
        none covers ``start``."""
        covering = [t for t in self.tiers if start >= now - t.keep] or [self.tiers[-1]]
        fitting = [t for t in covering if step is not None and t.step <= step]
        return fitting[-1] if fitting else covering[0]

    def query(self, start: float, end: float, step: int | None = None,
              metrics: list[str] | None = None, now: float | None = None,
              max_points: int = DEFAULT_MAX_POINTS) -> dict[str, Any]:
        """Aligned series between ``start`` and ``end`` (epoch seconds) in ``step``-second buckets.

        The tier is picked by :meth:`pick_tier`; ``step`` (default: about ``AUTO_POINTS``
        buckets) is rounded up to a multiple of the tier's step. ``metrics`` keeps the named metrics (``net``
        keeps ``net.rx`` and ``net.tx``). Buckets without data are ``None``.
        """
        now = time.time() if now is None else now
        if end <= start:
            raise QueryError("to", "must be later than from")
        if step is None:
            step = max(1, math.ceil((end - start) / AUTO_POINTS))
        tier = self.pick_tier(start, now, step)
        step = max(tier.step, math.ceil(step / tier.step) * tier.step)
        first = int(start // step) * step
        n = int((end - first) // step) + 1
        if n > max_points:
            least = math.ceil((end - first) / (max_points - 1) / tier.step) * tier.step
            raise QueryError("step", f"{n} points is more than {max_points}; "
                             f"use a step of at least {least} seconds for this range")
        cols = "v AS a, v AS lo, v AS hi" if tier is self.tiers[0] else "avg AS a, min AS lo, max AS hi"
        with self._lock:
            db = self._conn()
            names = {sid: key for key, sid in self._ids.items()}
            if metrics:
                wanted = {sid for sid, (m, _) in names.items()
                          if any(m == w or m.startswith(w + ".") for w in metrics)}
            else:
                wanted = set(names)
            only = f" AND series IN ({','.join(map(str, sorted(wanted)))})" if metrics else ""
            if step == tier.step:  # one row per bucket already: a plain range scan
                sql = (f"SELECT (ts - ?) / ?, series, {cols} FROM {tier.table} "
                       f"WHERE ts >= ? AND ts <= ?{only}")
            else:
                sql = (f"SELECT (ts - ?) / ? AS i, series, avg(a), min(lo), max(hi) FROM "
                       f"(SELECT ts, series, {cols} FROM {tier.table} WHERE ts >= ? AND ts <= ?"
                       f"{only}) GROUP BY i, series")
            rows = db.execute(sql, (first, step, first, int(end))).fetchall()
        out: dict[int, dict[str, list[float | None]]] = {}
        for i, sid, a, lo, hi in rows:
            if sid not in wanted or i >= n:
                continue
            s = out.get(sid)
            if s is None:
                s = out[sid] = {"avg": [None] * n, "min": [None] * n, "max": [None] * n}
            s["avg"][i], s["min"][i], s["max"][i] = round(a, 3), lo, hi
        series = [{"metric": names[sid][0], "label": names[sid][1], **vals}
                  for sid, vals in sorted(out.items(), key=lambda kv: names[kv[0]])]
        return {"from": first, "to": end, "step": step, "tier": tier.step,
                "timestamps": [first + i * step for i in range(n)], "series": series}

    def stats(self) -> dict[str, Any]:
        """Rows per tier, series count and file size (WAL included)."""
        with self._lock:
            db = self._conn()
            rows = {t.step: db.execute(f"SELECT count(*) FROM {t.table}").fetchone()[0]
                    for t in self.tiers}
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal"))
                   if p.exists())
        return {"series": len(self._ids), "rows": rows, "bytes": size}


def check_tiers(tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise ValueError("at least one tier is needed")
    for finer, tier in pairwise(tiers):
        if tier.step <= finer.step or tier.step % finer.step:
            raise ValueError(f"tier step {tier.step} must be a multiple of {finer.step} and larger")
        if finer.keep < tier.step:
            raise ValueError(f"the {finer.step} s tier must keep at least {tier.step} s "
                             "(the next tier's step) so its buckets can be rolled up")
