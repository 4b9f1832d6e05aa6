"""OMNISCIENT's schedules: cron expressions persisted in SQLite, run by a loop in the daemon.

A schedule whose time passed while the daemon was down runs once at the next start (missed runs
are not replayed one by one), then follows its expression from now on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from sigmavault.errors import APIError

from .runtime import iso
from .work import cron

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

log = logging.getLogger("sigmavault.agents.scheduler")


class Scheduler:
    def __init__(self, runtime: "Runtime", interval: float = 1.0):
        self.runtime = runtime
        self.db = runtime.app.db
        self.interval = interval
        self._wake = asyncio.Event()

    def create(self, agent: str, expr: str, params: dict[str, Any], priority: int = 0,
               name: str = "", enabled: bool = True) -> dict[str, Any]:
        """Validate and store a schedule (its params are checked against the agent now)."""
        try:
            expr = cron.validate(expr)
        except ValueError as exc:
            raise APIError(422, "invalid_cron", str(exc), {"cron": expr}) from None
        slot, model = self.runtime.validate(agent, params)
        sid = uuid.uuid4().hex[:12]
        now = time.time()
        self.db.execute(
            "INSERT INTO agents_schedules(id, name, agent, cron, params, priority, enabled, next_run, created_at)"
            " VALUES(?,?,?,?,?,?,?,?,?)",
            (sid, name, slot.agent.name.upper(), expr, json.dumps(model.model_dump(mode="json")), priority,
             int(enabled), cron.next_after(expr, now), now))
        self._wake.set()
        return self.get(sid)

    def get(self, sid: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM agents_schedules WHERE id=?", (sid,))
        if row is None:
            raise APIError(404, "not_found", f"schedule {sid!r} does not exist", {"kind": "schedule", "name": sid})
        return _schedule(row)

    def list(self) -> list[dict[str, Any]]:
        return [_schedule(r) for r in self.db.all("SELECT * FROM agents_schedules ORDER BY created_at")]

    def delete(self, sid: str) -> None:
        self.get(sid)
        self.db.execute("DELETE FROM agents_schedules WHERE id=?", (sid,))

    def run_due(self, now: float | None = None) -> list[str]:
        """Dispatch every enabled schedule whose time has come; return the task ids."""
        now = time.time() if now is None else now
        started = []
        for row in self.db.all("SELECT * FROM agents_schedules WHERE enabled=1 AND next_run <= ?", (now,)):
            next_run = cron.next_after(row["cron"], now)
            try:
                task = self.runtime.dispatch(row["agent"], json.loads(row["params"]), priority=row["priority"],
                                             source=f"schedule:{row['id']}")
                self.db.execute("UPDATE agents_schedules SET next_run=?, last_run=?, last_task=?, "
                                "last_error=NULL, runs=runs+1 WHERE id=?", (next_run, now, task["id"], row["id"]))
                started.append(task["id"])
            except APIError as exc:
                log.warning("schedule %s could not run: %s", row["id"], exc.message)
                self.db.execute("UPDATE agents_schedules SET next_run=?, last_run=?, last_error=? WHERE id=?",
                                (next_run, now, exc.message, row["id"]))
        return started

    async def loop(self) -> None:
        while True:
            try:
                self.run_due()
            except Exception:
                log.exception("scheduler tick failed")
            row = self.db.one("SELECT min(next_run) AS t FROM agents_schedules WHERE enabled=1")
            wait = self.interval if row is None or row["t"] is None else \
                max(0.05, min(self.interval, row["t"] - time.time()))
            self._wake.clear()
            # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancel that
            # arrives as its timeout fires, and the daemon would never finish shutting down
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=wait)
            finally:
                waiter.cancel()


def _schedule(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "agent": row["agent"], "cron": row["cron"],
            "params": json.loads(row["params"]), "priority": row["priority"], "enabled": bool(row["enabled"]),
            "next_run": iso(row["next_run"]), "last_run": iso(row["last_run"]), "last_task": row["last_task"],
            "last_error": row["last_error"], "runs": row["runs"], "created_at": iso(row["created_at"])}
