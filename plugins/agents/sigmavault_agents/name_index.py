"""ATLAS: a file-name index of a tree in SQLite FTS5 (trigram tokenizer: substring search)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from .walk import Check, Progress, iter_entries, noop

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS files USING fts5(
    name, relpath, root UNINDEXED, size UNINDEXED, mtime UNINDEXED, is_dir UNINDEXED,
    tokenize='trigram');
CREATE TABLE IF NOT EXISTS roots (root TEXT PRIMARY KEY, files INTEGER, indexed_at REAL);
"""


def connect(db_path: Path) -> sqlite3.Connection:
    """Open (and create) the index database."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    return conn


def build_index(db_path: Path, root: Path, *, check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """Replace the index of ``root`` with its current entries, in one transaction."""
    root = Path(root)
    started = time.monotonic()
    conn = connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM files WHERE root=?", (str(root),))
            rows, n = [], 0
            for path, st in iter_entries(root, check):
                n += 1
                rows.append((os.path.basename(path), os.path.relpath(path, root), str(root), st.st_size,
                             st.st_mtime, int(os.path.isdir(path) and not os.path.islink(path))))
                if len(rows) >= 5000:
                    conn.executemany("INSERT INTO files VALUES (?,?,?,?,?,?)", rows)
                    rows.clear()
                    progress(description=f"{n} entries indexed")
            conn.executemany("INSERT INTO files VALUES (?,?,?,?,?,?)", rows)
            conn.execute("INSERT OR REPLACE INTO roots VALUES (?,?,?)", (str(root), n, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return {"root": str(root), "entries": n, "seconds": round(time.monotonic() - started, 3)}


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def search(db_path: Path, query: str, root: Path | None = None, limit: int = 100) -> dict[str, Any]:
    """Entries whose name contains ``query`` (case-insensitive; 3+ characters use the FTS index)."""
    conn = connect(db_path)
    try:
        where, args = [], []
        if len(query) >= 3:
            where.append("files MATCH ?")
            args.append("name : " + _fts_phrase(query))
        else:
            where.append("name LIKE ? ESCAPE '\\'")
            args.append("%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if root is not None:
            where.append("root = ?")
            args.append(str(root))
        sql = f"SELECT name, relpath, root, size, mtime, is_dir FROM files WHERE {' AND '.join(where)}"
        total = conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]
        rows = conn.execute(sql + " ORDER BY length(name), relpath LIMIT ?", [*args, limit]).fetchall()
        roots = [r[0] for r in conn.execute("SELECT root FROM roots ORDER BY root")]
    finally:
        conn.close()
    return {"query": query, "total": total, "indexed_roots": roots, "matches": [
        {"name": r[0], "path": os.path.join(r[2], r[1]), "size": r[3], "mtime": r[4], "is_dir": bool(r[5])}
        for r in rows]}
