"""Helpers shared by the storage agents: parameters, storage look-ups, tree scans, state."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from sigmavault.backends import kind_of
from sigmavault.errors import APIError, bad_request, not_found
from sigmavault.validation import Name


CONFIG = "storage_agents"


class Params(BaseModel):
    """Base of every storage agent's params: unknown keys are refused (a typo is a 422)."""

    model_config = ConfigDict(extra="forbid")


class VolumeRef(Params):
    pool: Name
    volume: Name

    async def preflight(self, app: Any) -> None:
        """Refuse an unknown pool or volume at dispatch time (404) instead of a failed task."""
        await volume_path(app, self.pool, self.volume)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def need_storage(app: Any) -> None:
    if not app.has_method("storage.pools.list"):
        raise APIError(501, "storage_missing", "the storage service is not running")


async def pool_info(app: Any, pool: str) -> dict[str, Any]:
    need_storage(app)
    for p in await app.call("storage.pools.list"):
        if p["name"] == pool:
            return p
    raise not_found("pool", pool)


def backend_of(app: Any, pool: dict[str, Any]) -> Any:
    backend = app.registries["storage_backends"].get(pool["backend"])
    if backend is None:
        raise APIError(503, "backend_missing", f"backend {pool['backend']} is not loaded")
    return backend


def capable(backend: Any, capability: str) -> bool:
    return bool(getattr(backend, "capabilities", {}).get(capability))


async def volume_path(app: Any, pool: str, volume: str) -> Path:
    need_storage(app)
    await pool_info(app, pool)
    if not any(v["name"] == volume for v in await app.call("storage.volumes.list", pool=pool)):
        raise not_found("volume", f"{pool}/{volume}")
    return Path(await app.call("storage.volume.path", pool=pool, volume=volume))


async def snapshots(app: Any, pool: str, volume: str) -> list[dict[str, Any]]:
    """Snapshots of a volume, oldest first (by ``created``, then name)."""
    snaps = await app.call("storage.snapshot.list", pool=pool, volume=volume)
    return sorted(snaps, key=lambda s: (s.get("created") or "", s["name"]))


async def snapshot_path(app: Any, pool: str, volume: str, snapshot: str) -> Path:
    names = {s["name"] for s in await snapshots(app, pool, volume)}
    if snapshot not in names:
        raise not_found("snapshot", f"{pool}/{volume}@{snapshot}")
    return Path(await app.call("storage.snapshot.path", pool=pool, volume=volume, snapshot=snapshot))


def work_dir(app: Any, *parts: str) -> Path:
    path = Path(app.data_dir).joinpath("storage-agents", *parts)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def allowed_path(app: Any, value: str, what: str) -> Path:
    """An absolute path that must lie under ``[storage_agents] allowed_roots`` or the agents'
    own data directory."""
    path = Path(value)
    if not path.is_absolute() or "\0" in value:
        raise bad_request(f"{what} must be an absolute path", code="bad_path")
    roots = [work_dir(app), *map(Path, app.config.section(CONFIG).allowed_roots)]
    try:
        resolved = path.resolve()
    except (OSError, ValueError, RuntimeError) as e:
        raise bad_request(f"{what} {value!r}: {e}", code="bad_path") from None
    if any(resolved.is_relative_to(root.resolve()) for root in roots):
        return resolved
    raise bad_request(f"{what} {value} is outside the allowed roots", code="path_not_allowed")


# --- trees ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    type: str          # file | dir | symlink | other
    size: int
    mtime_ns: int
    link: str | None = None


def scan_tree(root: Path, check: Callable[[], None] | None = None) -> dict[str, Entry]:
    """Every entry under ``root`` (not following symlinks) by "/"-separated relative path."""
    out: dict[str, Entry] = {}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        if check:
            check()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            for e in it:
                rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
                st = e.stat(follow_symlinks=False)
                kind = kind_of(st.st_mode)
                link = os.readlink(e.path) if kind == "symlink" else None
                out[rel] = Entry(kind, st.st_size if kind == "file" else 0, st.st_mtime_ns, link)
                if kind == "dir":
                    stack.append(rel)
    return out


def sha256_file(path: Path, check: Callable[[], None] | None = None,
                on_bytes: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
            if check:
                check()
    return h.hexdigest()
