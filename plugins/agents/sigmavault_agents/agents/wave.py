"""WAVE: duplicate finder, size then BLAKE2b hash, reclaimable bytes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import dupes
from ..locate import Target, resolve
from .common import in_thread, where


class WaveParams(BaseModel):
    roots: list[Target] = Field(min_length=1, max_length=32, description="trees searched together")
    min_size: int = Field(1, ge=0, description="ignore files smaller than this many bytes")

    async def preflight(self, app: Any) -> None:
        for t in self.roots:
            await resolve(app, t, kind="dir")


async def run_wave(ctx: JobContext, p: WaveParams) -> dict[str, Any]:
    roots = [await where(ctx, t) for t in p.roots]
    return await in_thread(ctx, dupes.find_duplicates, roots, p.min_size)


WAVE = Agent(
    name="WAVE", tier="core", specialty="duplicate finder", params_model=WaveParams, run=run_wave,
    concurrency=2, description="size, then BLAKE2b hash; duplicate groups and exact reclaimable bytes")
