"""OMNISCIENT: scheduler and swarm coordination, cron schedules for any agent task, swarm health."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..runtime import Runtime
from ..scheduler import Scheduler


class OmniscientParams(BaseModel):
    action: Literal["health", "list", "schedule", "unschedule"] = "health"
    agent: str | None = Field(None, max_length=64, description="schedule: the agent to run")
    cron: str | None = Field(None, max_length=200, description="schedule: 5 fields, or 6 with seconds last")
    params: dict[str, Any] = Field(default_factory=dict, description="schedule: the agent's params")
    priority: int = Field(0, ge=-100, le=100)
    name: str = Field("", max_length=100)
    schedule_id: str | None = Field(None, max_length=64, description="unschedule: which one")

    @model_validator(mode="after")
    def _needs(self) -> "OmniscientParams":
        if self.action == "schedule" and not (self.agent and self.cron):
            raise ValueError("action 'schedule' needs 'agent' and 'cron'")
        if self.action == "unschedule" and not self.schedule_id:
            raise ValueError("action 'unschedule' needs 'schedule_id'")
        return self


async def run_omniscient(ctx: JobContext, p: OmniscientParams) -> dict[str, Any]:
    runtime, scheduler = ctx.app.services[Runtime], ctx.app.services[Scheduler]
    if p.action == "schedule":
        assert p.agent is not None and p.cron is not None  # the model's validator saw to it
        return scheduler.create(p.agent, p.cron, p.params, p.priority, p.name)
    if p.action == "unschedule":
        assert p.schedule_id is not None
        scheduler.delete_schedule(p.schedule_id)
        return {"deleted": p.schedule_id}
    schedules = scheduler.list_schedules()
    if p.action == "list":
        return {"schedules": schedules}
    swarm = runtime.swarm()
    now = time.time()
    lagging = [s for s in schedules if s["enabled"] and s["next_run"]
               and datetime.fromisoformat(s["next_run"]).timestamp() < now - 60]
    recent = ctx.app.db.all("SELECT agent, state FROM agents_tasks WHERE finished_at > ?", (now - 3600,))
    failures: dict[str, list[int]] = {}
    for r in recent:
        f = failures.setdefault(r["agent"], [0, 0])
        f[1] += 1
        f[0] += r["state"] == "FAILED"
    failing = {a: {"failed": f, "finished": t} for a, (f, t) in failures.items() if f}
    errored = sorted(n for n, s in runtime.slots.items() if s.state == "error")
    return {"healthy": not errored and not lagging, "swarm": swarm, "agents_in_error": errored,
            "failures_last_hour": failing, "lagging_schedules": lagging, "schedules": len(schedules)}


OMNISCIENT = Agent(
    name="OMNISCIENT", tier="support", specialty="scheduler and swarm coordination",
    params_model=OmniscientParams, run=run_omniscient, concurrency=1, timeout=60,
    description="cron-like schedules for any agent task (persisted, run after restarts), swarm health")
