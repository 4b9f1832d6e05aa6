"""Agent HELIX: federation — the status of every node peer, fetched over the mesh."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..service import MeshService


class HelixParams(BaseModel):
    pass


async def run_helix(ctx: JobContext, params: HelixParams) -> dict[str, Any]:
    svc = ctx.app.services[MeshService]
    nodes = await svc.federation()
    return {"node": svc.cfg.node_name, "nodes": nodes,
            "reachable": sum(n["reachable"] for n in nodes), "total": len(nodes)}


AGENT = Agent(
    name="HELIX", tier="support", specialty="federation: gather status from the SigmaVault "
    "APIs of mesh peers", params_model=HelixParams, run=run_helix, timeout=120.0,
    description="Calls every node peer's signed status endpoint over the mesh addresses and "
    "aggregates reachability, latency and status.", tags=["network", "federation"])
