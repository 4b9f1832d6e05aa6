"""SQLite state: WAL journal, and a plugin's migrations (register_migrations) applied once each,
in order, with the version recorded; a failing script changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sigmavault import hookimpl
from sigmavault.app import SigmaVault
from sigmavault.config import Config
from sigmavault.plugins import PluginManager

V1 = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\nINSERT INTO notes(body) VALUES ('v1');"
V2 = "ALTER TABLE notes ADD COLUMN tag TEXT;\nINSERT INTO notes(body, tag) VALUES ('v2', 'needs v1');"
V3 = """CREATE TRIGGER notes_tag AFTER INSERT ON notes WHEN NEW.tag IS NULL
BEGIN UPDATE notes SET tag = 'auto'; END;
INSERT INTO notes(body) VALUES ('v3');"""


class Notes:
    def __init__(self, scripts: list[str]):
        self.scripts = scripts

    @hookimpl
    def register_migrations(self, register):
        register("test.notes", self.scripts)


async def _start(data_dir: Path, scripts: list[str]) -> tuple[SigmaVault, str]:
    """One daemon start with the built-in plugins and a plugin declaring ``scripts``."""
    pm = PluginManager(load_entry_points=False)
    pm.register(Notes(scripts), "sigmavault-notes")
    app = await SigmaVault.create(Config(data_dir=data_dir), pm)
    status = app.plugins.infos["sigmavault-notes"].status
    app.db.close()
    return app, status


def _state(data_dir: Path) -> tuple[list[tuple], int | None]:
    conn = sqlite3.connect(data_dir / "sigmavault.db")
    try:
        rows = [r[1:] for r in conn.execute("SELECT * FROM notes ORDER BY id")]  # without id
        (version,) = conn.execute(
            "SELECT version FROM schema_versions WHERE namespace='test.notes'").fetchone()
        return rows, version
    finally:
        conn.close()


async def test_journal_is_wal(tmp_path):
    app, _ = await _start(tmp_path / "d", [V1])
    conn = sqlite3.connect(tmp_path / "d" / "sigmavault.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert (tmp_path / "d" / "sigmavault.db").stat().st_mode & 0o077 == 0


async def test_migrations_apply_once_in_order_and_record_the_version(tmp_path):
    data = tmp_path / "d"
    assert (await _start(data, [V1, V2]))[1] == "loaded"
    assert _state(data) == ([("v1", None), ("v2", "needs v1")], 2)

    assert (await _start(data, [V1, V2]))[1] == "loaded"      # second start: nothing re-run
    assert _state(data) == ([("v1", None), ("v2", "needs v1")], 2)

    assert (await _start(data, [V1, V2, V3]))[1] == "loaded"  # upgrade: only the new script
    assert _state(data) == ([("v1", "auto"), ("v2", "auto"), ("v3", "auto")], 3)


async def test_a_failing_script_changes_nothing_and_fails_the_plugin(tmp_path):
    data = tmp_path / "d"
    await _start(data, [V1])
    broken = "INSERT INTO notes(body) VALUES ('half');\nINSERT INTO no_such_table VALUES (1);"
    app, status = await _start(data, [V1, broken])
    assert status == "failed" and "no_such_table" in app.plugins.infos["sigmavault-notes"].error
    assert _state(data) == ([("v1",)], 1)
    assert (await _start(data, [V1, V2]))[1] == "loaded"      # the fixed release applies
    assert _state(data) == ([("v1", None), ("v2", "needs v1")], 2)


async def test_an_older_release_does_not_lower_the_version(tmp_path):
    """Downgrading a plugin keeps the recorded version, so upgrading again re-runs nothing."""
    data = tmp_path / "d"
    await _start(data, [V1, V2])
    assert (await _start(data, [V1]))[1] == "loaded"
    assert _state(data)[1] == 2
    assert (await _start(data, [V1, V2]))[1] == "loaded"
    assert _state(data) == ([("v1", None), ("v2", "needs v1")], 2)
