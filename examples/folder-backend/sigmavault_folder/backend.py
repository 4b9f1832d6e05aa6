"""Pools, volumes and snapshots as plain folders: ``<root>/<pool>/volumes/<volume>`` and
read-only copies in ``<root>/<pool>/snapshots/<volume>/<snapshot>``. It offers the required
methods of :class:`sigmavault.backends.StorageBackend` and the ``snapshots`` capability; the
storage service answers ``400 not_supported`` for everything else."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sigmavault.backends import not_supported
from sigmavault.errors import conflict, not_found

Row = dict[str, Any]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_only(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in filenames + dirnames:
            p = Path(dirpath, name)
            if not p.is_symlink():
                p.chmod(stat.S_IMODE(p.lstat().st_mode) & ~0o222)
    path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)


def _remove(path: Path) -> None:
    for dirpath, dirnames, _ in os.walk(path):
        os.chmod(dirpath, 0o700)
    shutil.rmtree(path)


class FolderBackend:
    name = "folder"
    description = "plain folders and full-copy snapshots (an example third-party backend)"
    capabilities: dict[str, Any] = {
        "raid_levels": [], "min_devices": {}, "needs_devices": False, "snapshots": True,
        "writable_snapshots": False, "rollback": False, "rollback_keeps_newer": True,
        "clone": False, "scrub": False, "balance": False, "quotas": False, "compression": [],
        "send_receive": False, "incremental_send": False, "diff": False, "import": False,
        "device_add": False, "device_remove": False, "device_replace": False,
        "degraded_detection": False, "needs_root": False,
    }

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _pool(self, name: str) -> Path:
        path = self.root / name
        if not (path / "volumes").is_dir():
            raise not_found("pool", name)
        return path

    def _volume(self, pool: str, name: str) -> Path:
        path = self._pool(pool) / "volumes" / name
        if not path.is_dir():
            raise not_found("volume", f"{pool}/{name}")
        return path

    def _snapshot(self, pool: str, volume: str, name: str) -> Path:
        path = self._pool(pool) / "snapshots" / volume / name
        if not path.is_dir():
            raise not_found("snapshot", f"{pool}/{volume}@{name}")
        return path

    async def available(self) -> Row:
        return {"available": True, "reason": None, "version": None}

    # --- pools -----------------------------------------------------------------------------------

    def _pool_row(self, name: str) -> Row:
        path = self._pool(name)
        fs = os.statvfs(path)
        size, free = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
        return {"name": name, "backend": self.name, "state": "online", "layout": None,
                "mountpoint": str(path), "size": size, "used": size - free, "free": free,
                "devices": [], "properties": {}}

    async def pool_create(self, *, name: str, topology: dict[str, Any], devices: list[str],
                          options: dict[str, Any]) -> Row:
        if options:
            raise not_supported(self.name, "pool options")
        path = self.root / name
        if path.exists():
            raise conflict(f"pool {name!r} already exists", code="pool_exists")
        (path / "volumes").mkdir(parents=True)
        (path / "snapshots").mkdir()
        return self._pool_row(name)

    async def pool_list(self) -> list[Row]:
        return [self._pool_row(p.name) for p in sorted(self.root.iterdir())
                if (p / "volumes").is_dir()]

    async def pool_get(self, *, name: str) -> Row:
        return self._pool_row(name)

    async def pool_update(self, *, name: str, changes: dict[str, Any]) -> Row:
        if changes:
            raise not_supported(self.name, "pool options")
        return self._pool_row(name)

    async def pool_destroy(self, *, name: str) -> None:
        await asyncio.to_thread(_remove, self._pool(name))

    async def pool_health(self, *, name: str) -> Row:
        self._pool(name)
        return {"state": "online", "problems": [], "devices": []}

    async def pool_devices(self, *, name: str) -> list[str]:
        return []

    # --- volumes ---------------------------------------------------------------------------------

    def _volume_row(self, pool: str, name: str) -> Row:
        path = self._volume(pool, name)
        return {"name": name, "pool": pool, "path": str(path), "used": None, "quota": None,
                "compression": None, "origin": None, "created": _iso(path.stat().st_ctime),
                "properties": {}}

    async def volume_create(self, *, pool: str, name: str, quota: int | None,
                            compression: str | None) -> Row:
        path = self._pool(pool) / "volumes" / name
        if path.exists():
            raise conflict(f"volume {pool}/{name} already exists", code="volume_exists")
        path.mkdir()
        return self._volume_row(pool, name)

    async def volume_list(self, *, pool: str) -> list[Row]:
        return [self._volume_row(pool, v.name)
                for v in sorted((self._pool(pool) / "volumes").iterdir())]

    async def volume_get(self, *, pool: str, name: str) -> Row:
        return self._volume_row(pool, name)

    async def volume_update(self, *, pool: str, name: str, changes: dict[str, Any]) -> Row:
        return self._volume_row(pool, name)

    async def volume_destroy(self, *, pool: str, name: str) -> None:
        path = self._volume(pool, name)
        if any((self._pool(pool) / "snapshots" / name).glob("*")):
            raise conflict(f"volume {pool}/{name} has snapshots; delete them first",
                           code="volume_has_snapshots")
        await asyncio.to_thread(shutil.rmtree, path)

    async def volume_path(self, *, pool: str, name: str) -> str:
        return str(self._volume(pool, name))

    # --- snapshots -------------------------------------------------------------------------------

    def _snapshot_row(self, pool: str, volume: str, path: Path) -> Row:
        return {"name": path.name, "pool": pool, "volume": volume,
                "created": _iso(path.stat().st_mtime), "writable": False, "used": None,
                "path": str(path), "properties": {}}

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> Row:
        source = self._volume(pool, volume)
        target = self._pool(pool) / "snapshots" / volume / name
        if target.exists():
            raise conflict(f"snapshot {volume}@{name} already exists", code="snapshot_exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{name}.partial")
        await asyncio.to_thread(shutil.copytree, source, staging, symlinks=True)
        now = datetime.now(timezone.utc).timestamp()
        os.utime(staging, (now, now))
        await asyncio.to_thread(_read_only, staging)
        staging.rename(target)
        return self._snapshot_row(pool, volume, target)

    async def snapshot_list(self, *, pool: str, volume: str) -> list[Row]:
        self._volume(pool, volume)
        folder = self._pool(pool) / "snapshots" / volume
        return [self._snapshot_row(pool, volume, p) for p in sorted(folder.glob("[!.]*"))] \
            if folder.is_dir() else []

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> Row:
        return self._snapshot_row(pool, volume, self._snapshot(pool, volume, name))

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        await asyncio.to_thread(_remove, self._snapshot(pool, volume, name))

    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str:
        return str(self._snapshot(pool, volume, name))
