"""API and event models of the swarm."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from sigmavault.api import PageQuery
from sigmavault.schedule import cron_pattern

AgentState = Literal["idle", "busy", "error"]
TaskState = Literal["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"]


class Counters(BaseModel):
    tasks_done: int = 0
    tasks_failed: int = 0
    tasks_aborted: int = 0
    mean_duration: float | None = Field(None, description="mean seconds of finished tasks")
    last_active: str | None = None


class AgentInfo(BaseModel):
    id: str
    name: str
    tier: str
    specialty: str
    description: str
    owner: str = Field(description="the plugin that registered the agent")
    status: AgentState
    running: int
    queued: int
    concurrency: int
    timeout: float | None
    retries: int
    tags: list[str]
    counters: Counters
    params_schema: dict[str, Any]


class TaskRequest(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, description="validated by the agent's params schema")
    priority: int = Field(0, ge=-100, le=100, description="higher runs first when the agent is busy")


class TaskQuery(PageQuery):
    limit: int = Field(50, ge=1, le=1000)
    state: TaskState | None = None


class AllTasksQuery(TaskQuery):
    agent: str | None = Field(None, max_length=64)


class Task(BaseModel):
    id: str = Field(description="task id; the same id names its job at /api/v1/jobs/{id}")
    job_id: str
    agent: str
    state: TaskState
    priority: int
    params: dict[str, Any]
    source: str
    created_by: str | None = None
    attempts: int
    result: Any = None
    error: str | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    queue_seconds: float | None = None
    duration: float | None = None
    progress: dict[str, Any] | None = None


class AgentStatusEvent(BaseModel):
    agent: str
    state: AgentState
    previous: AgentState
    owner: str
    tier: str
    running: int
    queued: int
    task_id: str | None = None


CRON_DESCRIPTION = "5 fields (min hour dom month dow) or 6 with seconds last"

CRON_PATTERN = cron_pattern(seconds=True)
CRON: dict[str, Any] = {"description": CRON_DESCRIPTION, "json_schema_extra": {"pattern": CRON_PATTERN}}
SECRETS_DESCRIPTION = ("validated by the agent's params schema; its secrets are stored sealed and shown as "
                       "'**********'")


class ScheduleCreate(BaseModel):
    agent: str = Field(min_length=1, max_length=64)
    cron: str = Field(min_length=9, max_length=200, **CRON)
    params: dict[str, Any] = Field(default_factory=dict, description=SECRETS_DESCRIPTION)
    priority: int = Field(0, ge=-100, le=100)
    name: str = Field("", max_length=100)
    enabled: bool = True


class ScheduleUpdate(BaseModel):
    """Fields left out keep their value."""
    cron: str | None = Field(None, min_length=9, max_length=200, **CRON)
    params: dict[str, Any] | None = Field(
        None, description="replace the params; a secret sent as '**********' keeps the stored secret")
    priority: int | None = Field(None, ge=-100, le=100)
    name: str | None = Field(None, max_length=100)
    enabled: bool | None = None


class Schedule(BaseModel):
    id: str
    name: str
    agent: str
    cron: str
    params: dict[str, Any]
    priority: int
    enabled: bool
    next_run: str | None
    last_run: str | None = None
    last_task: str | None = None
    last_error: str | None = None
    runs: int = 0
    created_at: str


class TierTotals(BaseModel):
    agents: int = 0
    running: int = 0
    queued: int = 0


class Swarm(BaseModel):
    agents: int
    by_state: dict[str, int]
    by_tier: dict[str, TierTotals]
    queues: dict[str, int] = Field(description="waiting tasks per agent (only non-empty queues)")
    running: int
    queued: int
    tasks: dict[str, int] = Field(description="task history counts by task state")
    schedules: list[Schedule]
