"""Snapshots of the btrfs backend, in ``<mount>/.snapshots/<volume>/<name>``: create, list
(ioctls, kept while unchanged: :mod:`.snapdir`), get, delete, rollback, clone."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from sigmavault.backends import Row
from sigmavault.errors import APIError, conflict, not_found

from . import parsers
from .base import SNAPDIR, PoolRow, quota_state
from .snapdir import DirRead, snapshot_dicts
from .volumes import VolumeOps


class SnapshotOps(VolumeOps):
    """The snapshot methods of the storage protocol (capabilities snapshots, rollback, clone)."""

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> Row:
        row = self._row(pool)
        src = self._vol_path(row, volume)
        parent = Path(row["mountpoint"]) / SNAPDIR / volume
        parent.mkdir(parents=True, exist_ok=True)
        dest = parent / name
        if dest.exists():
            raise conflict(f"snapshot {pool}/{volume}@{name} already exists",
                           code="snapshot_exists")
        await self._sh("btrfs", "subvolume", "snapshot", *([] if writable else ["-r"]), str(src),
                       str(dest))
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def _read_snapdir(self, pool: str, volume: str, *, dicts: bool
                            ) -> tuple[DirRead, list[dict[str, Any]]]:
        """The volume's snapshot directory (kept between calls while unchanged: see
        :mod:`.snapdir`) and, with ``dicts``, its snapshots as backend dicts."""
        row = self._row(pool)
        self._vol_path(row, volume)
        snapdir = os.path.join(row["mountpoint"], SNAPDIR, volume)

        def work() -> tuple[DirRead, list[dict[str, Any]]]:
            read = self._snapdirs.read(snapdir, row["uuid"])
            return read, snapshot_dicts(read, pool, volume, snapdir) if dicts else []

        async with self._lock(f"snapdir:{pool}/{volume}"):
            try:
                read, out = await asyncio.to_thread(work)
            except OSError as exc:   # e.g. unmounted meanwhile
                raise APIError(409, "btrfs_failed", f"cannot read the snapshots of {pool}/{volume}:"
                               f" {exc.strerror or exc}", {"pool": pool, "volume": volume}) from exc
        for snap in out:
            if snap["created"] is None:   # a pre-3.6 root item: no otime field
                show = parsers.parse_subvolume_show(
                    await self._sh("btrfs", "subvolume", "show", snap["path"]))
                snap["created"] = show["created"]
        return read, out

    async def snapshot_list(self, *, pool: str, volume: str) -> list[Row]:
        """The subvolumes in ``.snapshots/<volume>/`` that are snapshots or read-only (received
        full streams), read from the root tree by ioctl (:mod:`.subvols`), in id order."""
        return (await self._read_snapdir(pool, volume, dicts=True))[1]

    async def snapshot_list_token(self, *, pool: str, volume: str) -> str | None:
        """Changes whenever the snapshot list of ``volume`` may have changed: the serial of the
        directory read that is still valid (:mod:`.snapdir`: the directory's stat and a
        ``min_transid`` search of the root tree). None (no caching) without sysfs."""
        read, _ = await self._read_snapdir(pool, volume, dicts=False)
        return f"btrfs:{read.serial}" if read.generation is not None else None

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> Row:
        row = self._row(pool)
        path = self._snap_path(row, volume, name)
        show = parsers.parse_subvolume_show(await self._sh("btrfs", "subvolume", "show", str(path)))
        if show["id"] is None:
            raise not_found("snapshot", f"{pool}/{volume}@{name}")
        props: dict[str, Any] = {"subvolume_id": show["id"], "uuid": show["uuid"],
                                 "received_uuid": show["received_uuid"]}
        used = None
        if quota_state(row["uuid"]) in ("on", None):   # exclusive: what deleting it frees
            q = (await self._qgroups(row["mountpoint"])).get(show["id"])
            if q is not None:
                used = q["exclusive"]
                props["referenced"] = q["referenced"]
        return {"name": name, "pool": pool, "volume": volume, "created": show["created"],
                "writable": not show["readonly"], "used": used, "path": str(path),
                "properties": props}

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        row = self._row(pool)
        await self._sh("btrfs", "subvolume", "delete", str(self._snap_path(row, volume, name)))

    async def _settings(self, row: PoolRow, volume: str) -> Row:
        info = await self.volume_get(pool=row["name"], name=volume)
        return {"quota": info["quota"], "compression": info["compression"]}

    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> Row:
        row = self._row(pool)
        snap = self._snap_path(row, volume, name)
        live = self._vol_path(row, volume)
        settings = await self._settings(row, volume)
        aside = Path(row["mountpoint"]) / SNAPDIR / f".rollback-{volume}-{uuid.uuid4().hex[:8]}"
        async with self._lock(f"{pool}/{volume}"):
            os.rename(live, aside)
            try:
                await self._sh("btrfs", "subvolume", "snapshot", str(snap), str(live))
            except BaseException:
                os.rename(aside, live)
                raise
            await self._apply(live, settings)
            await self._sh("btrfs", "subvolume", "delete", str(aside))
        return await self.volume_get(pool=pool, name=volume)

    async def snapshot_clone(self, *, pool: str, volume: str, name: str,
                             target: str) -> Row:
        row = self._row(pool)
        snap = self._snap_path(row, volume, name)
        dest = Path(row["mountpoint"]) / target
        if dest.exists():
            raise conflict(f"volume {pool}/{target} already exists", code="volume_exists")
        await self._sh("btrfs", "subvolume", "snapshot", str(snap), str(dest))
        info = await self.volume_get(pool=pool, name=target)
        info["origin"] = f"{pool}/{volume}@{name}"
        return info

    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str:
        return str(self._snap_path(self._row(pool), volume, name))
