"""Data protection tasks: periodic snapshots with retention, scrubs, SMART self-tests and MIRROR
replication, each on a cron schedule, with its runs (state, job, result, error) kept as history.

A task is stored in ``storage_protection_tasks``; a loop started in :meth:`start` runs the enabled
tasks whose ``next_run`` has passed, each run as one job (``storage.protection.<kind>``) holding a
lock per target, and records it in ``storage_protection_runs``. A run that would overlap the
task's previous run, still active, is recorded as ``skipped``. A task whose time passed while the
daemon was down runs once at the next start, then follows its schedule from then on.

Snapshot tasks name their snapshots with a strftime schema (UTC) and prune with HARBOR's
retention planner, limited to the snapshots whose names parse with that schema, so snapshots
made by hand are never pruned. Scrub and SMART runs start the storage service's own jobs and
wait for them; replication runs MIRROR in-process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ValidationError

from sigmavault import operation
from sigmavault.api import validation_error
from sigmavault.errors import APIError, conflict, not_found
from sigmavault.jobs import FINISHED, JobAborted, JobState
from sigmavault.schedule import DueLoop, next_after, normalise, upcoming

from .agents.harbor import HarborParams, preview_volume
from .agents.mirror import MirrorParams, run_mirror
from .disks import DiskService
from .maintenance import MaintenanceService
from .pools import PoolService
from .protection_models import (PARAMS, ProtectionRun, ProtectionTask, RunPage, RunsQuery,
                                SchedulePreview, ScheduleTimes, SnapshotTaskParams, TaskCreate,
                                TaskListQuery, TaskUpdate)

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault
    from sigmavault.jobs import JobContext

log = logging.getLogger("sigmavault.storage.protection")

TASKS = "/storage/protection/tasks"
T = TASKS + "/{task}"
TAGS = ["storage", "protection"]


_JOB_STATE = {JobState.SUCCESS: "success", JobState.FAILED: "failed", JobState.ABORTED: "aborted"}


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def check_schedule(expr: str, field: str = "schedule") -> str:
    """``expr`` normalised, or a 422 naming ``field``."""
    try:
        return normalise(expr)
    except ValueError as exc:
        raise APIError(422, "invalid_schedule", f"{field}: {exc}", {"field": field}) from None


def _field_error(status: int, code: str, message: str, field: str, **details: Any) -> APIError:
    return APIError(status, code, message, {"field": field, **details})


def target_of(kind: str, p: dict[str, Any]) -> str:
    if kind == "snapshot":
        return f"{p['pool']}/{p['volume']}"
    if kind == "scrub":
        return p["pool"]
    if kind == "smart_test":
        return p["disk"]
    return f"{p['pool']}/{p['volume']} → {p['target_pool']}/{p.get('target_volume') or p['volume']}"


def lock_of(kind: str, p: dict[str, Any]) -> str:
    """One run at a time per target; snapshot and replication runs share HARBOR's and MIRROR's
    locks, so an agent task on the same target waits for them (and they for it)."""
    if kind == "snapshot":
        return f"harbor:{p['pool']}"
    if kind == "replication":
        return f"mirror:{p['target_pool']}/{p.get('target_volume') or p['volume']}"
    if kind == "scrub":
        return f"protection:scrub:{p['pool']}"
    return f"protection:smart:{p['disk']}"


class ProtectionService:
    """The data protection tasks and their scheduler; ``app.services[ProtectionService]``."""

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app
        self.clock: Callable[[], float] = time.time   # the scheduler's "now" (a seam for tests)
        self.active: dict[str, str] = {}             # task id -> job id of its current run
        self.due_loop = DueLoop(self._tick, self._next_due, lambda: self.tick,
                                clock=lambda: self.clock(), name="protection scheduler")

    @property
    def db(self) -> Any:
        return self.app.db

    @property
    def tick(self) -> float:
        return self.app.services[PoolService].config.protection_tick

    async def start(self) -> None:
        self._reconcile()
        if self.tick > 0:
            self.due_loop.start(self.app.spawn)

    async def stop(self) -> None:
        await self.due_loop.stop()

    # --- operations ------------------------------------------------------------------------------

    @operation("storage.protection.tasks.list", get=TASKS, query=TaskListQuery,
               response=list[ProtectionTask], tags=TAGS,
               summary="Data protection tasks with their last and next run")
    async def list_tasks(self, kind: str | None = None) -> list[dict[str, Any]]:
        self._reconcile()
        if kind:
            rows = self.db.all("SELECT * FROM storage_protection_tasks WHERE kind=? "
                               "ORDER BY created_at, id", (kind,))
        else:
            rows = self.db.all("SELECT * FROM storage_protection_tasks ORDER BY created_at, id")
        return [self._task(r) for r in rows]

    @operation("storage.protection.task.create", post=TASKS, body=TaskCreate,
               response=ProtectionTask, status=201, tags=TAGS, errors=[404],
               summary="Create a snapshot, scrub, SMART test or replication task")
    async def create_task(self, body: TaskCreate) -> dict[str, Any]:
        expr = check_schedule(body.schedule)
        params = await self.validate_params(body.kind, body.params)
        tid = uuid.uuid4().hex[:12]
        now = _now_iso()
        self.db.execute(
            "INSERT INTO storage_protection_tasks(id, kind, name, params, schedule, enabled, "
            "next_run, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?)",
            (tid, body.kind, body.name, json.dumps(params), expr, int(body.enabled),
             next_after(expr, self.clock()), now, now))
        self.due_loop.wake()
        return self.get(tid)

    @operation("storage.protection.task.get", get=T, response=ProtectionTask, tags=TAGS,
               summary="One data protection task")
    async def get_task(self, task: str) -> dict[str, Any]:
        self._reconcile()
        return self.get(task)

    @operation("storage.protection.task.update", patch=T, body=TaskUpdate, response=ProtectionTask,
               tags=TAGS, summary="Change a task's schedule, params, name or enabled state")
    async def update_task(self, task: str, body: TaskUpdate) -> dict[str, Any]:
        row = self._row(task)
        changes = body.model_dump(exclude_unset=True)
        fields: dict[str, Any] = {}
        if changes.get("schedule") is not None:
            fields["schedule"] = check_schedule(changes["schedule"])
        if changes.get("params") is not None:
            fields["params"] = json.dumps(await self.validate_params(row["kind"], changes["params"]))
        if changes.get("name") is not None:
            fields["name"] = changes["name"]
        if changes.get("enabled") is not None:
            fields["enabled"] = int(changes["enabled"])
        if "schedule" in fields or fields.get("enabled") == 1 and not row["enabled"]:
            fields["next_run"] = next_after(fields.get("schedule", row["schedule"]), self.clock())
        if fields:
            fields["updated_at"] = _now_iso()
            cols = ", ".join(f"{k}=?" for k in fields)
            self.db.execute(f"UPDATE storage_protection_tasks SET {cols} WHERE id=?",
                            (*fields.values(), task))
            self.due_loop.wake()
        return self.get(task)

    @operation("storage.protection.task.delete", delete=T, tags=TAGS,
               summary="Delete a task and its history (a run in progress finishes)")
    async def delete_task(self, task: str) -> None:
        self._row(task)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM storage_protection_runs WHERE task_id=?", (task,))
            conn.execute("DELETE FROM storage_protection_tasks WHERE id=?", (task,))

    @operation("storage.protection.task.run", post=T + "/run", response=ProtectionRun, status=202,
               tags=TAGS, errors=[409],
               summary="Run a task now (202 with the run; 409 while its previous run is active)")
    async def run_now(self, task: str) -> dict[str, Any]:
        row = self._row(task)
        run = self.start_run(row, "manual")
        if run["state"] == "skipped":
            raise conflict(run["error"], code="task_running", run=run["id"],
                           job=self.active.get(task))
        return run

    @operation("storage.protection.task.runs", get=T + "/runs", query=RunsQuery, response=RunPage,
               tags=TAGS, summary="A task's runs, newest first")
    async def task_runs(self, task: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        self._row(task)
        self._reconcile()
        total = self.db.one("SELECT count(*) AS n FROM storage_protection_runs WHERE task_id=?",
                            (task,))["n"]
        rows = self.db.all("SELECT * FROM storage_protection_runs WHERE task_id=? ORDER BY id DESC "
                           "LIMIT ? OFFSET ?", (task, limit, offset))
        return {"items": [_run(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    @operation("storage.protection.schedule.preview", post="/storage/protection/schedule",
               body=SchedulePreview, response=ScheduleTimes, status=200, role="readonly", tags=TAGS,
               summary="Check a cron expression and list its next run times (UTC)")
    async def preview_schedule(self, schedule: str, count: int = 5) -> dict[str, Any]:
        expr = check_schedule(schedule)
        return {"schedule": expr, "next": [_iso(t) for t in upcoming(expr, self.clock(), count)]}

    # --- validation ------------------------------------------------------------------------------

    async def validate_params(self, kind: str, raw: dict[str, Any]) -> dict[str, Any]:
        """The params of a ``kind`` task, checked against the pools, volumes and disks there are
        (a 4xx naming the field, ``params.pool`` …, otherwise)."""
        model = PARAMS[kind]
        try:
            p: BaseModel = model.model_validate(raw)
        except ValidationError as exc:
            err = validation_error(exc, "params")
            for e in err.details["errors"]:
                e["loc"] = ["body", *e["loc"]]
            raise err from None
        d = p.model_dump(by_alias=False)
        if kind in ("snapshot", "scrub", "replication"):
            await self._pool(d["pool"], "params.pool")
        if kind in ("snapshot", "replication"):
            await self._volume(d["pool"], d["volume"], "params.volume")
        if kind == "snapshot":
            b = await self.app.services[PoolService].pool_backend(d["pool"])
            if not b.capabilities.get("snapshots"):
                raise _field_error(400, "not_supported", f"the {b.name} backend of pool "
                                   f"{d['pool']} does not support snapshots", "params.pool")
        if kind == "replication":
            await self._pool(d["target_pool"], "params.target_pool")
            if (d["target_pool"], d["target_volume"] or d["volume"]) == (d["pool"], d["volume"]):
                raise _field_error(422, "same_volume", "the target is the source volume itself: "
                                   "choose another pool or target volume", "params.target_pool")
        if kind == "smart_test":
            try:
                await self.app.services[DiskService].get_disk(d["disk"])
            except APIError as e:
                if e.status != 404:
                    raise
                raise _field_error(422, "unknown_disk", f"disk {d['disk']!r} does not exist",
                                   "params.disk") from None
        return d

    async def _pool(self, pool: str, field: str) -> None:
        try:
            await self.app.services[PoolService].pool_backend(pool)
        except APIError as e:
            if e.status != 404:
                raise
            raise _field_error(422, "unknown_pool", f"pool {pool!r} does not exist", field) from None

    async def _volume(self, pool: str, volume: str, field: str) -> None:
        names = {v["name"] for v in await self.app.call("storage.volumes.list", pool=pool)}
        if volume not in names:
            raise _field_error(422, "unknown_volume", f"volume {volume!r} does not exist in pool "
                               f"{pool}", field)

    # --- stored tasks and runs -------------------------------------------------------------------

    def _row(self, tid: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM storage_protection_tasks WHERE id=?", (tid,))
        if row is None:
            raise not_found("task", tid)
        return row

    def get(self, tid: str) -> dict[str, Any]:
        return self._task(self._row(tid))

    def _task(self, row: dict[str, Any]) -> dict[str, Any]:
        params = json.loads(row["params"])
        last = self.db.one("SELECT * FROM storage_protection_runs WHERE task_id=? ORDER BY id DESC "
                           "LIMIT 1", (row["id"],))
        runs = self.db.one("SELECT count(*) AS n FROM storage_protection_runs WHERE task_id=?",
                           (row["id"],))["n"]
        return {"id": row["id"], "kind": row["kind"], "name": row["name"],
                "target": target_of(row["kind"], params), "params": params,
                "schedule": row["schedule"], "enabled": bool(row["enabled"]),
                "next_run": _iso(row["next_run"]) if row["enabled"] else None,
                "last_run": _run(last) if last else None, "running": self._running(row["id"]),
                "runs": runs, "created_at": row["created_at"], "updated_at": row["updated_at"]}

    def _running(self, tid: str) -> bool:
        jid = self.active.get(tid)
        if jid is None:
            return False
        try:
            return self.app.jobs.get(jid).state not in FINISHED
        except APIError:
            return False

    def _record(self, tid: str, trigger: str, state: str, job_id: str | None = None,
                error: str | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO storage_protection_runs(task_id, trigger, state, job_id, started_at, "
            "finished_at, error) VALUES(?,?,?,?,?,?,?)",
            (tid, trigger, state, job_id, _now_iso(), None if state == "running" else _now_iso(),
             error))
        return int(cur.lastrowid)

    def _finish(self, run_id: int, state: str, result: Any = None, error: str | None = None) -> None:
        self.db.execute("UPDATE storage_protection_runs SET state=?, finished_at=?, result=?, "
                        "error=? WHERE id=? AND state='running'",
                        (state, _now_iso(), None if result is None else json.dumps(result, default=str),
                         error, run_id))

    def _reconcile(self) -> None:
        """Runs recorded as running whose job ended without telling us (cancelled while waiting
        for its lock, or the daemon died) take the job's end state."""
        for r in self.db.all("SELECT id, job_id FROM storage_protection_runs WHERE state='running'"):
            try:
                job = self.app.jobs.get(r["job_id"]) if r["job_id"] else None
            except APIError:
                job = None
            if job is None:
                self._finish(r["id"], "aborted", error="its job is gone")
            elif job.state in FINISHED:
                self._finish(r["id"], _JOB_STATE[job.state], job.result, job.error)

    def start_run(self, row: dict[str, Any], trigger: str) -> dict[str, Any]:
        """Start one run of the task ``row`` as a job, or record it as skipped while the task's
        previous run is still active. Returns the run."""
        tid, kind = row["id"], row["kind"]
        if self._running(tid):
            run_id = self._record(tid, trigger, "skipped", error=f"the previous run (job "
                                  f"{self.active[tid]}) is still running")
            return self._run_by_id(run_id)
        params = json.loads(row["params"])
        run_id = self._record(tid, trigger, "running")

        async def job(ctx: "JobContext") -> Any:
            try:
                result = await self._work(ctx, kind, params)
            except (asyncio.CancelledError, JobAborted):
                self._finish(run_id, "aborted", error="cancelled")
                raise
            except APIError as e:
                self._finish(run_id, "failed", error=e.message)
                raise
            except Exception as e:
                self._finish(run_id, "failed", error=f"{type(e).__name__}: {e}")
                raise
            self._finish(run_id, "success", result)
            return result

        target = target_of(kind, params)
        try:
            submitted = self.app.jobs.submit(
                f"storage.protection.{kind}", job, lock=lock_of(kind, params),
                params={"task": tid, "run": run_id, "kind": kind, "trigger": trigger, **params},
                description=f"{kind.replace('_', ' ')} task: {target}")
        except APIError as e:
            self._finish(run_id, "failed", error=e.message)
            return self._run_by_id(run_id)
        self.active[tid] = submitted.id
        self.db.execute("UPDATE storage_protection_runs SET job_id=? WHERE id=?", (submitted.id, run_id))
        return self._run_by_id(run_id)

    def _run_by_id(self, run_id: int) -> dict[str, Any]:
        return _run(self.db.one("SELECT * FROM storage_protection_runs WHERE id=?", (run_id,)))

    # --- the work of one run ---------------------------------------------------------------------

    async def _work(self, ctx: "JobContext", kind: str, p: dict[str, Any]) -> Any:
        if kind == "snapshot":
            return await self._snapshot(ctx, SnapshotTaskParams.model_validate(p))
        if kind == "scrub":
            job = await self.app.services[MaintenanceService].start_scrub(pool=p["pool"])
            return await self._wait(ctx, job.id, "scrub")
        if kind == "smart_test":
            interval = self.app.services[PoolService].config.protection_smart_poll_interval
            job = await self.app.services[DiskService].smart_test(
                disk=p["disk"], type=p["type"], wait=True, poll_interval=interval)
            return await self._wait(ctx, job.id, "SMART test")
        return await run_mirror(ctx, MirrorParams.model_validate(p))

    async def _wait(self, ctx: "JobContext", job_id: str, what: str) -> Any:
        ctx.log(f"{what} job {job_id} started")
        ctx.progress(description=f"{what}: job {job_id}")
        try:
            while True:
                job = await self.app.jobs.wait(job_id, timeout=1.0)
                if job.state in FINISHED:
                    break
                ctx.progress(percent=job.progress.percent, description=job.progress.description)
        except asyncio.CancelledError:
            try:
                self.app.jobs.cancel(job_id)
            except APIError:
                pass
            raise
        if job.state != JobState.SUCCESS:
            raise APIError(500, "job_failed", f"{what} job {job_id} {job.state.value.lower()}: "
                           f"{job.error}", {"job": job_id})
        return {"job": job_id, "result": job.result}

    async def _snapshot(self, ctx: "JobContext", p: SnapshotTaskParams) -> dict[str, Any]:
        app = self.app
        name = datetime.fromtimestamp(self.clock(), timezone.utc).strftime(p.naming_schema)
        existing = {s["name"] for s in await app.call("storage.snapshot.list", pool=p.pool,
                                                     volume=p.volume)}
        if name in existing:
            raise conflict(f"snapshot {p.pool}/{p.volume}@{name} already exists: the naming "
                           f"schema {p.naming_schema!r} gives one name per period; use a finer "
                           "schema (e.g. with %S) for more frequent runs", code="snapshot_exists")
        await app.call("storage.snapshot.create", pool=p.pool, volume=p.volume, name=name)
        ctx.log(f"created {p.pool}/{p.volume}@{name}")
        out: dict[str, Any] = {"snapshot": name, "kept": None, "deleted": []}
        if not p.retention.any():
            return out
        hp = HarborParams.model_validate({"action": "prune", "pool": p.pool, "volume": p.volume,
                                          "schema": p.naming_schema, **p.retention.model_dump()})
        plan = await preview_volume(app, hp, p.volume)
        out["kept"] = [k["snapshot"] for k in plan["keep"]]
        for old in plan["delete"]:
            ctx.check()
            await app.call("storage.snapshot.delete", pool=p.pool, volume=p.volume, snapshot=old)
            out["deleted"].append(old)
            ctx.log(f"retention deleted {p.pool}/{p.volume}@{old}")
        return out

    # --- the scheduler ---------------------------------------------------------------------------

    def run_due(self) -> list[dict[str, Any]]:
        """Start every enabled task whose next run has come; returns the runs."""
        now = self.clock()
        runs = []
        for row in self.db.all("SELECT * FROM storage_protection_tasks WHERE enabled=1 AND "
                               "next_run <= ? ORDER BY next_run", (now,)):
            self.db.execute("UPDATE storage_protection_tasks SET next_run=? WHERE id=?",
                            (next_after(row["schedule"], now), row["id"]))
            try:
                runs.append(self.start_run(row, "schedule"))
            except Exception:
                log.exception("protection task %s could not start", row["id"])
        return runs

    def _tick(self) -> None:
        self._reconcile()
        self.run_due()

    def _next_due(self) -> float | None:
        row = self.db.one("SELECT min(next_run) AS t FROM storage_protection_tasks "
                          "WHERE enabled=1")
        return None if row is None else row["t"]


def _run(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "task_id": row["task_id"], "trigger": row["trigger"],
            "state": row["state"], "job_id": row["job_id"], "started_at": row["started_at"],
            "finished_at": row["finished_at"],
            "result": json.loads(row["result"]) if row["result"] else None, "error": row["error"]}
