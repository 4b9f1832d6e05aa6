"""Request and response models of the data protection tasks (``protection.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sigmavault.errors import APIError
from sigmavault.schedule import cron_pattern
from sigmavault.validation import Name, check_name

from .agents.mirror import MirrorParams



TaskKind = Literal["snapshot", "scrub", "smart_test", "replication"]
RunState = Literal["running", "success", "failed", "aborted", "skipped"]

SCHEDULE_DESCRIPTION = ("cron expression, 5 fields (minute hour day-of-month month day-of-week), "
                        "in UTC: '0 * * * *' hourly, '30 2 * * *' every day at 02:30, "
                        "'0 3 * * 0' Sundays at 03:00, '0 4 1 * *' the 1st of every month at 04:00")


class Retention(BaseModel):
    """How many automatic snapshots to keep. Every rule keeps the newest snapshot of each of its
    newest N periods; a snapshot any rule keeps stays. All zero: keep every snapshot."""

    model_config = ConfigDict(extra="forbid")
    keep_last: int = Field(0, ge=0, le=100_000, description="the newest N, whatever their age")
    hourly: int = Field(0, ge=0, le=100_000)
    daily: int = Field(0, ge=0, le=100_000)
    weekly: int = Field(0, ge=0, le=100_000)
    monthly: int = Field(0, ge=0, le=100_000)
    yearly: int = Field(0, ge=0, le=100_000)

    def any(self) -> bool:
        return any(self.model_dump().values())


class SnapshotTaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pool: Name
    volume: Name
    naming_schema: str = Field("auto-%Y%m%d-%H%M", min_length=1, max_length=64,
                               description="strftime schema of the snapshot names (UTC); only "
                               "snapshots whose names parse with it are pruned, never others")
    retention: Retention = Field(default_factory=Retention)

    @field_validator("naming_schema")
    @classmethod
    def _schema(cls, v: str) -> str:
        if "%" not in v:
            raise ValueError("the schema must contain a time field such as %Y%m%d-%H%M, or every "
                             "run would try the same name")
        try:
            name = datetime(2026, 1, 2, 3, 4, 5).strftime(v)
            check_name(name, "snapshot name from schema")
            datetime.strptime(name, v)
        except APIError as e:
            raise ValueError(e.message) from None
        except ValueError as e:
            raise ValueError(f"names made by this schema do not parse back with it: {e}") from None
        return v


class ScrubTaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pool: Name


class SmartTaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disk: Name
    type: Literal["short", "long", "conveyance", "offline"] = "short"


PARAMS: dict[str, type[BaseModel]] = {
    "snapshot": SnapshotTaskParams,
    "scrub": ScrubTaskParams,
    "smart_test": SmartTaskParams,
    "replication": MirrorParams,
}

SCHEDULE_PATTERN = cron_pattern()
SCHEDULE: dict[str, Any] = {"description": SCHEDULE_DESCRIPTION, "json_schema_extra": {"pattern": SCHEDULE_PATTERN}}

PARAMS_DESCRIPTION = ("by kind — snapshot: {pool, volume, naming_schema, retention: {keep_last, "
                      "hourly, daily, weekly, monthly, yearly}}; scrub: {pool}; smart_test: "
                      "{disk, type: short|long|conveyance|offline}; replication: MIRROR's params "
                      "{pool, volume, target_pool, target_volume, match, method}")


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TaskKind
    schedule: str = Field(min_length=1, max_length=200, **SCHEDULE)
    params: dict[str, Any] = Field(description=PARAMS_DESCRIPTION)
    enabled: bool = True
    name: str = Field("", max_length=100, description="a label (default: none)")


class TaskUpdate(BaseModel):
    """Fields left out keep their value; ``params`` replaces the params (the kind stays)."""

    model_config = ConfigDict(extra="forbid")
    schedule: str | None = Field(None, min_length=1, max_length=200, **SCHEDULE)
    params: dict[str, Any] | None = Field(None, description=PARAMS_DESCRIPTION)
    enabled: bool | None = None
    name: str | None = Field(None, max_length=100)


class TaskListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TaskKind | None = None


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ProtectionRun(BaseModel):
    id: int
    task_id: str
    trigger: Literal["schedule", "manual"]
    state: RunState
    job_id: str | None = None
    started_at: str
    finished_at: str | None = None
    result: Any = None
    error: str | None = None


class RunPage(BaseModel):
    items: list[ProtectionRun]
    total: int
    limit: int
    offset: int


class ProtectionTask(BaseModel):
    id: str
    kind: TaskKind
    name: str
    target: str = Field(description="what the task works on, e.g. tank/data, tank, sda, "
                        "tank/data → backup/data")
    params: dict[str, Any]
    schedule: str
    enabled: bool
    next_run: str | None = Field(description="when the scheduler runs it next (null: disabled)")
    last_run: ProtectionRun | None = None
    running: bool = Field(False, description="a run of this task is active now")
    runs: int = 0
    created_at: str
    updated_at: str


class SchedulePreview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedule: str = Field(min_length=1, max_length=200, **SCHEDULE)
    count: int = Field(5, ge=1, le=50)


class ScheduleTimes(BaseModel):
    schedule: str
    next: list[str]
