"""``/api/v1/agents``: the swarm, its agents, their tasks and schedules."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from sigmavault.api import Page, PageQuery
from sigmavault.app import get_app
from sigmavault.auth import identity

from .models import AgentInfo, Schedule, ScheduleCreate, ScheduleUpdate, Swarm, Task, TaskRequest, TaskState
from .state import runtime_of, scheduler_of


class TaskQuery(PageQuery):
    limit: int = Field(50, ge=1, le=1000)
    state: TaskState | None = None


class AllTasksQuery(TaskQuery):
    agent: str | None = Field(None, max_length=64)


def _user(request: web.Request) -> str | None:
    try:
        return identity(request).user
    except KeyError:
        return None


def register(app: Any) -> None:
    api = app.api

    @api.get("/agents", response=list[AgentInfo], tags=["agents"])
    async def list_agents(request: web.Request) -> list[dict]:
        """Every agent of the swarm with status, counters, owner plugin and params schema."""
        rt = runtime_of(get_app(request))
        return [rt.info(name) for name in rt.slots]

    @api.get("/agents/swarm", response=Swarm, tags=["agents"])
    async def swarm(request: web.Request) -> dict:
        """Totals by state and tier, queue depths, task counts and schedules."""
        sv = get_app(request)
        return {**runtime_of(sv).swarm(), "schedules": scheduler_of(sv).list()}

    @api.get("/agents/schedules", response=list[Schedule], tags=["agents"])
    async def list_schedules(request: web.Request) -> list[dict]:
        """OMNISCIENT's cron schedules."""
        return scheduler_of(get_app(request)).list()

    @api.post("/agents/schedules", body=ScheduleCreate, response=Schedule, status=201, tags=["agents"])
    async def create_schedule(request: web.Request, body: ScheduleCreate) -> dict:
        """Run an agent task on a cron schedule (params are validated now)."""
        return scheduler_of(get_app(request)).create(body.agent, body.cron, body.params, body.priority,
                                                     body.name, body.enabled)

    @api.get("/agents/schedules/{schedule}", response=Schedule, tags=["agents"])
    async def get_schedule(request: web.Request, schedule: str) -> dict:
        """One schedule with its next and last run."""
        return scheduler_of(get_app(request)).get(schedule)

    @api.patch("/agents/schedules/{schedule}", body=ScheduleUpdate, response=Schedule, tags=["agents"])
    async def update_schedule(request: web.Request, schedule: str, body: ScheduleUpdate) -> dict:
        """Change a schedule; params sent back as GET shows them (secrets masked) keep the stored secrets."""
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        return scheduler_of(get_app(request)).update(schedule, changes)

    @api.delete("/agents/schedules/{schedule}", tags=["agents"])
    async def delete_schedule(request: web.Request, schedule: str) -> None:
        """Remove a schedule (tasks it started are kept)."""
        scheduler_of(get_app(request)).delete(schedule)

    @api.get("/agents/tasks", query=AllTasksQuery, response=Page[Task], tags=["agents"])
    async def all_tasks(request: web.Request, query: AllTasksQuery) -> dict:
        """Task history of the whole swarm, newest first."""
        rt = runtime_of(get_app(request))
        agent = rt.slot(query.agent).agent.name.upper() if query.agent else None
        items, total = rt.tasks(agent, query.limit, query.offset, query.state)
        return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}

    @api.get("/agents/tasks/{task}", response=Task, tags=["agents"])
    async def get_task(request: web.Request, task: str) -> dict:
        """One task: state, params, result or error, queue and run times."""
        return runtime_of(get_app(request)).task(task)

    @api.delete("/agents/tasks/{task}", response=Task, status=202, tags=["agents"])
    async def cancel_task(request: web.Request, task: str) -> dict:
        """Cancel a waiting or running task; it ends ABORTED (409 if it already finished)."""
        rt = runtime_of(get_app(request))
        rt.cancel(task)
        return await rt.wait(task, 5)

    @api.get("/agents/{id}", response=AgentInfo, tags=["agents"])
    async def get_agent(request: web.Request, id: str) -> dict:
        """One agent (name is case-insensitive)."""
        return runtime_of(get_app(request)).info(id)

    @api.post("/agents/{id}/task", body=TaskRequest, response=Task, status=202, tags=["agents"])
    async def dispatch(request: web.Request, id: str, body: TaskRequest) -> dict:
        """Dispatch a task to an agent: params are validated (422) and paths checked (400/404) before it
        queues; the answer is the task, whose id is also its job id (``/api/v1/jobs/{id}``)."""
        return await runtime_of(get_app(request)).submit(id, body.params, priority=body.priority,
                                                          source="api", created_by=_user(request))

    @api.get("/agents/{id}/tasks", query=TaskQuery, response=Page[Task], tags=["agents"])
    async def agent_tasks(request: web.Request, id: str, query: TaskQuery) -> dict:
        """The agent's task history, newest first."""
        rt = runtime_of(get_app(request))
        items, total = rt.tasks(rt.slot(id).agent.name.upper(), query.limit, query.offset, query.state)
        return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}
