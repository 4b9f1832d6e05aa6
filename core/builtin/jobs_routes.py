"""REST access to jobs: list, get, logs, wait, cancel."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from sigmavault import hookimpl
from sigmavault.api import Page, PageQuery
from sigmavault.app import get_app
from sigmavault.jobs import Job, JobState


class JobQuery(PageQuery):
    state: JobState | None = None
    kind: str | None = Field(None, max_length=128, description="kind, or a prefix like 'storage.*'")


class WaitQuery(BaseModel):
    timeout: float = Field(30, ge=0, le=60)


class JobLog(BaseModel):
    ts: str
    message: str


@hookimpl
def register_routes(app: Any) -> None:
    @app.api.get("/jobs", query=JobQuery, response=Page[Job], tags=["jobs"])
    async def list_jobs(request: web.Request, query: JobQuery) -> dict:
        """Jobs, newest first, filtered by state and kind."""
        items, total = get_app(request).jobs.list(query.state.value if query.state else None,
                                                  query.kind, query.limit, query.offset)
        return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}

    @app.api.get("/jobs/{job_id}", response=Job, tags=["jobs"])
    async def get_job(request: web.Request, job_id: str) -> Job:
        """One job with its state, progress and result."""
        return get_app(request).jobs.get(job_id)

    @app.api.get("/jobs/{job_id}/logs", response=list[JobLog], tags=["jobs"])
    async def job_logs(request: web.Request, job_id: str) -> list:
        """The job's log lines."""
        return get_app(request).jobs.logs(job_id)

    @app.api.get("/jobs/{job_id}/wait", query=WaitQuery, response=Job, tags=["jobs"])
    async def wait_job(request: web.Request, job_id: str, query: WaitQuery) -> Job:
        """Wait up to ``timeout`` seconds for the job to finish, then return it."""
        return await get_app(request).jobs.wait(job_id, query.timeout)

    @app.api.post("/jobs/{job_id}/cancel", response=Job, status=202, tags=["jobs"],
                  errors=[409])  # already finished
    async def cancel_job(request: web.Request, job_id: str) -> Job:
        """Ask a waiting or running job to stop; it ends ABORTED."""
        sv = get_app(request)
        sv.jobs.cancel(job_id)
        return await sv.jobs.wait(job_id, 5)
