"""SQLite state (WAL) shared by the core and plugins, with versioned migrations per namespace."""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

PRIVATE = 0o600  # the database holds password hashes, session tokens and key material


class Database:
    """A single SQLite connection guarded by a lock; every statement is short.

    Plugins get it as ``app.db`` and declare tables through ``register_migrations``.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # created private before SQLite opens it: the -wal and -shm files take the database's mode
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE))
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=10)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self.before_close: list[Callable[[], None]] = []  # last writes, e.g. the audit's tallies
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        for suffix in ("", "-wal", "-shm"):  # an install from before files were created private
            try:
                os.chmod(f"{self.path}{suffix}", PRIVATE)
            except FileNotFoundError:
                pass

    def migrate(self, namespace: str, scripts: Sequence[str]) -> int:
        """Run the scripts of ``namespace`` not yet applied, all or none; return the version.

        An older release with fewer scripts leaves the recorded version as it is, so that going
        back to the newer one does not run its scripts a second time.
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT version FROM schema_versions WHERE namespace=?",
                               (namespace,)).fetchone()
            current = row[0] if row else 0
            for script in scripts[current:]:
                for statement in _split(script):
                    conn.execute(statement)
            version = max(current, len(scripts))
            conn.execute("INSERT INTO schema_versions(namespace, version) VALUES(?, ?) "
                         "ON CONFLICT(namespace) DO UPDATE SET version=excluded.version",
                         (namespace, version))
        return version

    def version(self, namespace: str) -> int:
        row = self.one("SELECT version FROM schema_versions WHERE namespace=?", (namespace,))
        return row["version"] if row else 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, params).fetchall()]

    def one(self, sql: str,
            params: Sequence[Any] | Mapping[str, Any] = ()) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row else None

    def value(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """The first column of the first row (None without rows)."""
        row = self.one(sql, params)
        return next(iter(row.values())) if row else None

    def integrity_ok(self) -> bool:
        return self.value("PRAGMA integrity_check") == "ok"

    def close(self) -> None:
        for callback in self.before_close:
            callback()
        with self._lock:
            self._conn.close()


def _split(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows triggers)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
