"""The ``btrfs`` storage backend (protocol: docs/plugins/storage-backends.md).

A pool is one btrfs filesystem (label = pool name) mounted at ``<mount_root>/<pool>``; volumes
are top-level subvolumes with qgroup quotas and the ``compression`` property; snapshots live at
``<mount>/.snapshots/<volume>/<snapshot>``. Which filesystems are pools is recorded in the
``btrfs_pools`` table (name, uuid, mountpoint, layouts).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import struct
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sigmavault.commands import CommandError, run
from sigmavault.errors import APIError, bad_request, conflict, not_found

from . import parsers
from .snapdir import DirRead, SnapshotDirs, generation, snapshot_dicts

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

Progress = Callable[[float | None, str | None], None]

RAID_LEVELS = ["single", "dup", "raid0", "raid1", "raid1c3", "raid10"]
MIN_DEVICES = {"single": 1, "dup": 1, "raid0": 2, "raid1": 2, "raid1c3": 3, "raid10": 4}
COMPRESSION = ["zstd", "lzo", "zlib"]
SNAPDIR = ".snapshots"
_IOC_SUBVOL_GETFLAGS = 0x80089419  # _IOR(0x94, 25, __u64)
_SUBVOL_RDONLY = 1 << 1
LONG = 7 * 24 * 3600.0

MIGRATIONS = [
    """CREATE TABLE btrfs_pools (
        name TEXT PRIMARY KEY,
        uuid TEXT NOT NULL,
        mountpoint TEXT NOT NULL,
        layout TEXT,
        metadata_layout TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );""",
]


def is_read_only(path: str) -> bool:
    """The subvolume's read-only flag, via the BTRFS_IOC_SUBVOL_GETFLAGS ioctl."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = fcntl.ioctl(fd, _IOC_SUBVOL_GETFLAGS, b"\0" * 8)
    finally:
        os.close(fd)
    return bool(struct.unpack("=Q", buf)[0] & _SUBVOL_RDONLY)


def _btrfs(*args: str) -> list[str]:
    return ["btrfs", *args]


class BtrfsBackend:
    name = "btrfs"
    description = "btrfs filesystems on whole disks: raid profiles, subvolumes, snapshots, scrub"
    capabilities: dict[str, Any] = {
        "raid_levels": RAID_LEVELS, "min_devices": MIN_DEVICES, "needs_devices": True,
        "snapshots": True, "writable_snapshots": True, "rollback": True,
        "rollback_keeps_newer": True, "clone": True, "scrub": True, "balance": True,
        "quotas": True, "compression": COMPRESSION, "send_receive": True,
        "incremental_send": True, "diff": True, "import": True, "device_add": True,
        "device_remove": True, "device_replace": True, "degraded_detection": True,
        "needs_root": True,
    }

    def __init__(self) -> None:
        self.app: "SigmaVault | None" = None
        self.mount_root: Path | None = None
        self.mount_options: list[str] = ["noatime"]
        self.allow_degraded = True
        self.automount = True
        self.timeout = 120.0
        self.compsize_timeout = 30.0
        self._scrub_total: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._snapdirs = SnapshotDirs()
        self._compsize_kept: dict[str, tuple[int, dict[str, Any]]] = {}  # subvolume → (gen, figures)

    def configure(self, app: "SigmaVault", mount_root: Path, mount_options: list[str],
                  allow_degraded: bool, automount: bool, timeout: float) -> None:
        self.app = app
        self.mount_root = mount_root
        self.mount_options = mount_options
        self.allow_degraded = allow_degraded
        self.automount = automount
        self.timeout = timeout

    # --- records and helpers ---------------------------------------------------------------------

    def _db(self) -> Any:
        if self.app is None:
            raise APIError(503, "not_configured", "the btrfs backend has not started yet")
        return self.app.db

    def _row(self, name: str) -> dict[str, Any]:
        row = self._db().one("SELECT * FROM btrfs_pools WHERE name=?", (name,))
        if row is None:
            raise not_found("pool", name)
        return row

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _sh(self, *args: str, timeout: float | None = None, check: bool = True) -> str:
        result = await run(list(args), timeout=timeout or self.timeout, check=False)
        if check and not result.ok:
            lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
            reason = next((ln for ln in lines if ln.startswith("ERROR")), lines[0] if lines else
                          f"exit {result.returncode}")
            raise CommandError(result, f"{' '.join(args[:3])}: {reason}", status=409,
                               code="btrfs_failed")
        return result.stdout

    @staticmethod
    def _mounted(row: dict[str, Any]) -> bool:
        return os.path.ismount(row["mountpoint"])

    def _mnt(self, row: dict[str, Any]) -> str:
        if not self._mounted(row):
            raise APIError(409, "pool_not_mounted", f"pool {row['name']} is not mounted "
                           "(missing devices?); see its health", {"pool": row["name"]})
        return row["mountpoint"]

    async def _show(self, row: dict[str, Any]) -> dict[str, Any]:
        target = row["mountpoint"] if self._mounted(row) else row["uuid"]
        result = await run(_btrfs("filesystem", "show", "--raw", target), check=False, timeout=60)
        found = parsers.parse_filesystem_show(result.stdout)
        if not found:
            return {"uuid": row["uuid"], "devices": [], "missing": True, "total_devices": 0,
                    "label": row["name"], "used": None}
        return found[0]

    async def _mount(self, row: dict[str, Any], device: str | None = None) -> bool:
        """Mount the pool; with missing devices, degraded when allowed. Returns degraded."""
        mnt = Path(row["mountpoint"])
        mnt.mkdir(parents=True, exist_ok=True)
        await run(_btrfs("device", "scan"), check=False, timeout=60)
        source = device or f"UUID={row['uuid']}"
        opts = ",".join(self.mount_options) or "defaults"
        first = await run(["mount", "-t", "btrfs", "-o", opts, source, str(mnt)], check=False,
                          timeout=self.timeout)
        if first.ok:
            return False
        if not self.allow_degraded:
            raise CommandError(first, f"mount of {row['name']} failed: {first.stderr.strip()}")
        await run(["mount", "-t", "btrfs", "-o", opts + ",degraded", source, str(mnt)],
                  timeout=self.timeout)
        return True

    async def ensure_mounted(self, name: str) -> None:
        row = self._row(name)
        if not self._mounted(row):
            async with self._lock(name):
                if not self._mounted(row):
                    await self._mount(row)

    def _vol_path(self, row: dict[str, Any], volume: str) -> Path:
        path = Path(self._mnt(row)) / volume
        if not path.is_dir():
            raise not_found("volume", f"{row['name']}/{volume}")
        return path

    def _snap_path(self, row: dict[str, Any], volume: str, snap: str) -> Path:
        self._vol_path(row, volume)
        path = Path(row["mountpoint"]) / SNAPDIR / volume / snap
        if not path.is_dir():
            raise not_found("snapshot", f"{row['name']}/{volume}@{snap}")
        return path

    # --- availability ----------------------------------------------------------------------------

    async def available(self) -> dict[str, Any]:
        if shutil.which("btrfs") is None or shutil.which("mkfs.btrfs") is None:
            return {"available": False, "reason": "btrfs-progs is not installed", "version": None}
        if os.geteuid() != 0:
            return {"available": False, "reason": "the btrfs backend needs root", "version": None}
        with open("/proc/filesystems") as f:
            if "btrfs" not in f.read():
                await run(["modprobe", "btrfs"], check=False, timeout=30)
        version = (await run(_btrfs("--version"), check=False, timeout=10)).stdout.strip()
        return {"available": True, "reason": None, "version": version or None}

    # --- pools -----------------------------------------------------------------------------------

    async def pool_create(self, *, name: str, topology: dict, devices: list[str],
                          options: dict) -> dict[str, Any]:
        if self.mount_root is None:
            raise APIError(503, "not_configured", "the btrfs backend has not started yet")
        unknown = set(options) - {"mount_options"}
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
        if self._db().one("SELECT 1 FROM btrfs_pools WHERE name=?", (name,)):
            raise conflict(f"pool {name!r} already exists", code="pool_exists")
        mnt = self.mount_root / name
        if mnt.exists() and (os.path.ismount(mnt) or any(mnt.iterdir())):
            raise conflict(f"mount point {mnt} is in use", code="mountpoint_busy")
        await run(["mkfs.btrfs", "-q", "-L", name, "-d", layout, "-m", meta, "--", *devices],
                  timeout=self.timeout)
        row: dict[str, Any] = {"name": name, "mountpoint": str(mnt), "layout": layout,
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
                await self._sh("btrfs", "quota", "enable", str(mnt))
                (mnt / SNAPDIR).mkdir(exist_ok=True)
            except BaseException:
                await run(["umount", str(mnt)], check=False, timeout=self.timeout)
                raise
            self._db().execute(
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
                          options: dict) -> dict[str, Any]:
        if self._db().one("SELECT 1 FROM btrfs_pools WHERE name=?", (name,)):
            raise conflict(f"pool {name!r} is already imported", code="pool_exists")
        await run(_btrfs("device", "scan"), check=False, timeout=60)
        target = devices[0] if devices else None
        out = (await run(_btrfs("filesystem", "show", "--raw", *( [target] if target else [])),
                         check=False, timeout=60)).stdout
        candidates = [fs for fs in parsers.parse_filesystem_show(out)
                      if target or fs["label"] == name]
        if not candidates:
            raise not_found("btrfs filesystem", target or f"label {name}")
        fs = candidates[0]
        mnt = self.mount_root / name  # type: ignore[operator]
        row = {"name": name, "uuid": fs["uuid"], "mountpoint": str(mnt)}
        await self._mount(row, None)
        usage = parsers.parse_filesystem_usage(await self._sh("btrfs", "filesystem", "usage", "-b",
                                                              str(mnt)))
        data = (usage["profiles"].get("data") or ["single"])[0]
        meta = (usage["profiles"].get("metadata") or ["single"])[0]
        (mnt / SNAPDIR).mkdir(exist_ok=True)
        self._db().execute("INSERT INTO btrfs_pools(name, uuid, mountpoint, layout, metadata_layout)"
                           " VALUES(?,?,?,?,?)", (name, fs["uuid"], str(mnt), data, meta))
        return await self.pool_get(name=name)

    async def pool_export(self, *, name: str) -> None:
        row = self._row(name)
        if self._mounted(row):
            result = await run(["umount", row["mountpoint"]], check=False, timeout=self.timeout)
            if not result.ok:
                raise conflict(f"cannot unmount pool {name}: {result.stderr.strip()}",
                               code="pool_busy", pool=name)
        self._db().execute("DELETE FROM btrfs_pools WHERE name=?", (name,))

    async def pool_list(self) -> list[dict[str, Any]]:
        if self.app is None:
            return []
        rows = self._db().all("SELECT name FROM btrfs_pools ORDER BY name")
        return [await self.pool_get(name=r["name"]) for r in rows]

    async def _devices(self, row: dict[str, Any], fs: dict[str, Any]) -> list[dict[str, Any]]:
        stats: dict[str, dict[str, int]] = {}
        if self._mounted(row):
            out = await run(_btrfs("device", "stats", row["mountpoint"]), check=False, timeout=60)
            stats = parsers.parse_device_stats(out.stdout)
        devices = []
        for d in fs["devices"]:
            key = d["path"] if d["path"] else "<missing disk>"
            devices.append({"path": d["path"], "id": str(d["devid"]),
                            "state": "missing" if d["missing"] else "online", "size": d["size"],
                            "errors": stats.get(key, {})})
        return devices

    async def pool_get(self, *, name: str) -> dict[str, Any]:
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
            info.update(size=usage.get("size"), used=usage.get("used"), free=usage.get("free"))
            info["properties"].update(profiles=usage["profiles"],
                                      multiple_profiles=usage["multiple_profiles"])
            info["state"] = "degraded" if fs["missing"] else "online"
        else:
            info["state"] = "unavailable"
        return info

    async def pool_update(self, *, name: str, changes: dict) -> dict[str, Any]:
        row = self._row(name)
        unknown = set(changes) - {"mount"}
        if unknown:
            raise bad_request(f"unknown btrfs pool changes: {sorted(unknown)}", code="bad_options")
        if changes.get("mount") is True:
            await self.ensure_mounted(name)
        elif changes.get("mount") is False and self._mounted(row):
            await run(["umount", row["mountpoint"]], timeout=self.timeout)
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
            self._db().execute("DELETE FROM btrfs_pools WHERE name=?", (name,))
            try:
                os.rmdir(row["mountpoint"])
            except OSError:
                pass

    async def pool_health(self, *, name: str) -> dict[str, Any]:
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

    # --- devices ---------------------------------------------------------------------------------

    async def device_add(self, *, pool: str, devices: list[str]) -> dict[str, Any]:
        row = self._row(pool)
        await self._sh("btrfs", "device", "add", "--", *devices, self._mnt(row))
        return await self.pool_get(name=pool)

    async def device_remove(self, *, pool: str, device: str,
                            progress: Progress | None = None) -> dict[str, Any]:
        row = self._row(pool)
        mnt = self._mnt(row)
        fs = await self._show(row)
        known = {d["path"] for d in fs["devices"] if d["path"]} | {str(d["devid"]) for d in fs["devices"]}
        if device not in known and device != "missing":
            raise bad_request(f"{device} is not a device of pool {pool}", code="unknown_device")
        remaining = len(fs["devices"]) - 1
        need = max(MIN_DEVICES.get(row["layout"] or "single", 1),
                   MIN_DEVICES.get(row["metadata_layout"] or "single", 1))
        if remaining < need:
            raise conflict(f"removing {device} leaves {remaining} device(s); {row['layout']} "
                           f"needs {need}", code="too_few_devices")
        if progress:
            progress(None, f"removing {device} (moving its data)")
        await self._sh("btrfs", "device", "remove", device, mnt, timeout=LONG)
        return await self.pool_get(name=pool)

    async def device_replace(self, *, pool: str, old: str, new: str,
                             progress: Progress | None = None) -> dict[str, Any]:
        row = self._row(pool)
        mnt = self._mnt(row)
        fs = await self._show(row)
        by_id = {str(d["devid"]): d for d in fs["devices"]}
        by_path = {d["path"]: d for d in fs["devices"] if d["path"]}
        target = by_id.get(old) or by_path.get(old)
        if target is None:
            raise bad_request(f"{old} is not a device (path or devid) of pool {pool}",
                              code="unknown_device")
        source = str(target["devid"]) if target["missing"] else target["path"]
        task = asyncio.ensure_future(self._sh("btrfs", "replace", "start", "-B", source, new, mnt,
                                              timeout=LONG))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=1.0)
                st = parsers.parse_replace_status(
                    (await run(_btrfs("replace", "status", "-1", mnt), check=False,
                               timeout=60)).stdout)
                if progress and st["percent"] is not None:
                    progress(min(st["percent"], 99.0) * 0.9, f"replacing {old} with {new}")
            await task
        except asyncio.CancelledError:
            await run(_btrfs("replace", "cancel", mnt), check=False, timeout=60)
            raise
        await self._restore_profiles(row, progress)
        return await self.pool_get(name=pool)

    async def _restore_profiles(self, row: dict[str, Any], progress: Progress | None) -> None:
        """After degraded writes, convert stray chunks back to the pool's profiles."""
        usage = parsers.parse_filesystem_usage(
            await self._sh("btrfs", "filesystem", "usage", "-b", row["mountpoint"]))
        if not usage["multiple_profiles"]:
            return
        if progress:
            progress(95.0, "restoring redundancy of chunks written while degraded")
        await self._sh("btrfs", "balance", "start", f"-dconvert={row['layout']},soft",
                       f"-mconvert={row['metadata_layout']},soft", row["mountpoint"], timeout=LONG)

    # --- scrub and balance -----------------------------------------------------------------------

    async def scrub_start(self, *, pool: str) -> None:
        row = self._row(pool)
        mnt = self._mnt(row)
        usage = parsers.parse_filesystem_usage(await self._sh("btrfs", "filesystem", "usage", "-b", mnt))
        self._scrub_total[pool] = int(usage.get("used") or 0)
        await self._sh("btrfs", "scrub", "start", mnt)

    async def scrub_status(self, *, pool: str) -> dict[str, Any]:
        row = self._row(pool)
        out = await run(_btrfs("scrub", "status", "-R", self._mnt(row)), check=False, timeout=60)
        st = parsers.parse_scrub_status(out.stdout)
        total = self._scrub_total.get(pool) or st["bytes_total"]
        percent = st["percent"]
        if st["state"] == "finished":
            percent = 100.0
        elif total and st["bytes_scrubbed"] is not None:
            percent = min(99.9, 100.0 * st["bytes_scrubbed"] / total)
        return {"state": st["state"], "percent": percent, "bytes_scrubbed": st["bytes_scrubbed"],
                "bytes_total": total, "errors": st["errors"], "started": st["started"],
                "finished": None, "details": {"duration": st["duration"],
                                              "corrected": st["corrected"],
                                              "counters": st["counters"]}}

    async def scrub_cancel(self, *, pool: str) -> None:
        row = self._row(pool)
        await run(_btrfs("scrub", "cancel", self._mnt(row)), check=False, timeout=60)

    async def balance(self, *, pool: str, options: dict, progress: Progress | None = None
                      ) -> dict[str, Any]:
        row = self._row(pool)
        mnt = self._mnt(row)
        args = ["btrfs", "balance", "start"]
        data, meta = options.get("data_profile"), options.get("metadata_profile")
        devices = len([d for d in (await self._show(row))["devices"] if not d["missing"]])
        for profile in (data, meta):
            if profile and MIN_DEVICES.get(profile, 1) > devices:
                raise bad_request(f"{profile} needs {MIN_DEVICES[profile]} devices; the pool has "
                                  f"{devices}", code="too_few_devices")
        if data:
            args.append(f"-dconvert={data}")
        if meta:
            args.append(f"-mconvert={meta}")
        if not data and not meta:
            args.append("--full-balance")
        if options.get("force"):
            args.append("-f")
        task = asyncio.ensure_future(self._sh(*args, mnt, timeout=LONG))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                st = parsers.parse_balance_status(
                    (await run(_btrfs("balance", "status", mnt), check=False, timeout=60)).stdout)
                if progress and st["percent_left"] is not None:
                    progress(100.0 - st["percent_left"], f"balancing {pool}")
            out = await task
        except asyncio.CancelledError:
            await run(_btrfs("balance", "cancel", mnt), check=False, timeout=600)
            raise
        if data or meta:
            self._db().execute("UPDATE btrfs_pools SET layout=COALESCE(?, layout), "
                               "metadata_layout=COALESCE(?, metadata_layout) WHERE name=?",
                               (data, meta, pool))
        m = __import__("re").search(r"had to relocate (\d+) out of (\d+) chunks", out)
        return {"chunks_balanced": int(m.group(1)) if m else None}

    # --- volumes ---------------------------------------------------------------------------------

    async def _subvolumes(self, mnt: str, snapshots_only: bool = False) -> list[dict[str, Any]]:
        args = ["btrfs", "subvolume", "list"] + (["-s"] if snapshots_only else []) + [mnt]
        return parsers.parse_subvolume_list(await self._sh(*args))

    async def _qgroups(self, mnt: str) -> dict[int, dict[str, Any]]:
        out = await run(_btrfs("qgroup", "show", "--raw", "-re", mnt), check=False, timeout=60)
        return parsers.parse_qgroup_show(out.stdout) if out.ok else {}

    async def _volume_info(self, row: dict[str, Any], name: str, sub: dict[str, Any] | None,
                           qgroups: dict[int, dict[str, Any]], created: str | None = None
                           ) -> dict[str, Any]:
        path = Path(row["mountpoint"]) / name
        comp = await run(_btrfs("property", "get", str(path), "compression"), check=False,
                         timeout=60)
        q = qgroups.get(sub["id"]) if sub else None
        props: dict[str, Any] = {"subvolume_id": sub["id"] if sub else None,
                                 "uuid": sub.get("uuid") if sub else None}
        props.update(await self._compsize(path, sub, row["uuid"]))
        return {"name": name, "pool": row["name"], "path": str(path),
                "used": q["referenced"] if q else None, "quota": q["max_referenced"] if q else None,
                "compression": parsers.parse_property(comp.stdout, "compression"),
                "origin": None, "created": created, "properties": props}

    async def _compsize(self, path: Path, sub: dict[str, Any] | None, fs_uuid: str
                        ) -> dict[str, Any]:
        """On-disk compression figures of a subvolume from ``compsize -b -x`` (Debian
        ``btrfs-compsize``): ``compressed_bytes`` (disk usage of its data extents),
        ``uncompressed_bytes``, ``referenced_bytes`` and ``compressratio`` ("2.10x",
        uncompressed / disk usage). Empty when compsize is not installed, fails (no data
        extents yet) or takes longer than ``compsize_timeout``.

        compsize reads every file's extents, so the figures are kept per subvolume until its
        generation (``sub["gen"]``: the last transaction that wrote to it) changes — once that
        transaction is over (older than the filesystem's current one), since a subvolume written in
        the running transaction keeps its generation until the commit."""
        if self.compsize_timeout <= 0 or shutil.which("compsize") is None:
            return {}
        fs_gen = generation(fs_uuid)
        key = ((sub["uuid"] or str(path), sub["gen"])
               if sub and fs_gen is not None and sub["gen"] < fs_gen else None)
        if key is not None and self._compsize_kept.get(key[0], (None, None))[0] == key[1]:
            return self._compsize_kept[key[0]][1]
        try:
            out = await run(["compsize", "-b", "-x", "--", str(path)], check=False,
                            timeout=self.compsize_timeout)
        except CommandError:   # timed out: a huge volume; the figures are optional
            return {}
        sizes = parsers.parse_compsize(out.stdout) if out.ok else None
        figures = {} if not sizes or not sizes["disk_usage"] else {
            "compressed_bytes": sizes["disk_usage"], "uncompressed_bytes": sizes["uncompressed"],
            "referenced_bytes": sizes["referenced"],
            "compressratio": f"{sizes['uncompressed'] / sizes['disk_usage']:.2f}x"}
        if key is not None:
            self._compsize_kept[key[0]] = (key[1], figures)
        return figures

    async def _top_subvols(self, mnt: str) -> dict[str, dict[str, Any]]:
        return {s["path"]: s for s in await self._subvolumes(mnt) if "/" not in s["path"]
                and not s["path"].startswith(".")}

    async def volume_create(self, *, pool: str, name: str, quota: int | None,
                            compression: str | None) -> dict[str, Any]:
        row = self._row(pool)
        path = Path(self._mnt(row)) / name
        if path.exists():
            raise conflict(f"volume {pool}/{name} already exists", code="volume_exists")
        await self._sh("btrfs", "subvolume", "create", str(path))
        try:
            await self._apply(path, {k: v for k, v in {"quota": quota,
                                                       "compression": compression}.items() if v})
        except BaseException:
            await run(_btrfs("subvolume", "delete", str(path)), check=False, timeout=self.timeout)
            raise
        return await self.volume_get(pool=pool, name=name)

    async def _apply(self, path: Path, changes: dict[str, Any]) -> None:
        if "quota" in changes:
            quota = changes["quota"]
            await self._sh("btrfs", "qgroup", "limit", str(quota) if quota else "none", str(path))
        if "compression" in changes:
            comp = changes["compression"]
            await self._sh("btrfs", "property", "set", str(path), "compression",
                           "" if comp in (None, "off") else comp)

    async def volume_list(self, *, pool: str) -> list[dict[str, Any]]:
        row = self._row(pool)
        mnt = self._mnt(row)
        subs = await self._top_subvols(mnt)
        qgroups = await self._qgroups(mnt)
        return [await self._volume_info(row, n, subs[n], qgroups) for n in sorted(subs)]

    async def volume_get(self, *, pool: str, name: str) -> dict[str, Any]:
        row = self._row(pool)
        path = self._vol_path(row, name)
        subs = await self._top_subvols(row["mountpoint"])
        if name not in subs:
            raise not_found("volume", f"{pool}/{name}")
        show = parsers.parse_subvolume_show(await self._sh("btrfs", "subvolume", "show", str(path)))
        return await self._volume_info(row, name, subs[name], await self._qgroups(row["mountpoint"]),
                                       show["created"])

    async def volume_update(self, *, pool: str, name: str, changes: dict) -> dict[str, Any]:
        row = self._row(pool)
        await self._apply(self._vol_path(row, name), changes)
        return await self.volume_get(pool=pool, name=name)

    async def volume_destroy(self, *, pool: str, name: str) -> None:
        row = self._row(pool)
        path = self._vol_path(row, name)
        snaps = Path(row["mountpoint"]) / SNAPDIR / name
        if snaps.is_dir() and any(snaps.iterdir()):
            raise conflict(f"volume {pool}/{name} has snapshots; delete them first",
                           code="volume_has_snapshots")
        await self._sh("btrfs", "subvolume", "delete", str(path))
        if snaps.is_dir():
            snaps.rmdir()

    async def volume_path(self, *, pool: str, name: str) -> str:
        return str(self._vol_path(self._row(pool), name))

    # --- snapshots -------------------------------------------------------------------------------

    async def snapshot_create(self, *, pool: str, volume: str, name: str,
                              writable: bool = False) -> dict[str, Any]:
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

    async def snapshot_list(self, *, pool: str, volume: str) -> list[dict[str, Any]]:
        """The subvolumes in ``.snapshots/<volume>/`` that are snapshots or read-only (received
        full streams), read from the root tree by ioctl (:mod:`.subvols`), in id order."""
        return (await self._read_snapdir(pool, volume, dicts=True))[1]

    async def snapshot_list_token(self, *, pool: str, volume: str) -> str | None:
        """Changes whenever the snapshot list of ``volume`` may have changed: the serial of the
        directory read that is still valid (:mod:`.snapdir`: the directory's stat and a
        ``min_transid`` search of the root tree). None (no caching) without sysfs."""
        read, _ = await self._read_snapdir(pool, volume, dicts=False)
        return f"btrfs:{read.serial}" if read.generation is not None else None

    async def snapshot_get(self, *, pool: str, volume: str, name: str) -> dict[str, Any]:
        row = self._row(pool)
        path = self._snap_path(row, volume, name)
        show = parsers.parse_subvolume_show(await self._sh("btrfs", "subvolume", "show", str(path)))
        if show["id"] is None:
            raise not_found("snapshot", f"{pool}/{volume}@{name}")
        return {"name": name, "pool": pool, "volume": volume, "created": show["created"],
                "writable": not show["readonly"], "used": None, "path": str(path),
                "properties": {"subvolume_id": show["id"], "uuid": show["uuid"],
                               "received_uuid": show["received_uuid"]}}

    async def snapshot_delete(self, *, pool: str, volume: str, name: str) -> None:
        row = self._row(pool)
        await self._sh("btrfs", "subvolume", "delete", str(self._snap_path(row, volume, name)))

    async def _settings(self, row: dict[str, Any], volume: str) -> dict[str, Any]:
        info = await self.volume_get(pool=row["name"], name=volume)
        return {"quota": info["quota"], "compression": info["compression"]}

    async def snapshot_rollback(self, *, pool: str, volume: str, name: str) -> dict[str, Any]:
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
                             target: str) -> dict[str, Any]:
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

    # --- send / receive / diff -------------------------------------------------------------------

    async def send(self, *, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> dict[str, Any]:
        row = self._row(pool)
        snap = self._snap_path(row, volume, snapshot)
        if not is_read_only(str(snap)):
            raise bad_request("only read-only snapshots can be sent", code="snapshot_writable")
        args = ["btrfs", "send", "-q"]
        if base:
            args += ["-p", str(self._snap_path(row, volume, base))]
        dest = Path(target)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            await run([*args, "-f", str(tmp), str(snap)], timeout=LONG)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return {"bytes": dest.stat().st_size, "format": "btrfs-send", "incremental": bool(base)}

    async def receive(self, *, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> dict[str, Any]:
        row = self._row(pool)
        mnt = Path(self._mnt(row))
        # received subvolumes are read-only: they cannot move between directories afterwards,
        # so receive straight into the volume's snapshot directory (renames there are fine)
        parent = mnt / SNAPDIR / volume
        parent.mkdir(parents=True, exist_ok=True)
        async with self._lock(f"{pool}/{volume}"):
            before = set(os.listdir(parent))
            try:
                await self._sh("btrfs", "receive", "-f", source, str(parent), timeout=LONG)
            except BaseException:
                for leftover in set(os.listdir(parent)) - before:
                    await run(_btrfs("subvolume", "delete", str(parent / leftover)), check=False,
                              timeout=600)
                raise
            [received] = set(os.listdir(parent)) - before
            name = snapshot or received
            if name != received:
                if (parent / name).exists():
                    await run(_btrfs("subvolume", "delete", str(parent / received)), check=False,
                              timeout=600)
                    raise conflict(f"snapshot {pool}/{volume}@{name} already exists",
                                   code="snapshot_exists")
                os.rename(parent / received, parent / name)
            if not (mnt / volume).exists():
                await self._sh("btrfs", "subvolume", "snapshot", str(parent / name),
                               str(mnt / volume))
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def diff(self, *, pool: str, volume: str, old: str,
                   new: str | None = None) -> list[dict[str, Any]]:
        row = self._row(pool)
        old_path = self._snap_path(row, volume, old)
        temp = None
        if new is None:
            temp = Path(row["mountpoint"]) / SNAPDIR / volume / f".diff-{uuid.uuid4().hex[:8]}"
            await self._sh("btrfs", "subvolume", "snapshot", "-r", str(self._vol_path(row, volume)),
                           str(temp))
            new_path = temp
        else:
            new_path = self._snap_path(row, volume, new)
        stream = Path(row["mountpoint"]) / SNAPDIR / f".diff-{uuid.uuid4().hex[:8]}.stream"
        try:
            await run(["btrfs", "send", "-q", "--no-data", "-p", str(old_path), "-f", str(stream),
                       str(new_path)], timeout=LONG)
            dump = await run(_btrfs("receive", "--dump", "-f", str(stream)), timeout=LONG)
        finally:
            stream.unlink(missing_ok=True)
            if temp is not None:
                await run(_btrfs("subvolume", "delete", str(temp)), check=False, timeout=600)
        return parsers.parse_receive_dump(dump.stdout)
