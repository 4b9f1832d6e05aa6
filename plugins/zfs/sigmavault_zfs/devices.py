"""Vdevs of a zfs pool: add (data of the pool's layout, log, cache, spare), remove, replace,
attach, detach, offline, online, and ``zpool clear`` of error counters."""

from __future__ import annotations

import asyncio
from typing import Any

from sigmavault.backends import Progress, Row, check_block_device
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import rows
from .base import LAYOUTS, MIN_DEVICES
from .errors import zfs_errors
from .pools import PoolOps


class DeviceOps(PoolOps):
    """Device methods (each ends with the pool as ``pool_get`` shows it)."""

    async def device_add(self, *, pool: str, devices: list[str], role: str = "data") -> Row:
        """Grow the pool with a vdev of its own layout, or add log/cache/spare devices."""
        status = await self._status(pool)
        words = {"log": ["log"], "cache": ["cache"], "spare": ["spare"], "spares": ["spare"]}
        if role != "data":
            if role not in words:
                raise bad_request("role must be data, log, cache or spare", field="role")
            vdev = words[role] + [check_block_device(d) for d in devices]
        else:
            layout = rows.layout_of(status["vdevs"])
            if layout not in LAYOUTS:
                raise conflict(f"cannot grow a {layout} pool automatically")
            if len(devices) < MIN_DEVICES[layout] or (layout == "mirror" and len(devices) % 2):
                raise bad_request(f"a {layout} pool grows by {MIN_DEVICES[layout]} devices at a time",
                                  field="devices")
            if layout == "mirror":
                vdev = [w for i in range(0, len(devices), 2) for w in ("mirror", *devices[i:i + 2])]
            elif layout == "stripe":
                vdev = list(devices)
            else:
                vdev = [layout, *devices]
        with zfs_errors():
            await self.cli.zpool("add", pool, *vdev, timeout=300)
        return await self.pool_get(name=pool)

    async def find_leaf(self, pool: str, device: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The leaf vdev named by path or zfs id; ``dev["arg"]`` is how the CLI wants it named
        (zfs-fuse needs the full path of a device it prints as ``loop0``)."""
        status = await self._status(pool)
        for dev in rows.pool_devices(status):
            if device in (dev["path"], dev["id"]):
                dev["arg"] = dev["path"] if dev["path"].startswith("/") else dev["id"]
                return dev, status
        raise not_found("device", device)

    async def device_remove(self, *, pool: str, device: str,
                            progress: Progress | None = None) -> Row:
        """Detach a mirror member, or remove a log/cache/spare (or, on OpenZFS, a data vdev)."""
        dev, status = await self.find_leaf(pool, device)
        in_mirror = any(v["type"] in ("mirror", "replacing", "spare") and
                        any(c["name"] == dev["id"] for c in v["children"]) for v in status["vdevs"])
        gen = await self.cli.generation()
        if dev["role"] == "data" and not in_mirror and not gen.device_removal:
            raise APIError(501, "not_supported",
                           f"{gen.name} cannot remove a data device from a "
                           f"{rows.layout_of(status['vdevs'])} "
                           "pool; only mirror members, log, cache and spare devices")
        with zfs_errors():
            if in_mirror:
                await self.cli.zpool("detach", pool, dev["arg"])
            else:
                await self.cli.zpool("remove", pool, dev["arg"])
        if progress:
            progress(100.0, f"removed {device}")
        return await self.pool_get(name=pool)

    async def device_replace(self, *, pool: str, old: str, new: str,
                             progress: Progress | None = None) -> Row:
        """``zpool replace`` then wait for the resilver, reporting its progress."""
        dev, _ = await self.find_leaf(pool, old)
        with zfs_errors():
            await self.cli.zpool("replace", "-f", pool, dev["arg"], new, timeout=300)
        await self._wait_scan(pool, "resilver", progress)
        return await self.pool_get(name=pool)

    async def _wait_scan(self, pool: str, function: str, progress: Progress | None,
                         interval: float = 1.0) -> Row:
        while True:
            status = await self._status(pool)
            scan = status["scan"]
            if scan["state"] != "running" or scan["function"] != function:
                if progress:
                    progress(100.0, f"{function} finished")
                return scan
            if progress:
                progress(scan["percent"], f"{function} {scan['percent'] or 0:.1f}%")
            await asyncio.sleep(interval)

    async def device_attach(self, *, pool: str, device: str, new: str,
                            progress: Progress | None = None) -> Row:
        """``zpool attach``: mirror ``device`` onto ``new`` (a single disk becomes a mirror)."""
        dev, _ = await self.find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("attach", "-f", pool, dev["arg"], new, timeout=300)
        await self._wait_scan(pool, "resilver", progress)
        return await self.pool_get(name=pool)

    async def device_detach(self, *, pool: str, device: str) -> Row:
        """``zpool detach`` a mirror member."""
        dev, _ = await self.find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("detach", pool, dev["arg"])
        return await self.pool_get(name=pool)

    async def device_offline(self, *, pool: str, device: str, temporary: bool = False) -> Row:
        """``zpool offline [-t]``."""
        dev, _ = await self.find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("offline", *(["-t"] if temporary else []), pool, dev["arg"])
        return await self.pool_get(name=pool)

    async def device_online(self, *, pool: str, device: str) -> Row:
        """``zpool online``."""
        dev, _ = await self.find_leaf(pool, device)
        with zfs_errors():
            await self.cli.zpool("online", pool, dev["arg"])
        return await self.pool_get(name=pool)

    async def pool_clear(self, *, pool: str, device: str | None = None) -> Row:
        """``zpool clear``: reset error counters (of one device or all)."""
        args = [pool]
        if device:
            dev, _ = await self.find_leaf(pool, device)
            args.append(dev["arg"])
        else:
            await self._pool_rows(pool)
        with zfs_errors():
            await self.cli.zpool("clear", *args)
        return await self.pool_get(name=pool)
