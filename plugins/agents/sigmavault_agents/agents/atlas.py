"""ATLAS: a file-name index of a volume in SQLite FTS5; search by name."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import name_index
from ..locate import Target, resolve
from .common import in_thread, state_dir, where


class AtlasParams(BaseModel):
    action: Literal["index", "search"] = "search"
    target: Target | None = Field(None, description="tree to index, or to restrict a search to")
    query: str | None = Field(None, min_length=1, max_length=200, description="part of a file name")
    limit: int = Field(100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _needs(self) -> "AtlasParams":
        if self.action == "index" and self.target is None:
            raise ValueError("action 'index' needs 'target'")
        if self.action == "search" and not self.query:
            raise ValueError("action 'search' needs 'query'")
        return self

    async def preflight(self, app: Any) -> None:
        if self.target is not None:
            await resolve(app, self.target, kind="dir")


async def run_atlas(ctx: JobContext, p: AtlasParams) -> dict[str, Any]:
    db = state_dir(ctx.app, "ATLAS") / "index.sqlite"
    root = await where(ctx, p.target) if p.target is not None else None
    if p.action == "index":
        return await in_thread(ctx, name_index.build_index, db, root)
    return await ctx.to_thread(name_index.search, db, p.query, root, p.limit)


ATLAS = Agent(
    name="ATLAS", tier="storage", specialty="file index", params_model=AtlasParams, run=run_atlas,
    concurrency=1, description="index file names of a volume in SQLite FTS5; search by name")
