"""PRISM: file census, counts and bytes by type (extension and magic), ages, largest files."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import census
from ..locate import Kind
from .common import Located, in_thread, where


class PrismParams(Located):
    kind: ClassVar[Kind] = "any"
    top: int = Field(20, ge=1, le=1000, description="how many of the largest files to list")


async def run_prism(ctx: JobContext, p: PrismParams) -> dict[str, Any]:
    return await in_thread(ctx, census.census, await where(ctx, p, "any"), p.top)


PRISM = Agent(
    name="PRISM", tier="core", specialty="file census", params_model=PrismParams, run=run_prism,
    concurrency=2, description="counts and bytes by extension and magic type, age histogram, largest files")
