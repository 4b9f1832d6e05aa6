"""Which folders compression jobs and agents may touch, and checking a path against them."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sigmavault.errors import APIError

from .config import settings

log = logging.getLogger("sigmavault.compression")


async def storage_paths(app: Any) -> list[Path]:
    """Mountpoints of pools and paths of volumes, as the storage plugin reports them."""
    found: list[Path] = []
    if app.has_method("storage.pools.list"):
        try:
            for pool in await app.call("storage.pools.list") or []:
                pool = _as_dict(pool)
                for key in ("mountpoint", "path"):
                    if pool.get(key):
                        found.append(Path(pool[key]))
        except Exception as exc:  # the storage plugin's failure must not break compression
            log.warning("storage.pools.list failed: %s", exc)
    return found


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return item.model_dump()
    return dict(getattr(item, "__dict__", {}))


async def allowed_roots(app: Any) -> list[Path]:
    """Configured roots (default ``<data_dir>/pools``) plus storage mountpoints, resolved."""
    configured = settings(app).allowed_roots
    roots = list(configured) if configured is not None else [Path(app.data_dir) / "pools"]
    roots += await storage_paths(app)
    unique: list[Path] = []
    for root in roots:
        resolved = Path(os.path.realpath(root))
        if resolved not in unique:
            unique.append(resolved)
    return unique


def contained(raw: str | os.PathLike, roots: list[Path], what: str = "path") -> Path:
    """Resolve ``raw`` (absolute; symlinks followed) and require it inside one of ``roots``.

    Raises a 400 ``path_not_allowed`` naming the roots otherwise. The path need not exist.
    """
    text = os.fspath(raw)
    if not text or "\x00" in text:
        raise APIError(400, "invalid_path", f"{what} must be a non-empty path")
    if not os.path.isabs(text):
        raise APIError(400, "invalid_path", f"{what} {text!r} must be an absolute path")
    resolved = Path(os.path.realpath(text))
    for root in roots:
        if resolved == root or root in resolved.parents:
            return resolved
    raise APIError(400, "path_not_allowed",
                   f"{what} {text!r} is outside the allowed roots "
                   f"({', '.join(str(r) for r in roots) or 'none configured'})",
                   {"path": text, "allowed_roots": [str(r) for r in roots]})
