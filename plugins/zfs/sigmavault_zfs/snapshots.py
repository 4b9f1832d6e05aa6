"""Snapshots of the zfs backend (``pool/volume@name``): create, list, get, delete, rollback,
clone, a path to read them (``.zfs/snapshot`` or a read-only clone on zfs-fuse), holds."""

from __future__ import annotations

from sigmavault.backends import Row
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import rows
from .base import VIEW_PREFIX
from .errors import zfs_errors
from .listing import parse_get
from .token import pool_token
from .volumes import VolumeOps


class SnapshotOps(VolumeOps):
    """The snapshot methods of the storage protocol (capabilities snapshots, rollback, clone)
    and holds."""

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> Row:
        """``zfs snapshot pool/volume@name`` (ZFS snapshots are read-only)."""
        if writable:
            raise APIError(501, "not_supported", "ZFS snapshots are read-only; clone one instead")
        await self.volume_get(pool=pool, name=volume)
        with zfs_errors():
            await self.cli.zfs("snapshot", f"{self._dataset(pool, volume)}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def snapshot_list(self, *, pool: str, volume: str) -> list[Row]:
        """All snapshots of a volume in one tool call."""
        gen = await self.cli.generation()
        props = await self._snapshot_props(pool, volume)
        if not props:
            await self.volume_get(pool=pool, name=volume)
        base = None
        if gen.ctldir:
            base = (await self.volume_get(pool=pool, name=volume))["path"]
        return [rows.snapshot_dict(pool, volume, full, p,
                                    f"{base}/.zfs/snapshot/{full.split('@', 1)[1]}" if base else None)
                for full, p in props.items()]

    async def snapshot_list_token(self, *, pool: str, volume: str) -> str | None:
        """Changes whenever the pool's devices were written (see ``token``); no tool call once
        the pool's devices are known (the first call of a process reads ``zpool status``)."""
        if pool not in self._devices:
            try:
                await self._status(pool)
            except APIError:
                return None
        return pool_token(self._devices.get(pool, []))

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> Row:
        """One snapshot."""
        full = f"{self._dataset(pool, volume)}@{name}"
        res = await self.cli.zfs("get", "-Hp", "-o", "name,property,value,source",
                                 ",".join(rows.SNAPSHOT_PROPS), full, check=False)
        if not res.ok or not res.stdout.strip():
            raise not_found("snapshot", f"{pool}/{volume}@{name}")
        gen = await self.cli.generation()
        path = None
        if gen.ctldir:
            path = f"{(await self.volume_get(pool=pool, name=volume))['path']}/.zfs/snapshot/{name}"
        return rows.snapshot_dict(pool, volume, full, parse_get(res.stdout)[full], path)

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        """``zfs destroy pool/volume@name``; 409 while it is held or cloned."""
        snap = await self.snapshot_get(pool=pool, volume=volume, name=name)
        if snap["properties"]["holds"]:
            raise conflict(f"snapshot {name!r} has {snap['properties']['holds']} hold(s); release them first",
                           code="snapshot_held")
        await self._drop_view(pool, volume, name)
        with zfs_errors():
            await self.cli.zfs("destroy", f"{self._dataset(pool, volume)}@{name}")

    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> Row:
        """``zfs rollback -r``: newer snapshots are destroyed (the service asked for force)."""
        snap = await self.snapshot_get(pool=pool, volume=volume, name=name)
        for other in await self.snapshot_list(pool=pool, volume=volume):
            if other["created"] >= snap["created"] and other["name"] != name:
                await self._drop_view(pool, volume, other["name"])
        with zfs_errors():
            await self.cli.zfs("rollback", "-r", f"{self._dataset(pool, volume)}@{name}", timeout=300)
        return await self.volume_get(pool=pool, name=volume)

    async def snapshot_clone(self, *, pool: str, volume: str, name: str, target: str) -> Row:
        """``zfs clone`` into a new writable volume ``pool/target``."""
        if target.startswith(VIEW_PREFIX):
            raise bad_request(f"volume names starting with {VIEW_PREFIX!r} are reserved", field="target")
        await self.snapshot_get(pool=pool, volume=volume, name=name)
        with zfs_errors():
            await self.cli.zfs("clone", f"{self._dataset(pool, volume)}@{name}",
                               self._dataset(pool, target))
        return await self.volume_get(pool=pool, name=target)

    async def snapshot_path(self, *, pool: str, volume: str, name: str) -> str:
        """``.zfs/snapshot/<name>`` on OpenZFS; on zfs-fuse (no ``.zfs`` directory) a read-only
        clone ``pool/sv-view.<volume>.<name>`` made on first use and removed with the snapshot."""
        snap = await self.snapshot_get(pool=pool, volume=volume, name=name)
        if snap["path"]:
            return snap["path"]
        view = self._dataset(pool, f"{VIEW_PREFIX}{volume}.{name}")
        res = await self.cli.zfs("get", "-H", "-o", "value", "mountpoint", view, check=False)
        if not res.ok:
            with zfs_errors():
                await self.cli.zfs("clone", "-o", "readonly=on",
                                   f"{self._dataset(pool, volume)}@{name}", view)
            res = await self.cli.zfs("get", "-H", "-o", "value", "mountpoint", view)
        return res.stdout.strip()

    async def _drop_view(self, pool: str, volume: str, name: str) -> None:
        view = self._dataset(pool, f"{VIEW_PREFIX}{volume}.{name}")
        if (await self.cli.zfs("get", "-H", "-o", "value", "type", view, check=False)).ok:
            await self._destroy_dataset(view)

    async def snapshot_hold(self, *, pool: str, volume: str, name: str, tag: str) -> Row:
        """``zfs hold <tag>``: the snapshot cannot be destroyed until released."""
        await self.snapshot_get(pool=pool, volume=volume, name=name)
        with zfs_errors():
            await self.cli.zfs("hold", tag, f"{self._dataset(pool, volume)}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def snapshot_release(self, *, pool: str, volume: str, name: str, tag: str) -> Row:
        """``zfs release <tag>``."""
        await self.snapshot_get(pool=pool, volume=volume, name=name)
        with zfs_errors():
            await self.cli.zfs("release", tag, f"{self._dataset(pool, volume)}@{name}")
        return await self.snapshot_get(pool=pool, volume=volume, name=name)
