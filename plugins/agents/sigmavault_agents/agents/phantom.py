"""PHANTOM: secure erase of files (overwrite, fsync, unlink); a dry run unless confirmed."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import erase
from ..locate import Target, allowed_roots, resolve
from .common import in_thread, where


CONFIRMATION = "ERASE"


class PhantomParams(BaseModel):
    targets: list[Target] = Field(min_length=1, max_length=100, description="files or directories")
    dry_run: bool = Field(True, description="only report what would be erased")
    confirm: str = Field("", max_length=16, description=f"must be {CONFIRMATION!r} when dry_run is false")
    passes: int = Field(1, ge=1, le=7, description="overwrite passes (the last is zeros when > 1)")

    async def preflight(self, app: Any) -> None:
        if not self.dry_run and self.confirm != CONFIRMATION:
            raise APIError(400, "confirmation_required",
                           f"secure erase is destructive: set confirm to {CONFIRMATION!r} (or keep dry_run)")
        roots = {os.path.realpath(r) for r in allowed_roots(app)}
        for t in self.targets:
            path = await resolve(app, t, kind="any")
            if str(path) in roots or (t.pool and not t.subpath.strip("/.")):
                raise APIError(400, "refused", f"{t.label()} is a whole root or volume; name what is inside it")


async def run_phantom(ctx: JobContext, p: PhantomParams) -> dict[str, Any]:
    await p.preflight(ctx.app)  # also when dispatched without the API's preflight
    targets = [await where(ctx, t, "any") for t in p.targets]
    result = await in_thread(ctx, erase.secure_erase, targets, dry_run=p.dry_run, passes=p.passes)
    if not p.dry_run:
        ctx.app.audit("agents.phantom.erase", ", ".join(map(str, targets))[:500], "ok",
                      {"files": result["erased_files"], "bytes": result["bytes"]})
    return result


PHANTOM = Agent(
    name="PHANTOM", tier="security", specialty="secure erase", params_model=PhantomParams,
    run=run_phantom, concurrency=1, timeout=None,
    description="overwrite, fsync and unlink files; dry run by default, needs confirm='ERASE'")
