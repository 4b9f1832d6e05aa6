"""Paths of compression jobs and agents: the storage plugin's mountpoints (allowed roots besides
the configured ones), checking a path against the roots, default targets."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault.errors import APIError
from sigmavault.locations import within_roots

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


def default_target(candidate: Path, source: Path, roots: list[Path]) -> Path:
    """``candidate``, a target derived from ``source`` because none was given, resolved; it must
    lie inside the innermost allowed root holding ``source`` (a folder that is itself a root has
    no place beside it), else 400 ``target_required``."""
    holding = [r for r in roots if r == source or r in source.parents]
    root = max(holding, key=lambda r: len(r.parts))  # ``source`` passed ``contained`` already
    resolved = Path(os.path.realpath(candidate))
    if resolved == root or root in resolved.parents:
        return resolved
    raise APIError(400, "target_required",
                   f"the default target {candidate} lies outside {root}, the allowed root that "
                   f"holds the source; give a target inside the allowed roots",
                   {"field": "target", "default_target": str(candidate), "root": str(root)})
