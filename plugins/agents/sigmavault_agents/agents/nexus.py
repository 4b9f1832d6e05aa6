"""NEXUS: cold-data report, data not read or modified for N days, per folder."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import cold
from .common import Located, in_thread, where


class NexusParams(Located):
    days: float = Field(90, gt=0, le=36500, description="idle for at least this many days")
    top: int = Field(20, ge=1, le=1000)


async def run_nexus(ctx: JobContext, p: NexusParams) -> dict[str, Any]:
    return await in_thread(ctx, cold.cold_report, await where(ctx, p), p.days, p.top)


NEXUS = Agent(
    name="NEXUS", tier="core", specialty="cold-data report", params_model=NexusParams, run=run_nexus,
    concurrency=2, description="data not read or modified for N days, per folder")
