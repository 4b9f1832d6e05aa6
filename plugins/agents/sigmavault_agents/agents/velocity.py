"""VELOCITY: throughput test, write then read N MiB (fsync'd) inside a volume."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import throughput
from .common import Located, in_thread, where


class VelocityParams(Located):
    size_mib: int = Field(64, ge=1, le=65536, description="MiB written then read back")
    block_kib: int = Field(1024, ge=4, le=65536, description="I/O block size in KiB")


async def run_velocity(ctx: JobContext, p: VelocityParams) -> dict[str, Any]:
    return await in_thread(ctx, throughput.throughput, await where(ctx, p), p.size_mib, p.block_kib)


VELOCITY = Agent(
    name="VELOCITY", tier="core", specialty="throughput test", params_model=VelocityParams,
    run=run_velocity, concurrency=1, timeout=1800,
    description="write then read N MiB (fsync'd, page cache dropped) inside a volume; MB/s")
