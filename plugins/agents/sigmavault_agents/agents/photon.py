"""PHOTON: bulk copy or move with progress, checksum verification and resume."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import copier
from ..locate import Target, resolve
from .common import in_thread, where


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


PHOTON = Agent(
    name="PHOTON", tier="storage", specialty="bulk copy/move", params_model=PhotonParams,
    run=run_photon, concurrency=2, timeout=None, retries=1,
    description="copy or move with progress, BLAKE2b verification and resume")
