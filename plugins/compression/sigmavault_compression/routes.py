"""REST routes under ``/api/v1/compression``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sigmavault.api import Page
from sigmavault.auth import IDENTITY
from sigmavault.errors import APIError
from sigmavault.jobs import FINISHED, Job

from . import stats
from .models import CodecInfo, Deleted, JobRequest, JobsQuery, Stats
from .service import JOB_KIND, service
from .storage_ratios import storage_ratios


def _compression_job(app: Any, job_id: str) -> Job:
    job = app.jobs.get(job_id)
    if not job.kind.startswith(JOB_KIND + "."):
        raise APIError(404, "not_found", f"compression job {job_id!r} does not exist",
                       {"kind": "compression job", "name": job_id})
    return job


def register(app: Any) -> None:
    api = app.api

    @api.get("/compression/codecs", response=list[CodecInfo], tags=["compression"])
    async def list_codecs(request: web.Request) -> list[dict]:
        """Registered codecs with their levels, extension and magic bytes."""
        return [{"name": c.name, "description": c.description, "extension": c.extension,
                 "magic": c.magic.hex(), "multithreaded": c.multithreaded,
                 "levels": {"min": c.levels.min, "max": c.levels.max, "default": c.levels.default},
                 "plugin": getattr(app.registries["codecs"].get(c.name), "plugin", None)}
                for c in service(app).registry]

    @api.get("/compression/stats", response=Stats, tags=["compression"])
    async def get_stats(request: web.Request) -> dict:
        """Totals per codec (jobs, bytes, ratio, throughput) and on-disk ratios of pools/volumes."""
        available, ratios = await storage_ratios(app)
        totals = stats.totals(app.db)
        return {**totals, "storage_available": available, "storage": ratios,
                "available_codecs": service(app).registry.names()}

    @api.get("/compression/jobs", query=JobsQuery, response=Page[Job], tags=["compression"])
    async def list_jobs(request: web.Request, query: JobsQuery) -> dict:
        """Compression jobs, newest first."""
        items, total = app.jobs.list(state=query.state, kind=JOB_KIND, limit=query.limit,
                                     offset=query.offset)
        return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}

    @api.post("/compression/jobs", body=JobRequest, response=Job, status=202, tags=["compression"])
    async def create_job(request: web.Request, body: JobRequest) -> Job:
        """Start a compress, decompress/extract, recompress or verify job."""
        svc = service(app)
        plan = await svc.plan(body)
        identity = request.get(IDENTITY)
        return svc.submit(plan, created_by=getattr(identity, "user", None))

    @api.get("/compression/jobs/{id}", response=Job, tags=["compression"])
    async def get_job(request: web.Request, id: str) -> Job:
        """One compression job with its progress and result."""
        return _compression_job(app, id)

    @api.delete("/compression/jobs/{id}", response=Deleted, tags=["compression"])
    async def delete_job(request: web.Request, id: str) -> dict:
        """Cancel a waiting or running job; remove a finished one from the history."""
        job = _compression_job(app, id)
        if job.state in FINISHED:
            app.jobs.delete(id)
            return {"id": id, "action": "deleted", "state": job.state.value}
        app.jobs.cancel(id)
        job = await app.jobs.wait(id, timeout=10)
        return {"id": id, "action": "cancelled", "state": job.state.value}
