"""Snapshots: CephFS subvolume snapshots, read through ``<base>/.snap/<name>/<uuid>`` on the
mount (their creation time is the ``ceph.snap.btime`` attribute), so a listing is one ``listdir``
and never a tool call per snapshot. Roll back copies the snapshot's tree over the live volume
(``rsync -aH --delete``; newer snapshots stay); clone is ``fs subvolume snapshot clone``."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from sigmavault.commands import run
from sigmavault.errors import APIError, conflict, not_found

from . import status
from .base import CephBase, ceph_name


def _btime(path: Path) -> float | None:
    try:
        return float(os.getxattr(path, "ceph.snap.btime").decode())
    except (OSError, ValueError):
        return None


class SnapshotOps(CephBase):
    async def _snap_root(self, pool: str, volume: str) -> tuple[Path, str]:
        """``(<base>/.snap, uuid dir name)`` of a volume; 404 when the volume does not exist."""
        base = await self.subvolume_base(pool, volume)
        meta = self.read_meta(base)
        if not meta.get("path"):
            raise not_found("volume", volume)
        return base / ".snap", os.path.basename(meta["path"])

    def _list(self, pool: str, volume: str, snapdir: Path, leaf: str) -> list[dict[str, Any]]:
        try:
            names = os.listdir(snapdir)
        except FileNotFoundError:
            return []
        rows = []
        for n in names:
            if n.startswith("_"):
                continue  # a parent directory's snapshot seen from inside (_name_inode)
            btime = _btime(snapdir / n)
            key = (pool, volume, n, str(btime))
            row = self._snap_rows.get(key)
            if row is None:
                row = {"name": n, "pool": pool, "volume": volume,
                       "created": status.rfc3339(btime) or "1970-01-01T00:00:00Z",
                       "writable": False, "used": None, "path": str(snapdir / n / leaf),
                       "properties": {}}
                self._snap_rows[key] = row
            rows.append(row)
        return rows

    async def snapshot_list(self, *, pool: str, volume: str) -> list[dict[str, Any]]:
        snapdir, leaf = await self._snap_root(pool, volume)
        return await asyncio.to_thread(self._list, pool, volume, snapdir, leaf)

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> dict[str, Any]:
        for row in await self.snapshot_list(pool=pool, volume=volume):
            if row["name"] == name:
                return row
        raise not_found("snapshot", name)

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> dict[str, Any]:
        ceph_name(name, "snapshot")
        if writable:
            raise APIError(400, "not_supported", "CephFS snapshots are read-only")
        snapdir, _ = await self._snap_root(pool, volume)
        if (snapdir / name).exists():
            raise conflict(f"snapshot {name!r} of {volume} already exists", code="snapshot_exists")
        cluster = await self.locate(pool)
        await cluster.cli.raw("fs", "subvolume", "snapshot", "create", pool, volume, name,
                              what=f"snapshot {volume}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        snapdir, _ = await self._snap_root(pool, volume)
        if not (snapdir / name).exists():
            raise not_found("snapshot", name)
        cluster = await self.locate(pool)
        await cluster.cli.raw("fs", "subvolume", "snapshot", "rm", pool, volume, name,
                              what=f"delete snapshot {volume}@{name}")

    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str:
        snapdir, leaf = await self._snap_root(pool, volume)
        path = snapdir / name / leaf
        if not await asyncio.to_thread(path.is_dir):
            raise not_found("snapshot", name)
        return str(path)

    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> dict[str, Any]:
        src = await self.snapshot_path(pool=pool, volume=volume, name=name)
        live = await self.volume_path(pool=pool, name=volume)  # type: ignore[attr-defined]
        await run(["rsync", "-aH", "--delete", "--", src + "/", live + "/"], timeout=24 * 3600)
        return await self.volume_get(pool=pool, name=volume)  # type: ignore[attr-defined]

    async def snapshot_clone(self, *, pool: str, volume: str, name: str, target: str
                             ) -> dict[str, Any]:
        ceph_name(target, "target")
        await self.snapshot_path(pool=pool, volume=volume, name=name)
        if (await self.subvolume_base(pool, target)).exists():
            raise conflict(f"volume {target!r} already exists in pool {pool}",
                           code="volume_exists")
        cluster = await self.locate(pool)
        await cluster.cli.raw("fs", "subvolume", "snapshot", "clone", pool, volume, name, target,
                              what=f"clone {volume}@{name} to {target}")
        deadline = time.monotonic() + 3600
        while True:
            st = await cluster.cli.json("fs", "clone", "status", pool, target,
                                        what=f"clone {target}")
            state = ((st or {}).get("status") or {}).get("state")
            if state == "complete":
                break
            if state in ("failed", "canceled") or time.monotonic() > deadline:
                await cluster.cli.raw("fs", "subvolume", "rm", pool, target, "--force",
                                      what=f"remove failed clone {target}", check=False)
                raise APIError(500, "clone_failed", f"cloning {volume}@{name} to {target}: "
                               f"{state or 'timed out'}", {"status": st})
            await asyncio.sleep(0.3)
        return await self.volume_get(pool=pool, name=target)  # type: ignore[attr-defined]
