"""VELOCITY, PRISM, WAVE, NEXUS, VERTEX, PHOTON and ATLAS: agents that look at and move files."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..locate import Target, resolve
from ..work import census, cold, copier, dupes, index, spacetree, velocity
from .common import Located, in_thread, state_dir, where


class VelocityParams(Located):
    size_mib: int = Field(64, ge=1, le=65536, description="MiB written then read back")
    block_kib: int = Field(1024, ge=4, le=65536, description="I/O block size in KiB")


async def run_velocity(ctx: JobContext, p: VelocityParams) -> dict[str, Any]:
    return await in_thread(ctx, velocity.throughput, await where(ctx, p), p.size_mib, p.block_kib)


class PrismParams(Located):
    kind: ClassVar[str] = "any"
    top: int = Field(20, ge=1, le=1000, description="how many of the largest files to list")


async def run_prism(ctx: JobContext, p: PrismParams) -> dict[str, Any]:
    return await in_thread(ctx, census.census, await where(ctx, p, "any"), p.top)


class WaveParams(BaseModel):
    roots: list[Target] = Field(min_length=1, max_length=32, description="trees searched together")
    min_size: int = Field(1, ge=0, description="ignore files smaller than this many bytes")

    async def preflight(self, app: Any) -> None:
        for t in self.roots:
            await resolve(app, t, kind="dir")


async def run_wave(ctx: JobContext, p: WaveParams) -> dict[str, Any]:
    roots = [await where(ctx, t) for t in p.roots]
    return await in_thread(ctx, dupes.find_duplicates, roots, p.min_size)


class NexusParams(Located):
    days: float = Field(90, gt=0, le=36500, description="idle for at least this many days")
    top: int = Field(20, ge=1, le=1000)


async def run_nexus(ctx: JobContext, p: NexusParams) -> dict[str, Any]:
    return await in_thread(ctx, cold.cold_report, await where(ctx, p), p.days, p.top)


class VertexParams(Located):
    top: int = Field(20, ge=1, le=1000)
    max_depth: int = Field(3, ge=1, le=64)


async def run_vertex(ctx: JobContext, p: VertexParams) -> dict[str, Any]:
    return await in_thread(ctx, spacetree.space_tree, await where(ctx, p), p.top, p.max_depth)


class PhotonParams(BaseModel):
    source: Target = Field(description="a file or directory")
    destination: Target = Field(description="the directory the source is copied into")
    move: bool = Field(False, description="delete the source after a verified copy")

    async def preflight(self, app: Any) -> None:
        await resolve(app, self.source, kind="any")
        await resolve(app, self.destination, kind="dir")


async def run_photon(ctx: JobContext, p: PhotonParams) -> dict[str, Any]:
    src = await where(ctx, p.source, "any")
    dst = await where(ctx, p.destination, "dir")
    try:
        return await in_thread(ctx, copier.transfer, src, dst, move=p.move)
    except ValueError as exc:
        raise APIError(400, "bad_transfer", str(exc)) from None


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
        return await in_thread(ctx, index.build_index, db, root)
    return await ctx.to_thread(index.search, db, p.query, root, p.limit)


AGENTS = [
    Agent(name="VELOCITY", tier="core", specialty="throughput test", params_model=VelocityParams,
          run=run_velocity, concurrency=1, timeout=1800,
          description="write then read N MiB (fsync'd, page cache dropped) inside a volume; MB/s"),
    Agent(name="PRISM", tier="core", specialty="file census", params_model=PrismParams, run=run_prism,
          concurrency=2, description="counts and bytes by extension and magic type, age histogram, largest files"),
    Agent(name="WAVE", tier="core", specialty="duplicate finder", params_model=WaveParams, run=run_wave,
          concurrency=2, description="size, then BLAKE2b hash; duplicate groups and exact reclaimable bytes"),
    Agent(name="NEXUS", tier="core", specialty="cold-data report", params_model=NexusParams, run=run_nexus,
          concurrency=2, description="data not read or modified for N days, per folder"),
    Agent(name="VERTEX", tier="storage", specialty="space tree", params_model=VertexParams,
          run=run_vertex, concurrency=2, description="heaviest directories of a volume, like ncdu"),
    Agent(name="PHOTON", tier="storage", specialty="bulk copy/move", params_model=PhotonParams,
          run=run_photon, concurrency=2, timeout=None, retries=1,
          description="copy or move with progress, BLAKE2b verification and resume"),
    Agent(name="ATLAS", tier="storage", specialty="file index", params_model=AtlasParams, run=run_atlas,
          concurrency=1, description="index file names of a volume in SQLite FTS5; search by name"),
]
