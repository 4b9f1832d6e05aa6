"""OMNISCIENT's schedules: cron expressions persisted in SQLite, run by a loop in the daemon.

A schedule whose time passed while the daemon was down runs once at the next start (missed runs
are not replayed one by one), then follows its expression from now on.

Secrets in params (``SecretStr`` fields) are stored sealed in ``secrets``, never in ``params``,
which holds the masked dump the API shows; a run gets them back unmasked.

:class:`Scheduler` is a service (``app.services[Scheduler]``): its operations are the schedule
routes and the swarm overview of ``/api/v1/agents``; it runs its loop between ``start()`` and
``stop()``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from sigmavault import operation, secret_params
from sigmavault.errors import APIError
from sigmavault.schedule import DueLoop, next_after, normalise
from sigmavault.sealed import KEY_FILE, SealError, sealer_for

from .models import Schedule, ScheduleCreate, ScheduleUpdate, Swarm
from .runtime import TAGS, iso

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

SCHEDULES = "/agents/schedules"

log = logging.getLogger("sigmavault.agents.scheduler")


class Scheduler:
    """OMNISCIENT's schedules and the swarm overview; reached as ``app.services[Scheduler]``."""

    def __init__(self, runtime: "Runtime", interval: float = 1.0) -> None:
        self.runtime = runtime
        self.db = runtime.app.db
        self.interval = interval
        self.sealer = sealer_for(runtime.app.data_dir)
        self.due_loop = DueLoop(self.run_due, self._next_due, lambda: self.interval,
                            name="agents scheduler")

    async def start(self) -> None:
        """Run due schedules from now on (one missed while the daemon was down runs at once)."""
        self.due_loop.start(self.runtime.app.spawn)

    async def stop(self) -> None:
        await self.due_loop.stop()

    # --- operations ------------------------------------------------------------------------------

    @operation("agents.swarm.get", get="/agents/swarm", response=Swarm, tags=TAGS)
    async def swarm(self) -> dict[str, Any]:
        """Totals by state and tier, queue depths, task counts and schedules."""
        return {**self.runtime.swarm(), "schedules": self.list_schedules()}

    @operation("agents.schedules.list", get=SCHEDULES, response=list[Schedule], tags=TAGS)
    def list_schedules(self) -> list[dict[str, Any]]:
        """OMNISCIENT's cron schedules."""
        return [_schedule(r) for r in self.db.all("SELECT * FROM agents_schedules ORDER BY created_at")]

    @operation("agents.schedule.create", post=SCHEDULES, body=ScheduleCreate, response=Schedule,
               status=201, tags=TAGS, errors=[404])  # 404: no such agent
    def create(self, agent: str, cron: str, params: dict[str, Any], priority: int = 0,
               name: str = "", enabled: bool = True) -> dict[str, Any]:
        """Run an agent task on a cron schedule (params are validated now)."""
        expr = _valid_cron(cron)
        slot, model = self.runtime.validate(agent, params)
        sid = uuid.uuid4().hex[:12]
        public, sealed = self._seal(sid, model)
        now = time.time()
        self.db.execute(
            "INSERT INTO agents_schedules(id, name, agent, cron, params, secrets, priority, enabled,"
            " next_run, created_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (sid, name, slot.agent.name.upper(), expr, json.dumps(public), sealed, priority,
             int(enabled), next_after(expr, now), now))
        self.due_loop.wake()
        return self.get(sid)

    @operation("agents.schedule.get", get=SCHEDULES + "/{schedule}", response=Schedule, tags=TAGS)
    def get_schedule(self, schedule: str) -> dict[str, Any]:
        """One schedule with its next and last run."""
        return self.get(schedule)

    @operation("agents.schedule.update", patch=SCHEDULES + "/{schedule}", body=ScheduleUpdate,
               response=Schedule, tags=TAGS)
    def update_schedule(self, schedule: str, body: ScheduleUpdate) -> dict[str, Any]:
        """Change a schedule; params sent back as GET shows them (secrets masked) keep the stored secrets."""
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        return self.update(schedule, changes)

    @operation("agents.schedule.delete", delete=SCHEDULES + "/{schedule}", tags=TAGS)
    def delete_schedule(self, schedule: str) -> None:
        """Remove a schedule (tasks it started are kept)."""
        self.get(schedule)
        self.db.execute("DELETE FROM agents_schedules WHERE id=?", (schedule,))

    # --- the stored schedules --------------------------------------------------------------------

    def update(self, sid: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the fields in ``changes``; new ``params`` replace the old ones, and a masked
        secret in them (an echo of GET) keeps the stored secret at that place."""
        row = self._row(sid)
        fields: dict[str, Any] = {}
        if "cron" in changes:
            fields["cron"] = _valid_cron(changes["cron"])
            fields["next_run"] = next_after(fields["cron"], time.time())
        if "params" in changes:
            stored = self._secrets(row, lost_ok=True)  # a lost secret must then be sent again
            params = secret_params.keep_stored(changes["params"], stored)
            _, model = self.runtime.validate(row["agent"], params)
            public, fields["secrets"] = self._seal(sid, model)
            fields["params"] = json.dumps(public)
        for key in ("name", "priority"):
            if key in changes:
                fields[key] = changes[key]
        if "enabled" in changes:
            fields["enabled"] = int(changes["enabled"])
        if fields:
            cols = ", ".join(f"{k}=?" for k in fields)
            self.db.execute(f"UPDATE agents_schedules SET {cols} WHERE id=?", (*fields.values(), sid))
            self.due_loop.wake()
        return self.get(sid)

    def get(self, sid: str) -> dict[str, Any]:
        """The schedule ``sid`` as the API shows it, or a 404."""
        return _schedule(self._row(sid))

    def _row(self, sid: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM agents_schedules WHERE id=?", (sid,))
        if row is None:
            raise APIError(404, "not_found", f"schedule {sid!r} does not exist", {"kind": "schedule", "name": sid})
        return row

    def _seal(self, sid: str, model: BaseModel) -> tuple[dict[str, Any], str | None]:
        public, secrets = secret_params.split(model, self.runtime.params_model_of)
        return public, secret_params.seal(secrets, self.sealer, _context(sid))

    def _secrets(self, row: dict[str, Any], lost_ok: bool = False) -> secret_params.Secrets:
        try:
            return secret_params.unseal(row["secrets"], self.sealer, _context(row["id"]))
        except SealError:
            if lost_ok:
                return []
            raise APIError(409, "secrets_unreadable",
                           f"the secrets of schedule {row['id']} do not open with the daemon's {KEY_FILE} "
                           "(it was lost or replaced): PATCH its params with the secrets again",
                           {"kind": "schedule", "name": row["id"]}) from None

    def _params(self, row: dict[str, Any]) -> dict[str, Any]:
        """The params a run gets: the stored dump with its secrets unsealed."""
        return secret_params.merge(json.loads(row["params"]), self._secrets(row))

    def run_due(self, now: float | None = None) -> list[str]:
        """Dispatch every enabled schedule whose time has come; return the task ids."""
        now = time.time() if now is None else now
        started = []
        for row in self.db.all("SELECT * FROM agents_schedules WHERE enabled=1 AND next_run <= ?", (now,)):
            next_run = next_after(row["cron"], now)
            try:
                task = self.runtime.dispatch(row["agent"], self._params(row), priority=row["priority"],
                                             source=f"schedule:{row['id']}")
                self.db.execute("UPDATE agents_schedules SET next_run=?, last_run=?, last_task=?, "
                                "last_error=NULL, runs=runs+1 WHERE id=?", (next_run, now, task["id"], row["id"]))
                started.append(task["id"])
            except APIError as exc:
                log.warning("schedule %s could not run: %s", row["id"], exc.message)
                self.db.execute("UPDATE agents_schedules SET next_run=?, last_run=?, last_error=? WHERE id=?",
                                (next_run, now, exc.message, row["id"]))
        return started

    def _next_due(self) -> float | None:
        row = self.db.one("SELECT min(next_run) AS t FROM agents_schedules WHERE enabled=1")
        return None if row is None else row["t"]


def _valid_cron(expr: str) -> str:
    try:
        return normalise(expr, seconds=True)
    except ValueError as exc:
        raise APIError(422, "invalid_cron", str(exc), {"cron": expr}) from None


def _context(sid: str) -> str:
    return f"agents_schedules:{sid}"


def _schedule(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "agent": row["agent"], "cron": row["cron"],
            "params": json.loads(row["params"]), "priority": row["priority"], "enabled": bool(row["enabled"]),
            "next_run": iso(row["next_run"]), "last_run": iso(row["last_run"]), "last_task": row["last_task"],
            "last_error": row["last_error"], "runs": row["runs"], "created_at": iso(row["created_at"])}
