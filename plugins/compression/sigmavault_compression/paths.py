"""Paths of compression jobs and agents: the storage plugin's mountpoints (allowed roots besides
the configured ones), checking a path or location against the roots and volumes, default targets."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sigmavault.errors import APIError
from sigmavault.locations import Location, resolve as resolve_location, within_roots

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.compression")


async def storage_paths(app: "SigmaVault") -> list[Path]:
    """Mountpoints of pools and paths of volumes, as the storage plugin reports them."""
    found: list[Path] = []
    if app.has_method("storage.pools.list"):
        try:
            for pool in await app.call("storage.pools.list") or []:
                pool = as_dict(pool)
                for key in ("mountpoint", "path"):
                    if pool.get(key):
                        found.append(Path(pool[key]))
        except Exception as exc:  # the storage plugin's failure must not break compression
            log.warning("storage.pools.list failed: %s", exc)
    return found


def as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return item.model_dump()
    return dict(getattr(item, "__dict__", {}))


contained = within_roots  # (raw, roots, what) → the resolved path, or a 400

Given = str | Location  # what a client sent: an absolute path or a location


@dataclass
class Resolved:
    """A ``source``/``target``/``output`` as given and where it is: ``root`` is the volume of a
    volume location, else the innermost allowed root holding ``path``."""

    given: Given
    path: Path
    root: Path
    where: str  # "volume tank/media" or "allowed root"

    def report(self) -> str | dict[str, Any]:
        """The location back as the client gave it (JSON-able)."""
        if isinstance(self.given, Location):
            return self.given.model_dump(exclude_unset=True)
        return self.given

    def sibling(self, candidate: Path) -> str | dict[str, Any]:
        """``candidate`` (inside ``root``) expressed like this location: a subpath of the same
        volume, or an absolute path."""
        given = self.given
        if isinstance(given, Location) and given.path is None:
            rel = candidate.relative_to(self.root)
            return Location(pool=given.pool, volume=given.volume,
                            subpath="" if rel == Path(".") else str(rel)
                            ).model_dump(exclude_none=True)
        return str(candidate)


async def resolve_given(app: "SigmaVault", given: Given, roots: list[Path], field: str, *,
                        must_exist: bool = False) -> Resolved:
    """Resolve a path string or a :class:`~sigmavault.locations.Location` the way every plugin
    does (the core resolver): 400 naming ``field`` (``source``, ``source.path``,
    ``source.subpath``) when it leaves its volume or the allowed roots, 404 for an unknown
    pool/volume (or a missing path when ``must_exist``)."""
    if isinstance(given, str):
        path = contained(given, roots, field)
        if must_exist and not os.path.lexists(path):
            raise APIError(404, "not_found", f"{field} {given!r} does not exist",
                           {"kind": "path", "name": given, "field": field})
    else:
        path = await resolve_location(app, given, roots, must_exist=must_exist, field=field)
    if isinstance(given, Location) and given.path is None:
        root = await resolve_location(app, Location(pool=given.pool, volume=given.volume), roots,
                                      field=field)
        return Resolved(given, path, root, f"volume {given.pool}/{given.volume}")
    holding = [r for r in roots if r == path or r in path.parents]
    root = max(holding, key=lambda r: len(r.parts))  # ``path`` passed ``contained`` already
    return Resolved(given, path, root, "allowed root")


def default_target(candidate: Path, source: Resolved) -> Path:
    """``candidate``, a target derived from ``source`` because none was given, resolved; it must
    lie inside the source's volume or the innermost allowed root holding it (a folder that is
    itself a root or the whole volume has no place beside it), else 400 ``target_required``."""
    root = source.root
    resolved = Path(os.path.realpath(candidate))
    if resolved == root or root in resolved.parents:
        return resolved
    raise APIError(400, "target_required",
                   f"the default target {candidate} lies outside {root}, the {source.where} "
                   f"that holds the source; give a target inside it",
                   {"field": "target", "default_target": str(candidate), "root": str(root)})
