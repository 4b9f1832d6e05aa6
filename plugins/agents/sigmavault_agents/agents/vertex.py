"""VERTEX: space tree, the heaviest directories of a volume, like ncdu."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import spacetree
from .common import Located, in_thread, where


class VertexParams(Located):
    top: int = Field(20, ge=1, le=1000)
    max_depth: int = Field(3, ge=1, le=64)


async def run_vertex(ctx: JobContext, p: VertexParams) -> dict[str, Any]:
    return await in_thread(ctx, spacetree.space_tree, await where(ctx, p), p.top, p.max_depth)


VERTEX = Agent(
    name="VERTEX", tier="storage", specialty="space tree", params_model=VertexParams,
    run=run_vertex, concurrency=2, description="heaviest directories of a volume, like ncdu")
