"""Where a compression agent works: a path inside the allowed roots, or a storage volume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sigmavault.locations import Location, resolve as resolve_location

from ..service import CompressionService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


class Target(Location):
    """Where a compression agent works (the core's :class:`~sigmavault.locations.Location`)."""

    def lock_name(self) -> str:
        """One compression task at a time per path or volume location."""
        return f"compression:{self.path or f'{self.pool}/{self.volume}/{self.subpath}'}"

    async def preflight(self, app: "SigmaVault") -> None:
        """Resolve the path before the task queues, so a bad path is a 4xx at dispatch."""
        await self.resolve(app)

    async def resolve(self, app: "SigmaVault", kind: Literal["any", "dir", "file"] = "any") -> Path:
        """The real path; 400 outside the roots/volume, 404 when missing, 400 for a wrong kind."""
        roots = await app.services[CompressionService].roots()
        return await resolve_location(app, self, roots, kind=kind)
