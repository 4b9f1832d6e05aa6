"""Pools of the zfs backend: ``zpool create``/``import``/``export``/``destroy``/``set``, the
pools found for import, listing with topology, and health."""

from __future__ import annotations

import os
from typing import Any

from sigmavault.backends import Row, check_block_device
from sigmavault.errors import bad_request

from . import rows
from .base import LAYOUTS, MIN_DEVICES, ZfsBase
from .checks import check_mountpoint, check_pool_name
from .errors import zfs_errors
from .listing import parse_import_list

POOL_SETTABLE = {"autoexpand": ("on", "off"), "autoreplace": ("on", "off"),
                 "failmode": ("wait", "continue", "panic"), "listsnapshots": ("on", "off"),
                 "delegation": ("on", "off")}
POOL_OPTIONS = {"ashift", "mountpoint", "log", "cache", "spares", "compression", "force"}


class PoolOps(ZfsBase):
    """The pool methods of the storage protocol, with import/export and ``importable``."""

    async def pool_create(self, *, name: str, topology: dict[str, Any], devices: list[str],
                          options: dict[str, Any]) -> Row:
        """``zpool create`` with the requested layout and optional log/cache/spare vdevs."""
        check_pool_name(name)
        layout = (topology or {}).get("layout") or "stripe"
        if layout not in LAYOUTS:
            raise bad_request(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}",
                              field="topology.layout")
        if len(devices) < MIN_DEVICES[layout]:
            raise bad_request(f"{layout} needs at least {MIN_DEVICES[layout]} devices, got {len(devices)}",
                              field="devices")
        if len(set(devices)) != len(devices):
            raise bad_request("a device is listed twice", field="devices")
        options = dict(options or {})
        options.update((topology or {}).get("options") or {})
        unknown = set(options) - POOL_OPTIONS
        if unknown:
            raise bad_request(f"unknown zfs pool options: {', '.join(sorted(unknown))}; "
                              f"accepted: {', '.join(sorted(POOL_OPTIONS))}", field="options")
        argv = ["create"]
        if "ashift" in options:
            ashift = options["ashift"]
            if not isinstance(ashift, int) or not 9 <= ashift <= 16:
                raise bad_request("ashift must be an integer from 9 to 16", field="options.ashift")
            argv += ["-o", f"ashift={ashift}"]
        if options.get("compression") is not None:
            argv += ["-O", f"compression={self._check_compression(options['compression'])}"]
        mountpoint = options.get("mountpoint")
        if mountpoint is None and self.mount_root:
            mountpoint = os.path.join(self.mount_root, name)
        if mountpoint is not None:
            argv += ["-m", check_mountpoint(mountpoint)]
        if options.get("force"):
            argv.append("-f")
        argv.append(name)
        argv += devices if layout == "stripe" else [layout, *devices]
        extra: list[str] = []
        for key, word in (("log", "log"), ("cache", "cache"), ("spares", "spare")):
            devs = options.get(key) or []
            if not isinstance(devs, list):
                raise bad_request(f"options.{key} must be a list of devices", field=f"options.{key}")
            if devs:
                argv += [word, *[check_block_device(d) for d in devs]]
                extra += devs
        if set(extra) & set(devices) or len(set(extra)) != len(extra):
            raise bad_request("a device is used twice", field="devices")
        with zfs_errors():
            await self.cli.zpool(*argv, timeout=300)
        return await self.pool_get(name=name)

    async def pool_import(self, *, name: str, devices: list[str] | None,
                          options: dict[str, Any]) -> Row:
        """``zpool import -d <dir>``: the directories of ``devices`` (default ``/dev``)."""
        check_pool_name(name)
        options = dict(options or {})
        dirs = sorted({os.path.dirname(d) for d in devices or []}) or ["/dev"]
        for extra in options.get("dirs") or []:
            if not isinstance(extra, str) or not extra.startswith("/") or ".." in extra:
                raise bad_request("options.dirs must be absolute directories", field="options.dirs")
            dirs.append(extra)
        argv = ["import"]
        for d in dirs:
            argv += ["-d", d]
        if options.get("force"):
            argv.append("-f")
        argv.append(name)
        if options.get("new_name"):
            argv.append(check_pool_name(str(options["new_name"])))
            name = argv[-1]
        with zfs_errors():
            await self.cli.zpool(*argv, timeout=300)
        return await self.pool_get(name=name)

    async def importable(self, *, dirs: list[str] | None = None) -> list[Row]:
        """Exported pools found in ``dirs`` (default ``/dev``)."""
        argv = ["import"]
        for d in dirs or ["/dev"]:
            argv += ["-d", d]
        res = await self.cli.zpool(*argv, check=False)
        return parse_import_list(res.stdout)

    async def pool_list(self) -> list[Row]:
        """Every imported pool with topology (three tool calls in all)."""
        listed = await self._pool_rows()
        if not listed:
            return []
        statuses = await self._statuses()
        roots = await self._roots([r["name"] for r in listed])
        for st in statuses.values():
            self._observe(st)
        return [rows.pool_dict(r, statuses.get(r["name"]), roots.get(r["name"], {}).get("mountpoint"),
                               roots.get(r["name"])) for r in listed]

    async def pool_get(self, *, name: str) -> Row:
        """One pool with topology, device error counters and scan state."""
        listed = await self._pool_rows(name)
        status = await self._status(name)
        root = (await self._roots([name])).get(name, {})
        return rows.pool_dict(listed[0], status, root.get("mountpoint"), root)

    async def pool_update(self, *, name: str, changes: dict[str, Any]) -> Row:
        """Set pool properties (``autoexpand``, ``autoreplace``, ``failmode`` …)."""
        await self._pool_rows(name)
        props = changes.get("properties", changes) if isinstance(changes, dict) else None
        if not isinstance(props, dict) or not props:
            raise bad_request(f"changes must set some of: {', '.join(POOL_SETTABLE)}", field="changes")
        for key, value in props.items():
            allowed = POOL_SETTABLE.get(key)
            if allowed is None:
                raise bad_request(f"pool property {key!r} cannot be changed; "
                                  f"settable: {', '.join(POOL_SETTABLE)}", field=key)
            if isinstance(value, bool) and "on" in allowed:
                value = "on" if value else "off"
            if value not in allowed:
                raise bad_request(f"{key} must be one of {', '.join(allowed)}", field=key)
            props[key] = value
        for key, value in props.items():
            with zfs_errors():
                await self.cli.zpool("set", f"{key}={value}", name)
        return await self.pool_get(name=name)

    async def pool_destroy(self, *, name: str) -> None:
        """``zpool destroy`` — the caller has asked for confirmation."""
        await self._pool_rows(name)
        await self._retry_busy(self.cli.zpool, "destroy", "-f", name, timeout=300)
        self._last_errors.pop(name, None)
        self._devices.pop(name, None)

    async def pool_export(self, *, name: str) -> None:
        """``zpool export``: the pool leaves this machine until imported again."""
        await self._pool_rows(name)
        with zfs_errors():
            await self.cli.zpool("export", name, timeout=300)
        self._last_errors.pop(name, None)
        self._devices.pop(name, None)

    async def pool_health(self, *, name: str) -> Row:
        """State, per-device read/write/checksum counters and the problems to act on."""
        return rows.health_dict(await self._status(name))

    async def pool_devices(self, *, name: str) -> list[str]:
        """Absolute paths of every vdev (data, log, cache, spare) the pool uses."""
        status = await self._status(name)
        return [d["path"] for d in rows.pool_devices(status) if d["path"].startswith("/")]
