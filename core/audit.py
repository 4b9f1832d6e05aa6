"""Tamper-evident audit log.

Each record carries an HMAC-SHA256 of its content and of the record before it, keyed with a
secret kept outside the database (``audit.key`` in the data dir). The chain's head (last id and
hash) is kept outside the database as well (``audit.head``), and where the chain starts — after a
rotation, or the records written before keying — is a checkpoint signed with the same key. So
``verify`` tells apart: an edited record, a record rehashed without the key, records deleted at the
start, in the middle or at the end, and a forged or missing checkpoint.

Refused writes from unauthenticated clients stay visible but bounded: see ``RefusalTally``.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel

from .db import Database
from .errors import APIError
from .files import fsync_dir, temp_path_for
from .jobs import now

log = logging.getLogger("sigmavault.audit")

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
""", """
ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
CREATE TABLE audit_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);
"""]

GENESIS = "0" * 64
ANONYMOUS = "anonymous"  # the actor of a request that presented no valid credentials
LOGIN = "auth.login"
FIELDS = ("ts", "actor", "address", "action", "target", "outcome", "details")
KEY_FILE, HEAD_FILE = "audit.key", "audit.head"
TEXT_LIMIT = 256  # characters kept of a target, or of a string in details
WINDOW = 60.0  # seconds over which repeated unauthenticated refusals become one counted record
UNAUTHENTICATED_ROWS = 120  # records unauthenticated refusals may add per window, aggregates aside
OVERFLOW = (ANONYMOUS, "*", "audit.refusals_over_limit", "error")
OVERFLOW_ADDRESSES = 1000  # distinct addresses the overflow record counts, at most
PROBLEMS_SHOWN = 20
NEW_CHAIN: dict[str, Any] = {"start_id": 0, "start_hash": GENESIS,
                             "legacy_upto": 0, "legacy_hash": GENESIS}


class AuditRecord(BaseModel):
    id: int
    ts: str
    actor: str
    address: str
    action: str
    target: str
    outcome: str
    count: int = 1  # how many identical refusals the record stands for (aggregated: > 1)
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditProblem(BaseModel):
    kind: str  # first_records_deleted, records_deleted, record_edited, rehashed_without_key, ...
    id: int | None
    message: str


class AuditVerify(BaseModel):
    ok: bool
    checked: int
    first_bad_id: int | None
    problems: list[AuditProblem] = []


def legacy_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The unkeyed SHA-256 of records written before the chain was keyed."""
    material = json.dumps([prev_hash, *(row[f] for f in FIELDS)], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def _material(prev_hash: str, row: dict[str, Any]) -> bytes:
    return json.dumps([prev_hash, *(row[f] for f in FIELDS), row.get("count", 1)],
                      separators=(",", ":")).encode()


def clip(value: Any, limit: int = TEXT_LIMIT) -> Any:
    """``value`` with every string longer than ``limit`` cut and marked with what was dropped."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}…[{len(value) - limit} more]"
    if isinstance(value, dict):
        return {clip(k, limit): clip(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clip(v, limit) for v in value]
    return value


# Set by the request pipeline around a public write: the handler's own records land here, so the
# pipeline adds its generic one only when the handler wrote none (a login records "auth.login").
_written: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("audit_written", default=None)


def watch() -> tuple[list[str], contextvars.Token]:
    """Start collecting the actions recorded in this context; ``unwatch(token)`` ends it."""
    written: list[str] = []
    return written, _written.set(written)


def unwatch(token: contextvars.Token) -> None:
    _written.reset(token)


@dataclass
class _Tally:
    opened: float  # time.monotonic() of the window's first refusal
    first_ts: str
    last_ts: str = ""
    count: int = 0  # refusals not yet written
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    addresses: set[str] = field(default_factory=set)  # the overflow tally only


class RefusalTally:
    """Refused writes from unauthenticated clients, bounded.

    The first refusal of a kind — (actor, address, action, outcome) — in a window is written at
    once; the repeats are counted in memory and written as one record with ``count`` when the
    window ends or the log is read. Unauthenticated refusals open at most
    ``UNAUTHENTICATED_ROWS`` kinds per window; beyond that they all go to one overflow tally.
    A crash loses at most one window of repeat counts, never a first refusal.
    """

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str, str, str], _Tally] = {}
        self.window_start = time.monotonic()
        self.opened_in_window = 0

    @staticmethod
    def applies(actor: str, action: str, outcome: str) -> bool:
        return outcome != "ok" and (actor == ANONYMOUS or action == LOGIN)

    def absorb(self, key: tuple[str, str, str, str], target: str, details: dict[str, Any]) -> bool:
        """Count a refusal; False when it must be written now (the first of its kind)."""
        clock = time.monotonic()
        if clock - self.window_start >= WINDOW:
            self.window_start, self.opened_in_window = clock, 0
        tally = self.tallies.get(key)
        if tally is None and self.opened_in_window < UNAUTHENTICATED_ROWS:
            self.opened_in_window += 1
            self.tallies[key] = _Tally(opened=clock, first_ts=now())
            return False
        if tally is None:
            tally = self.tallies.setdefault(OVERFLOW, _Tally(opened=clock, first_ts=now()))
            if len(tally.addresses) < OVERFLOW_ADDRESSES:
                tally.addresses.add(key[1])
        if not tally.count:
            tally.first_ts = now()
        tally.count += 1
        tally.last_ts, tally.target, tally.details = now(), target, details
        return True

    def due(self, everything: bool) -> list[tuple[tuple[str, str, str, str], _Tally]]:
        """Take the tallies to write: those whose window ended, or all (then windows go on)."""
        clock = time.monotonic()
        taken = []
        for key, tally in list(self.tallies.items()):
            ended = clock - tally.opened >= WINDOW
            if tally.count and (ended or everything):
                taken.append((key, replace(tally, addresses=set(tally.addresses))))
                tally.count, tally.addresses = 0, set()
            if ended:
                del self.tallies[key]
        return taken


class AuditLog:
    def __init__(self, db: Database, directory: Path | None = None):
        self.db = db
        directory = Path(directory or db.path.parent)
        self.head_path = directory / HEAD_FILE
        self.key, made = _load_key(directory / KEY_FILE)
        self._refusals = RefusalTally()
        self._tally_lock = threading.Lock()
        if made and db.one("SELECT 1 AS x FROM audit_checkpoint"):
            log.error("audit log: %s was missing and a new key was made; the records written "
                      "with the old one will not verify (restore it from the backup)", KEY_FILE)
        self._start_chain()
        db.before_close.append(self.flush)

    # --- hashing ---------------------------------------------------------------------------------

    def record_hash(self, prev_hash: str, row: dict[str, Any]) -> str:
        return hmac.new(self.key, _material(prev_hash, row), hashlib.sha256).hexdigest()

    def _sign(self, doc: dict[str, Any]) -> str:
        material = json.dumps({k: v for k, v in doc.items() if k != "mac"}, sort_keys=True)
        return hmac.new(self.key, b"checkpoint\0" + material.encode(), hashlib.sha256).hexdigest()

    # --- writing ---------------------------------------------------------------------------------

    def record(self, actor: str, address: str, action: str, target: str = "",
               outcome: str = "ok", details: dict[str, Any] | None = None) -> None:
        target, details = clip(target), clip(details or {})
        with self._tally_lock:
            due = self._refusals.due(everything=False)
            kind = (actor, address, action, outcome)
            absorbed = (RefusalTally.applies(actor, action, outcome)
                        and self._refusals.absorb(kind, target, details))
            self._write_tallies(due)
            if not absorbed:
                self._append(actor, address, action, target, outcome, details)
        written = _written.get()
        if written is not None:
            written.append(action)

    def flush(self) -> None:
        """Write the counted refusals not yet in the log (before reading it, and at close)."""
        with self._tally_lock:
            self._write_tallies(self._refusals.due(everything=True))

    def _write_tallies(self, due: Iterable[tuple[tuple[str, str, str, str], _Tally]]) -> None:
        for (actor, address, action, outcome), tally in due:
            details = {**tally.details, "aggregated": True, "first": tally.first_ts,
                       "last": tally.last_ts}
            if tally.addresses:
                details["addresses"] = len(tally.addresses)
            self._append(actor, address, action, tally.target, outcome, details, tally.count)

    def _append(self, actor: str, address: str, action: str, target: str, outcome: str,
                details: dict[str, Any], count: int = 1) -> None:
        row = {"ts": now(), "actor": actor, "address": address, "action": action,
               "target": target, "outcome": outcome,
               "details": json.dumps(details, sort_keys=True, default=str), "count": count}
        with self.db.transaction() as conn:
            last = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            prev = last[0] if last else (self._checkpoint(conn) or NEW_CHAIN)["start_hash"]
            digest = self.record_hash(prev, row)
            cur = conn.execute("INSERT INTO audit(ts, actor, address, action, target, outcome, "
                               "details, count, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?,?)",
                               (*row.values(), prev, digest))
            # inside the transaction: another process's writer waits for it, so heads never cross
            self._write_head(int(cur.lastrowid or 0), digest)

    def _write_head(self, last_id: int, digest: str) -> None:
        """Replace the head file atomically. Not fsynced: the database's commits are not either
        (WAL, synchronous=NORMAL), and an fsync per record would cost ~15 ms per write."""
        tmp = temp_path_for(self.head_path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"last_id": last_id, "hash": digest}, f)
        os.replace(tmp, self.head_path)

    def _read_head(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.head_path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return {"last_id": None, "hash": None}

    # --- the checkpoint --------------------------------------------------------------------------

    @staticmethod
    def _checkpoint(conn: Any) -> dict[str, Any] | None:
        row = conn.execute("SELECT doc FROM audit_checkpoint WHERE id=1").fetchone()
        return json.loads(row[0]) if row else None

    def _put_checkpoint(self, conn: Any, doc: dict[str, Any]) -> None:
        doc = {**doc, "ts": now()}
        doc["mac"] = self._sign(doc)
        conn.execute("INSERT INTO audit_checkpoint(id, doc) VALUES(1, ?) "
                     "ON CONFLICT(id) DO UPDATE SET doc=excluded.doc", (json.dumps(doc),))

    def _start_chain(self) -> None:
        """On a new install, or the first start of a release with a keyed chain: sign where the
        chain starts. Records already there stay as they are, unkeyed, and are pinned by the
        checkpoint (their last hash), so rewriting them is detected from now on."""
        with self.db.transaction() as conn:
            if self._checkpoint(conn) or self.head_path.exists():
                return
            first = conn.execute("SELECT id, prev_hash FROM audit ORDER BY id LIMIT 1").fetchone()
            last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            doc: dict[str, Any] = {
                "start_id": first[0] - 1 if first else 0,
                "start_hash": first[1] if first else GENESIS,
                "legacy_upto": last[0] if last else 0, "legacy_hash": last[1] if last else GENESIS,
                "reason": "legacy records pinned" if last else "new chain"}
            self._put_checkpoint(conn, doc)
            self._write_head(doc["legacy_upto"], doc["legacy_hash"])
        if last:
            log.warning("audit log: %d unkeyed records (up to id %d) pinned by a signed "
                        "checkpoint; new records are keyed (HMAC-SHA256)",
                        last[0] - doc["start_id"], last[0])

    def rotate(self, upto_id: int, upto_hash: str, note: dict[str, Any]) -> dict[str, Any]:
        """Drop the records up to ``upto_id`` (the caller exported them) and move the signed
        checkpoint past them, in one transaction. 409 if that record changed meanwhile."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT hash FROM audit WHERE id=?", (upto_id,)).fetchone()
            if row is None or row[0] != upto_hash:
                raise APIError(409, "audit_changed", f"audit record {upto_id} changed or vanished "
                               "since it was exported; nothing was rotated", {"id": upto_id})
            doc = {**(self._checkpoint(conn) or NEW_CHAIN),
                   "start_id": upto_id, "start_hash": upto_hash,
                   "reason": "rotation", "note": note}
            self._put_checkpoint(conn, doc)
            conn.execute("DELETE FROM audit WHERE id <= ?", (upto_id,))
        return doc

    # --- reading ---------------------------------------------------------------------------------

    def list(self, limit: int = 100, offset: int = 0, actor: str | None = None,
             action: str | None = None) -> tuple[list[dict[str, Any]], int]:
        self.flush()
        where, args = [], []
        if actor:
            where.append("actor=?")
            args.append(actor)
        if action:
            where.append("action LIKE ?")
            args.append(action.replace("*", "%"))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.db.value(f"SELECT count(*) FROM audit {clause}", args)
        rows = self.db.all(f"SELECT * FROM audit {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                           (*args, limit, offset))
        for r in rows:
            r["details"] = json.loads(r["details"])
        return rows, total

    def check_rows(self, rows: Iterable[dict[str, Any]], anchored: bool = True) -> dict[str, Any]:
        """Check a run of records (the live log, or an export): each hash, each link, and — when
        ``anchored`` — that the run starts where the signed checkpoint says the chain starts."""
        row = self.db.one("SELECT doc FROM audit_checkpoint WHERE id=1")
        return _Checker(self, json.loads(row["doc"]) if row else None).run(rows, anchored)

    def verify(self) -> dict[str, Any]:
        """Walk the whole chain and compare its end with the head kept outside the database."""
        self.flush()
        with self.db.transaction() as conn:  # a consistent snapshot: no writer is mid-record
            rows = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY id").fetchall()]
            checkpoint = self._checkpoint(conn)
            head = self._read_head()
        checker = _Checker(self, checkpoint)
        checker.run(rows, anchored=True)
        checker.check_head(head, rows)
        return checker.report(len(rows))


class _Checker:
    def __init__(self, log: AuditLog, checkpoint: dict[str, Any] | None):
        self.log, self.cp = log, checkpoint or NEW_CHAIN
        self.problems: list[dict[str, Any]] = []
        if checkpoint is None:
            self.add("checkpoint_missing", None, "the signed checkpoint saying where the chain "
                     "starts is missing from the database")
        elif not hmac.compare_digest(checkpoint.get("mac", ""), log._sign(checkpoint)):
            self.add("checkpoint_forged", None, "the checkpoint's signature does not match: it "
                     f"was changed without the audit key, or {KEY_FILE} is not the chain's key")

    def add(self, kind: str, id: int | None, message: str) -> None:
        self.problems.append({"kind": kind, "id": id, "message": message})

    def run(self, rows: Iterable[dict[str, Any]], anchored: bool) -> dict[str, Any]:
        prev: dict[str, Any] | None = None
        checked = 0
        for row in rows:
            checked += 1
            self._link(prev, row, anchored)
            self._hash(row)
            prev = row
        return self.report(checked, last_hash=prev["hash"] if prev else None)

    def _link(self, prev: dict[str, Any] | None, row: dict[str, Any], anchored: bool) -> None:
        if prev is None:
            if anchored and (row["id"] != self.cp["start_id"] + 1
                             or row["prev_hash"] != self.cp["start_hash"]):
                self.add("first_records_deleted", row["id"],
                         f"the chain should start after record {self.cp['start_id']} but starts "
                         f"at {row['id']}: records before it were deleted")
        elif row["prev_hash"] != prev["hash"] or row["id"] != prev["id"] + 1:
            self.add("records_deleted", row["id"], f"record {row['id']} does not follow record "
                     f"{prev['id']}: records between them were deleted or replaced")

    def _hash(self, row: dict[str, Any]) -> None:
        if row["id"] <= self.cp["legacy_upto"]:
            if legacy_hash(row["prev_hash"], row) != row["hash"] or row.get("count", 1) != 1:
                self.add("record_edited", row["id"], f"record {row['id']} was changed")
            elif row["id"] == self.cp["legacy_upto"] and row["hash"] != self.cp["legacy_hash"]:
                self.add("rehashed_without_key", row["id"], f"the unkeyed records up to "
                         f"{row['id']} were rewritten after the checkpoint pinned them")
            return
        if hmac.compare_digest(self.log.record_hash(row["prev_hash"], row), row["hash"]):
            return
        plain = {legacy_hash(row["prev_hash"], row),
                 hashlib.sha256(_material(row["prev_hash"], row)).hexdigest()}
        if row["hash"] in plain:
            self.add("rehashed_without_key", row["id"], f"record {row['id']} carries a plain "
                     "SHA-256, not the keyed HMAC: it was changed and rehashed without the key")
        else:
            self.add("record_edited", row["id"], f"record {row['id']} was changed")

    def check_head(self, head: dict[str, Any] | None, rows: list[dict[str, Any]]) -> None:
        last_id, last_hash = ((rows[-1]["id"], rows[-1]["hash"]) if rows
                              else (self.cp["start_id"], self.cp["start_hash"]))
        if head is None:
            self.add("head_missing", None, f"the head file {HEAD_FILE} is missing")
        elif head.get("last_id") is None or head["last_id"] > last_id:
            self.add("last_records_deleted", last_id, f"the head says the last record is "
                     f"{head.get('last_id')}, the database ends at {last_id}: the last records "
                     "were deleted")
        elif head["last_id"] < last_id:
            self.add("records_after_head", head["last_id"] + 1,
                     f"records {head['last_id'] + 1}–{last_id} were added without the audit log "
                     f"(the head says {head['last_id']})")
        elif head.get("hash") != last_hash:
            self.add("head_mismatch", last_id, f"record {last_id} is not the one the head names: "
                     "it was replaced")

    def report(self, checked: int, last_hash: str | None = None) -> dict[str, Any]:
        ids = [p["id"] for p in self.problems if p["id"] is not None]
        shown = self.problems[:PROBLEMS_SHOWN]
        if len(self.problems) > PROBLEMS_SHOWN:
            shown.append({"kind": "more", "id": None,
                          "message": f"{len(self.problems) - PROBLEMS_SHOWN} more problems"})
        report = {"ok": not self.problems, "checked": checked,
                  "first_bad_id": min(ids) if ids else None, "problems": shown}
        if last_hash is not None:
            report["last_hash"] = last_hash
        return report


def _load_key(path: Path) -> tuple[bytes, bool]:
    """The chain's key: 32 random bytes in a 0600 file beside the database, made once.

    Written under a temporary name and linked into place, which fails rather than replaces when
    another process (a CLI command beside the daemon) made the key first. Returns the key and
    whether this call made it."""
    made = False
    if not path.exists():
        tmp = temp_path_for(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)
            fsync_dir(path.parent)
            made = True
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip()), made
