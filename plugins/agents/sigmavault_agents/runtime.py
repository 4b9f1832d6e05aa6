"""The swarm runtime: per-agent priority queues and concurrency, each task one core job.

:class:`Runtime` is a service (``app.services[Runtime]``) whose operations are the agents and
tasks routes of ``/api/v1/agents`` and the ``agents.*`` methods. A task is submitted as a job at once (so its id is known and it can be cancelled or awaited
through ``/api/v1/jobs``); inside the job it waits for a free slot of its agent, highest
priority first, then runs with the agent's timeout and retries. Task rows and per-agent
counters live in SQLite; ``agent.status`` is published on every idle/busy/error change.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import time
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sigmavault import operation, secret_params
from sigmavault.api import Page, validation_error
from sigmavault.auth import identity
from sigmavault.errors import APIError
from sigmavault.jobs import JobAborted, JobContext

from .models import AgentInfo, AllTasksQuery, Task, TaskQuery, TaskRequest, TaskState

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault
    from sigmavault.hookspecs import Agent

log = logging.getLogger("sigmavault.agents")

FINISHED = ("SUCCESS", "FAILED", "ABORTED")
TAGS = ["agents"]


def iso(ts: float | None) -> str | None:
    """Epoch seconds as RFC 3339 (UTC, milliseconds)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


class Slot:
    """One agent's runtime state: a priority queue in front of ``concurrency`` slots."""

    def __init__(self, agent: "Agent") -> None:
        self.agent = agent
        self.owner: str = getattr(agent, "plugin", "unknown")
        self.concurrency = max(1, int(agent.concurrency or 1))
        self.running = 0
        self.queued = 0
        self.state = "idle"
        self.last_failed = False
        self.params_model: type[BaseModel] = agent.params_model
        self.schema: dict[str, Any] | None = None
        self._waiters: list[tuple[int, int, asyncio.Future]] = []
        self._seq = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self.running < self.concurrency and self.queued == 0:
            self.running += 1
            return
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._seq), fut))
        self.queued += 1
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                self.queued -= 1
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                self.queued -= 1
                fut.set_result(None)  # hand the slot over: running stays the same
                return
        self.running -= 1


class Runtime:
    """Dispatches agent tasks; one per daemon, reached as ``app.services[Runtime]``.

    The agents are read from ``app.registries["agents"]`` by :meth:`load` when the daemon starts
    (registries are filled after services are registered).
    """

    def __init__(self, app: "SigmaVault", retry_backoff: float = 1.0, history: int = 10_000) -> None:
        self.app = app
        self.retry_backoff = retry_backoff
        self.history = history
        self.slots: dict[str, Slot] = {}
        self.loaded = False
        self._finished_since_prune = 0

    async def start(self) -> None:
        """Mark tasks a dead daemon left behind as interrupted, then give every agent a slot."""
        self.recover()
        self.load()

    def load(self) -> None:
        """A slot for every registered agent (names upper-cased)."""
        self.slots = {name.upper(): Slot(agent)
                      for name, agent in sorted(self.app.registries.get("agents", {}).items())}
        self.loaded = True

    # --- operations ------------------------------------------------------------------------------

    @operation("agents.list", get="/agents", response=list[AgentInfo], tags=TAGS)
    async def list_agents(self) -> list[dict[str, Any]]:
        """Every agent of the swarm with status, counters, owner plugin and params schema."""
        return [self.info(name) for name in self.slots]

    @operation("agents.get", get="/agents/{id}", response=AgentInfo, tags=TAGS)
    async def get_agent(self, id: str) -> dict[str, Any]:
        """One agent (name is case-insensitive)."""
        return self.info(id)

    @operation("agents.task.dispatch", post="/agents/{id}/task", body=TaskRequest, response=Task,
               status=202, tags=TAGS)
    async def dispatch_task(self, id: str, params: dict[str, Any], priority: int = 0,
                            request: web.Request | None = None) -> dict[str, Any]:
        """Dispatch a task to an agent: params are validated (422) and paths checked (400/404) before it
        queues; the answer is the task, whose id is also its job id (``/api/v1/jobs/{id}``)."""
        return await self.submit(id, params, priority=priority, source="api" if request else "call",
                                 created_by=_user(request))

    @operation("agents.tasks.list", get="/agents/tasks", query=AllTasksQuery, response=Page[Task],
               tags=TAGS, errors=[404])  # 404: no such agent
    async def list_tasks(self, agent: str | None = None, state: TaskState | None = None,
                         limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Task history of the whole swarm, newest first."""
        name = self.slot(agent).agent.name.upper() if agent else None
        items, total = self.tasks(name, limit, offset, state)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @operation("agents.agent.tasks", get="/agents/{id}/tasks", query=TaskQuery, response=Page[Task],
               tags=TAGS)
    async def agent_tasks(self, id: str, state: TaskState | None = None, limit: int = 50,
                          offset: int = 0) -> dict[str, Any]:
        """The agent's task history, newest first."""
        items, total = self.tasks(self.slot(id).agent.name.upper(), limit, offset, state)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @operation("agents.task.get", get="/agents/tasks/{task}", response=Task, tags=TAGS)
    async def get_task(self, task: str) -> dict[str, Any]:
        """One task: state, params, result or error, queue and run times."""
        return self.task(task)

    @operation("agents.task.cancel", delete="/agents/tasks/{task}", response=Task, status=202,
               tags=TAGS)
    async def cancel_task(self, task: str) -> dict[str, Any]:
        """Cancel a waiting or running task; it ends ABORTED (409 if it already finished)."""
        self.cancel(task)
        return await self.wait(task, 5)

    # --- lookups ---------------------------------------------------------------------------------

    def slot(self, name: str) -> Slot:
        """The agent named ``name`` (case-insensitive) or a 404 (a 503 before the swarm started)."""
        if not self.loaded:
            raise APIError(503, "swarm_not_ready", "the agent swarm is not started yet")
        slot = self.slots.get(name.upper())
        if slot is None:
            raise APIError(404, "not_found", f"agent {name!r} does not exist; GET /api/v1/agents lists them",
                           {"kind": "agent", "name": name})
        return slot

    def counters(self, name: str) -> dict[str, Any]:
        row = self.app.db.one("SELECT * FROM agents_counters WHERE agent=?", (name,)) or {}
        finished = row.get("done", 0) + row.get("failed", 0)
        return {"tasks_done": row.get("done", 0), "tasks_failed": row.get("failed", 0),
                "tasks_aborted": row.get("aborted", 0),
                "mean_duration": round(row["total_seconds"] / finished, 6) if finished else None,
                "last_active": iso(row.get("last_active"))}

    def info(self, name: str) -> dict[str, Any]:
        slot = self.slot(name)
        a = slot.agent
        if slot.schema is None:
            try:
                slot.schema = slot.params_model.model_json_schema()
            except Exception:  # a params model pydantic cannot describe still dispatches
                slot.schema = {}
        schema = slot.schema
        return {"id": a.name.upper(), "name": a.name, "tier": a.tier, "specialty": a.specialty,
                "description": a.description, "owner": slot.owner, "status": slot.state,
                "running": slot.running, "queued": slot.queued, "concurrency": slot.concurrency,
                "timeout": a.timeout, "retries": a.retries, "tags": list(a.tags),
                "counters": self.counters(a.name.upper()), "params_schema": schema}

    def task(self, task_id: str) -> dict[str, Any]:
        row = self.app.db.one("SELECT * FROM agents_tasks WHERE id=?", (task_id,))
        if row is None:
            raise APIError(404, "not_found", f"agent task {task_id!r} does not exist",
                           {"kind": "task", "name": task_id})
        out = _task(row)
        if out["state"] not in FINISHED:
            try:
                out["progress"] = self.app.jobs.get(task_id).progress.model_dump()
            except APIError:
                pass
        return out

    def tasks(self, agent: str | None, limit: int, offset: int, state: str | None = None
              ) -> tuple[list[dict[str, Any]], int]:
        where, args = [], []
        if agent:
            where.append("agent=?")
            args.append(agent)
        if state:
            where.append("state=?")
            args.append(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        counted = self.app.db.one(f"SELECT count(*) AS n FROM agents_tasks {clause}", args)
        total = counted["n"] if counted else 0
        rows = self.app.db.all(f"SELECT * FROM agents_tasks {clause} ORDER BY created_at DESC, rowid DESC "
                               "LIMIT ? OFFSET ?", (*args, limit, offset))
        return [_task(r) for r in rows], total

    # --- dispatch --------------------------------------------------------------------------------

    def validate(self, name: str, params: dict[str, Any]) -> tuple[Slot, BaseModel]:
        """The agent named ``name`` and its params model; 422 for bad params, and for a secret
        that is the display mask (an echo of output, which would seal data with the mask)."""
        slot = self.slot(name)
        try:
            model = slot.params_model.model_validate(params)
        except ValidationError as exc:
            raise validation_error(exc, "params") from None
        secret_params.refuse_masks(model, self.params_model_of)
        return slot, model

    def params_model_of(self, name: str) -> type[BaseModel] | None:
        """The params model of agent ``name``, None if there is none: secrets of params that carry
        another agent's params (a SYNAPSE step, an OMNISCIENT schedule) are found with it."""
        slot = self.slots.get(name.upper())
        return slot.params_model if slot is not None else None

    def dispatch(self, name: str, params: dict[str, Any] | None = None, *, priority: int = 0,
                 source: str = "api", created_by: str | None = None) -> dict[str, Any]:
        """Validate ``params`` and queue a task; returns the task (state WAITING)."""
        slot, model = self.validate(name, params or {})
        return self._enqueue(slot, model, priority, source, created_by)

    async def submit(self, name: str, params: dict[str, Any] | None = None, *, priority: int = 0,
                     source: str = "api", created_by: str | None = None) -> dict[str, Any]:
        """Like :meth:`dispatch`, and first run the params' async ``preflight(app)`` if it has one
        (paths resolved, confirmations checked), so bad input is refused before anything queues."""
        slot, model = self.validate(name, params or {})
        preflight = getattr(model, "preflight", None)
        if preflight is not None:
            await preflight(self.app)
        return self._enqueue(slot, model, priority, source, created_by)

    def _enqueue(self, slot: Slot, model: BaseModel, priority: int, source: str,
                 created_by: str | None) -> dict[str, Any]:
        agent = slot.agent
        name = agent.name.upper()
        lock = agent.lock(model) if agent.lock else None
        dumped, _ = secret_params.split(model, self.params_model_of)  # records keep secrets masked
        created = time.time()
        job = self.app.jobs.submit(
            f"agent.{name}", partial(self._execute, slot, model, priority, created),
            params={"agent": name, "params": dumped, "priority": priority}, lock=lock,
            description=f"{name}: {agent.specialty}", owner=slot.owner, created_by=created_by)
        self.app.db.execute(
            "INSERT INTO agents_tasks(id, agent, state, priority, params, source, created_by, created_at)"
            " VALUES(?,?,?,?,?,?,?,?)",
            (job.id, name, "WAITING", priority, json.dumps(dumped), source, created_by, created))
        return self.task(job.id)

    def cancel(self, task_id: str) -> dict[str, Any]:
        task = self.task(task_id)
        if task["state"] in FINISHED:
            raise APIError(409, "task_finished", f"task {task_id} already finished ({task['state']})")
        self.app.jobs.cancel(task_id)
        return task

    async def wait(self, task_id: str, timeout: float | None = None) -> dict[str, Any]:
        await self.app.jobs.wait(task_id, timeout)
        return self.task(task_id)

    async def _execute(self, slot: Slot, model: BaseModel, priority: int, created: float,
                       ctx: JobContext) -> Any:
        agent = slot.agent
        try:
            ctx.progress(description=f"queued behind {slot.queued} task(s)" if slot.queued
                         or slot.running >= slot.concurrency else "starting")
            await slot.acquire(priority)
        except asyncio.CancelledError:
            self._finish(slot, ctx.job_id, "ABORTED", None, "cancelled while queued", None, 0)
            raise
        started = time.time()
        self.app.db.execute("UPDATE agents_tasks SET state='RUNNING', started_at=? WHERE id=?",
                            (started, ctx.job_id))
        self._set_state(slot, ctx.job_id)
        state, result, error, attempts = "FAILED", None, None, 0
        try:
            for attempt in range(agent.retries + 1):
                attempts = attempt + 1
                try:
                    result = await self._attempt(agent, model, ctx)
                    state, error = "SUCCESS", None
                    break
                except (asyncio.CancelledError, JobAborted):
                    raise
                except Exception as exc:
                    error = exc.message if isinstance(exc, APIError) else f"{type(exc).__name__}: {exc}"
                    retryable = not (isinstance(exc, APIError) and exc.status < 500)
                    if attempt >= agent.retries or not retryable:
                        raise
                    delay = min(60.0, self.retry_backoff * 2 ** attempt)
                    ctx.log(f"attempt {attempts} failed: {error}; retrying in {delay:g} s")
                    await asyncio.sleep(delay)
            return result
        except (asyncio.CancelledError, JobAborted):
            state, error = "ABORTED", "cancelled"
            raise
        except Exception as exc:
            error = exc.message if isinstance(exc, APIError) else f"{type(exc).__name__}: {exc}"
            raise
        finally:
            slot.release()
            self._finish(slot, ctx.job_id, state, result, error, started, attempts)

    async def _attempt(self, agent: "Agent", model: BaseModel, ctx: JobContext) -> Any:
        if agent.timeout is None:
            return await agent.run(ctx, model)
        try:
            return await asyncio.wait_for(agent.run(ctx, model), agent.timeout)
        except asyncio.TimeoutError:
            raise APIError(504, "agent_timeout",
                           f"{agent.name} did not finish within {agent.timeout:g} s") from None

    def _finish(self, slot: Slot, task_id: str, state: str, result: Any, error: str | None,
                started: float | None, attempts: int) -> None:
        finished = time.time()
        name = slot.agent.name.upper()
        try:
            encoded = None if result is None else json.dumps(result, default=str)
        except (TypeError, ValueError):
            encoded = json.dumps(str(result))
        duration = finished - started if started is not None else 0.0
        column = {"SUCCESS": "done", "FAILED": "failed", "ABORTED": "aborted"}[state]
        with self.app.db.transaction() as conn:
            conn.execute("UPDATE agents_tasks SET state=?, result=?, error=?, finished_at=?, attempts=? "
                         "WHERE id=?", (state, encoded, error, finished, attempts, task_id))
            timed = state != "ABORTED" and started is not None
            conn.execute(
                f"INSERT INTO agents_counters(agent, {column}, total_seconds, last_active) VALUES(?,1,?,?) "
                f"ON CONFLICT(agent) DO UPDATE SET {column}={column}+1, "
                "total_seconds=total_seconds+excluded.total_seconds, last_active=excluded.last_active",
                (name, duration if timed else 0.0, finished))
        if started is not None:
            if state != "ABORTED":
                slot.last_failed = state == "FAILED"
            self._set_state(slot, task_id)
        self._finished_since_prune += 1
        if self._finished_since_prune >= 500:
            self._finished_since_prune = 0
            self.prune()

    def _set_state(self, slot: Slot, task_id: str | None) -> None:
        new = "busy" if slot.running > 0 else "error" if slot.last_failed else "idle"
        if new == slot.state:
            return
        previous, slot.state = slot.state, new
        try:
            self.app.events.publish("agent.status", {
                "agent": slot.agent.name.upper(), "state": new, "previous": previous, "owner": slot.owner,
                "tier": slot.agent.tier, "running": slot.running, "queued": slot.queued, "task_id": task_id})
        except Exception:
            log.exception("could not publish agent.status")

    # --- housekeeping ----------------------------------------------------------------------------

    def recover(self) -> int:
        """Mark tasks left WAITING/RUNNING by a dead daemon as ABORTED (interrupted)."""
        cur = self.app.db.execute(
            "UPDATE agents_tasks SET state='ABORTED', error='interrupted: the daemon stopped', "
            "finished_at=? WHERE state IN ('WAITING','RUNNING')", (time.time(),))
        return cur.rowcount

    def prune(self) -> None:
        self.app.db.execute(
            "DELETE FROM agents_tasks WHERE state IN ('SUCCESS','FAILED','ABORTED') AND id NOT IN "
            "(SELECT id FROM agents_tasks ORDER BY created_at DESC LIMIT ?)", (self.history,))

    def swarm(self) -> dict[str, Any]:
        by_state = {"idle": 0, "busy": 0, "error": 0}
        by_tier: dict[str, dict[str, int]] = {}
        queues: dict[str, int] = {}
        for name, slot in self.slots.items():
            by_state[slot.state] = by_state.get(slot.state, 0) + 1
            tier = by_tier.setdefault(slot.agent.tier, {"agents": 0, "running": 0, "queued": 0})
            tier["agents"] += 1
            tier["running"] += slot.running
            tier["queued"] += slot.queued
            if slot.queued:
                queues[name] = slot.queued
        tasks = {r["state"]: r["n"] for r in self.app.db.all(
            "SELECT state, count(*) AS n FROM agents_tasks GROUP BY state")}
        return {"agents": len(self.slots), "by_state": by_state, "by_tier": by_tier, "queues": queues,
                "running": sum(s.running for s in self.slots.values()),
                "queued": sum(s.queued for s in self.slots.values()), "tasks": tasks}


def _user(request: web.Request | None) -> str | None:
    """The user acting through ``request`` (None for ``app.call`` and unauthenticated calls)."""
    if request is None:
        return None
    try:
        return identity(request).user
    except KeyError:
        return None


def _task(row: dict[str, Any]) -> dict[str, Any]:
    started, created, finished = row["started_at"], row["created_at"], row["finished_at"]
    return {
        "id": row["id"], "job_id": row["id"], "agent": row["agent"], "state": row["state"],
        "priority": row["priority"], "params": json.loads(row["params"]), "source": row["source"],
        "created_by": row["created_by"], "attempts": row["attempts"],
        "result": json.loads(row["result"]) if row["result"] else None, "error": row["error"],
        "created_at": iso(created), "started_at": iso(started), "finished_at": iso(finished),
        "queue_seconds": round(started - created, 6) if started else None,
        "duration": round(finished - started, 6) if started and finished else None,
    }
