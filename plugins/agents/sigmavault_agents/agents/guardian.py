"""GUARDIAN: permission audit, world-writable files, setuid/setgid, unexpected owners."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import perms
from .common import Located, in_thread, where


class GuardianParams(Located):
    allowed_uids: list[int] | None = Field(None, description="owners that are expected (default: root "
                                           "and the owner of the target)")
    limit: int = Field(1000, ge=1, le=100_000, description="findings returned at most")


async def run_guardian(ctx: JobContext, p: GuardianParams) -> dict[str, Any]:
    return await in_thread(ctx, perms.permission_audit, await where(ctx, p), p.allowed_uids, p.limit)


GUARDIAN = Agent(
    name="GUARDIAN", tier="security", specialty="permission audit", params_model=GuardianParams,
    run=run_guardian, concurrency=2,
    description="world-writable entries, setuid/setgid files, unexpected owners")
