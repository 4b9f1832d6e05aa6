"""Agent MESH: mesh health — handshake ages, traffic, unreachable and stale peers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..service import MeshService


class MeshParams(BaseModel):
    max_handshake_age: float = Field(180.0, gt=0, le=86400, description="older = unhealthy")


async def run_mesh(ctx: JobContext, params: MeshParams) -> dict[str, Any]:
    report = await ctx.app.services[MeshService].check_health()
    stale = [p["peer"] for p in report["peers"]
             if p["last_handshake_age"] is None or p["last_handshake_age"] > params.max_handshake_age]
    report["stale"] = stale
    report["healthy"] = report["running"] and not stale
    return report


AGENT = Agent(
    name="MESH", tier="support", specialty="mesh health: handshake ages, unreachable peers, "
    "network.event", params_model=MeshParams, run=run_mesh, timeout=60.0, concurrency=2,
    description="Reads the WireGuard device, reports per-peer handshake age and traffic, "
    "lists unreachable peers and publishes network.event on up/down changes.",
    tags=["network", "health"])
