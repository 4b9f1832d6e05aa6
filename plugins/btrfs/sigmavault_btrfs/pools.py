"""Pools of the btrfs backend: availability of the tools, create (``mkfs.btrfs``), import,
export, list, get, update, destroy, health and the devices a pool uses."""

from __future__ import annotations

import os
import shutil
from typing import Any

from sigmavault.backends import Row
from sigmavault.commands import run
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import parsers
from .base import MIN_DEVICES, SNAPDIR, BtrfsBase, PoolRow, btrfs, quota_state


class PoolOps(BtrfsBase):
    """The pool methods of the storage protocol, with ``pool_import`` and ``pool_export``."""

    async def available(self) -> Row:
        """Whether btrfs-progs are installed, this process is root and the kernel has btrfs."""
        if shutil.which("btrfs") is None or shutil.which("mkfs.btrfs") is None:
            return {"available": False, "reason": "btrfs-progs is not installed", "version": None}
        if os.geteuid() != 0:
            return {"available": False, "reason": "the btrfs backend needs root", "version": None}
        with open("/proc/filesystems") as f:
            if "btrfs" not in f.read():
                await run(["modprobe", "btrfs"], check=False, timeout=30)
        version = (await run(btrfs("--version"), check=False, timeout=10)).stdout.strip()
        return {"available": True, "reason": None, "version": version or None}

    async def pool_create(self, *, name: str, topology: dict[str, Any], devices: list[str],
                          options: dict[str, Any]) -> Row:
        unknown = set(options) - {"mount_options", "quotas"}
        if unknown:
            raise bad_request(f"unknown btrfs pool options: {sorted(unknown)}", code="bad_options")
        layout = topology.get("layout") or "single"
        meta = topology.get("metadata_layout") or (
            layout if layout not in ("single", "raid0") else ("dup" if len(devices) == 1 else "raid1"))
        if layout == "dup" and len(devices) != 1:
            raise bad_request("the dup profile takes exactly one device", code="bad_layout")
        if meta in MIN_DEVICES and len(devices) < MIN_DEVICES[meta]:
            raise bad_request(f"metadata layout {meta} needs {MIN_DEVICES[meta]} devices",
                              code="too_few_devices")
        if self.db.one("SELECT 1 FROM btrfs_pools WHERE name=?", (name,)):
            raise conflict(f"pool {name!r} already exists", code="pool_exists")
        mnt = self.mount_root / name
        if mnt.exists() and (os.path.ismount(mnt) or any(mnt.iterdir())):
            raise conflict(f"mount point {mnt} is in use", code="mountpoint_busy")
        await run(["mkfs.btrfs", "-q", "-L", name, "-d", layout, "-m", meta, "--", *devices],
                  timeout=self.timeout)
        row: PoolRow = {"name": name, "mountpoint": str(mnt), "layout": layout,
                               "metadata_layout": meta}
        try:
            found = parsers.parse_filesystem_show(
                await self._sh("btrfs", "filesystem", "show", "--raw", devices[0]))
            if not found:
                raise APIError(500, "mkfs_failed", f"no btrfs filesystem found on {devices[0]}")
            row["uuid"] = found[0]["uuid"]
            opts = list(self.mount_options) + list(options.get("mount_options") or [])
            mnt.mkdir(parents=True, exist_ok=True)
            await run(["mount", "-t", "btrfs", "-o", ",".join(opts) or "defaults", devices[0],
                       str(mnt)], timeout=self.timeout)
            try:
                if options.get("quotas", True) is not False:
                    await self._sh("btrfs", "quota", "enable", str(mnt))
                (mnt / SNAPDIR).mkdir(exist_ok=True)
            except BaseException:
                await run(["umount", str(mnt)], check=False, timeout=self.timeout)
                raise
            self.db.execute(
                "INSERT INTO btrfs_pools(name, uuid, mountpoint, layout, metadata_layout) "
                "VALUES(?,?,?,?,?)", (name, row["uuid"], str(mnt), layout, meta))
        except BaseException:
            for dev in devices:   # nothing half-made: remove the new signatures again
                await run(["wipefs", "-a", "-q", dev], check=False, timeout=60)
            if mnt.is_dir() and not os.path.ismount(mnt):
                shutil.rmtree(mnt, ignore_errors=True)
            raise
        return await self.pool_get(name=name)

    async def pool_import(self, *, name: str, devices: list[str] | None,
                          options: dict[str, Any]) -> Row:
        if self.db.one("SELECT 1 FROM btrfs_pools WHERE name=?", (name,)):
            raise conflict(f"pool {name!r} is already imported", code="pool_exists")
        await run(btrfs("device", "scan"), check=False, timeout=60)
        target = devices[0] if devices else None
        out = (await run(btrfs("filesystem", "show", "--raw", *( [target] if target else [])),
                         check=False, timeout=60)).stdout
        candidates = [fs for fs in parsers.parse_filesystem_show(out)
                      if target or fs["label"] == name]
        if not candidates:
            raise not_found("btrfs filesystem", target or f"label {name}")
        fs = candidates[0]
        mnt = self.mount_root / name
        row: PoolRow = {"name": name, "uuid": fs["uuid"], "mountpoint": str(mnt)}
        await self._mount(row, None)
        usage = parsers.parse_filesystem_usage(await self._sh("btrfs", "filesystem", "usage", "-b",
                                                              str(mnt)))
        data = (usage["profiles"].get("data") or ["single"])[0]
        meta = (usage["profiles"].get("metadata") or ["single"])[0]
        (mnt / SNAPDIR).mkdir(exist_ok=True)
        self.db.execute("INSERT INTO btrfs_pools(name, uuid, mountpoint, layout, metadata_layout)"
                           " VALUES(?,?,?,?,?)", (name, fs["uuid"], str(mnt), data, meta))
        return await self.pool_get(name=name)

    async def pool_export(self, *, name: str) -> None:
        row = self._row(name)
        if self._mounted(row):
            result = await run(["umount", row["mountpoint"]], check=False, timeout=self.timeout)
            if not result.ok:
                raise conflict(f"cannot unmount pool {name}: {result.stderr.strip()}",
                               code="pool_busy", pool=name)
        self.db.execute("DELETE FROM btrfs_pools WHERE name=?", (name,))

    async def pool_list(self) -> list[Row]:
        return [await self.pool_get(name=name) for name in self.pool_names()]

    async def _devices(self, row: PoolRow, fs: dict[str, Any]) -> list[Row]:
        stats: dict[str, dict[str, int]] = {}
        if self._mounted(row):
            out = await run(btrfs("device", "stats", row["mountpoint"]), check=False, timeout=60)
            stats = parsers.parse_device_stats(out.stdout)
        devices = []
        for d in fs["devices"]:
            key = d["path"] if d["path"] else "<missing disk>"
            devices.append({"path": d["path"], "id": str(d["devid"]),
                            "state": "missing" if d["missing"] else "online", "size": d["size"],
                            "errors": stats.get(key, {})})
        return devices

    async def pool_get(self, *, name: str) -> Row:
        row = self._row(name)
        fs = await self._show(row)
        devices = await self._devices(row, fs)
        info: dict[str, Any] = {
            "name": name, "backend": self.name, "layout": row["layout"],
            "mountpoint": row["mountpoint"], "devices": devices,
            "properties": {"uuid": row["uuid"], "metadata_layout": row["metadata_layout"],
                           "mounted": self._mounted(row)}}
        if self._mounted(row):
            usage = parsers.parse_filesystem_usage(
                await self._sh("btrfs", "filesystem", "usage", "-b", row["mountpoint"]))
            info.update(self._capacity(usage))
            quotas = quota_state(row["uuid"])
            info["properties"].update(
                profiles=usage["profiles"], multiple_profiles=usage["multiple_profiles"],
                raw_size=usage.get("size"), raw_used=usage.get("used"),
                unallocated=usage.get("unallocated"), free_min=usage.get("free_min"),
                data_ratio=usage.get("data_ratio"), metadata_ratio=usage.get("metadata_ratio"),
                quotas=quotas in ("on", "inconsistent"), quotas_state=quotas)
            info["state"] = "degraded" if fs["missing"] else "online"
        else:
            info["state"] = "unavailable"
        return info

    @staticmethod
    def _capacity(usage: dict[str, Any]) -> dict[str, int | None]:
        """``size``/``used``/``free`` a user can act on, from ``btrfs filesystem usage -b``:
        ``free`` = "Free (estimated)" (space left in data block groups plus unallocated device
        space divided by the data profile's ratio: raid1 halves it, raid1c3 thirds it); ``used``
        = the block groups' own used bytes (data + metadata + system, each copy once); ``size``
        = used + free. The raw device figures (every copy counted) go to properties."""
        free, used = usage.get("free"), usage.get("logical_used")
        if used is None and usage.get("used") is not None:   # -T layout: no block group lines
            used = round(usage["used"] / (usage.get("data_ratio") or 1.0))
        if free is None or used is None:
            return {"size": usage.get("size"), "used": usage.get("used"), "free": free}
        return {"size": used + free, "used": used, "free": free}

    async def pool_update(self, *, name: str, changes: dict[str, Any]) -> Row:
        """``mount``: mount/unmount; ``quotas``: turn qgroup accounting on (``btrfs quota
        enable``: volume and snapshot usage from qgroups, volume quotas; the existing data is
        rescanned in the background, meanwhile usage is measured) or off."""
        row = self._row(name)
        unknown = set(changes) - {"mount", "quotas"}
        if unknown:
            raise bad_request(f"unknown btrfs pool changes: {sorted(unknown)}", code="bad_options")
        if "quotas" in changes and not isinstance(changes["quotas"], bool):
            raise bad_request("quotas must be true or false", code="bad_options")
        if changes.get("mount") is True:
            await self.ensure_mounted(name)
        elif changes.get("mount") is False and self._mounted(row):
            await run(["umount", row["mountpoint"]], timeout=self.timeout)
        if "quotas" in changes:
            await self._sh("btrfs", "quota", "enable" if changes["quotas"] else "disable",
                           self._mnt(row))
        return await self.pool_get(name=name)

    async def pool_destroy(self, *, name: str) -> None:
        row = self._row(name)
        fs = await self._show(row)
        async with self._lock(name):
            if self._mounted(row):
                await run(["umount", row["mountpoint"]], timeout=self.timeout)
            for d in fs["devices"]:
                if d["path"]:
                    await run(["wipefs", "-a", "-q", d["path"]], check=False, timeout=60)
            self.db.execute("DELETE FROM btrfs_pools WHERE name=?", (name,))
            try:
                os.rmdir(row["mountpoint"])
            except OSError:
                pass

    async def pool_health(self, *, name: str) -> Row:
        row = self._row(name)
        if self.automount and not self._mounted(row):
            try:
                await self.ensure_mounted(name)
            except APIError:
                pass  # reported below as unavailable
        info = await self.pool_get(name=name)
        problems: list[dict[str, Any]] = []
        for d in info["devices"]:
            if d["state"] == "missing":
                problems.append({"severity": "critical", "device": d["id"],
                                 "message": f"device {d['id']} is missing: replace it "
                                 f"(POST .../devices/replace with old={d['id']!r})"})
            errs = {k: v for k, v in d["errors"].items() if v}
            if errs:
                problems.append({"severity": "warning", "device": d["path"] or d["id"],
                                 "message": f"device {d['path'] or d['id']} has I/O error "
                                 f"counters {errs}"})
        if info["state"] == "unavailable":
            problems.append({"severity": "critical", "device": None,
                             "message": "the pool is not mounted and could not be mounted"})
        if info["properties"].get("multiple_profiles"):
            problems.append({"severity": "warning", "device": None,
                             "message": "mixed block-group profiles (written while degraded?): "
                             "run a balance to restore redundancy"})
        return {"state": info["state"], "problems": problems, "devices": info["devices"]}

    async def pool_devices(self, *, name: str) -> list[str]:
        fs = await self._show(self._row(name))
        return [d["path"] for d in fs["devices"] if d["path"]]
