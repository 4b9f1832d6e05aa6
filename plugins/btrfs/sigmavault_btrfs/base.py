"""What every part of the btrfs backend shares: its settings, the ``btrfs_pools`` records, the
command runner, mounting, and the paths of volumes and snapshots.

A pool is one btrfs filesystem (label = pool name) mounted at ``<mount_root>/<pool>``; volumes
are top-level subvolumes; snapshots live at ``<mount>/.snapshots/<volume>/<snapshot>``. Which
filesystems are pools is recorded in the ``btrfs_pools`` table (name, uuid, mountpoint, layouts).
The resource modules (:mod:`.pools`, :mod:`.devices`, :mod:`.volumes`, :mod:`.snapshots`,
:mod:`.replication`) are mixins over :class:`BtrfsBase`; :mod:`.backend` composes them.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
from pathlib import Path
from typing import Any

from sigmavault.commands import CommandError, run
from sigmavault.db import Database
from sigmavault.errors import APIError, not_found

from . import parsers
from .snapdir import SnapshotDirs
from sigmavault.usage import UsageMeter

RAID_LEVELS = ["single", "dup", "raid0", "raid1", "raid1c3", "raid10"]
MIN_DEVICES = {"single": 1, "dup": 1, "raid0": 2, "raid1": 2, "raid1c3": 3, "raid10": 4}
COMPRESSION = ["zstd", "lzo", "zlib"]
SNAPDIR = ".snapshots"
LONG = 7 * 24 * 3600.0
_IOC_SUBVOL_GETFLAGS = 0x80089419  # _IOR(0x94, 25, __u64)
_SUBVOL_RDONLY = 1 << 1

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

PoolRow = dict[str, Any]  # a btrfs_pools row


def is_read_only(path: str) -> bool:
    """The subvolume's read-only flag, via the BTRFS_IOC_SUBVOL_GETFLAGS ioctl."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = fcntl.ioctl(fd, _IOC_SUBVOL_GETFLAGS, b"\0" * 8)
    finally:
        os.close(fd)
    return bool(struct.unpack("=Q", buf)[0] & _SUBVOL_RDONLY)


def quota_state(uuid: str) -> str | None:
    """The filesystem's qgroup accounting from sysfs: ``"on"``, ``"off"``, ``"inconsistent"``
    (a rescan runs or is needed: the figures are not to be trusted) or None (no sysfs)."""
    base = Path(f"/sys/fs/btrfs/{uuid}")
    if not base.is_dir():
        return None
    try:
        if (base / "qgroups" / "enabled").read_text().strip() != "1":
            return "off"
        inconsistent = (base / "qgroups" / "inconsistent").read_text().strip() == "1"
    except OSError:
        return "off"
    return "inconsistent" if inconsistent else "on"


def btrfs(*args: str) -> list[str]:
    """The argv of ``btrfs <args>``."""
    return ["btrfs", *args]


class BtrfsBase:
    """Settings, records, commands, mounts and paths of the btrfs backend."""

    name: str   # "btrfs", set by BtrfsBackend

    def __init__(self, db: Database, mount_root: Path, mount_options: list[str] | None = None,
                 allow_degraded: bool = True, automount: bool = True,
                 timeout: float = 120.0) -> None:
        self.db = db
        self.mount_root = mount_root
        self.mount_options: list[str] = ["noatime"] if mount_options is None else mount_options
        self.allow_degraded = allow_degraded
        self.automount = automount
        self.timeout = timeout
        self.compsize_timeout = 30.0
        self._locks: dict[str, asyncio.Lock] = {}
        self._scrub_total: dict[str, int] = {}   # pool → used bytes when its scrub started
        self._snapdirs = SnapshotDirs()          # snapshot directory reads (:mod:`.snapdir`)
        self._compsize_kept: dict[str, tuple[int, dict[str, Any]]] = {}  # subvolume → (gen, figures)
        self.usage = UsageMeter()                # measured volume usage while quotas are off

    # --- records ---------------------------------------------------------------------------------

    def _row(self, name: str) -> PoolRow:
        row = self.db.one("SELECT * FROM btrfs_pools WHERE name=?", (name,))
        if row is None:
            raise not_found("pool", name)
        return row

    def pool_names(self) -> list[str]:
        """The names of the recorded pools, sorted."""
        return [r["name"] for r in self.db.all("SELECT name FROM btrfs_pools ORDER BY name")]

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # --- commands --------------------------------------------------------------------------------

    async def _sh(self, *args: str, timeout: float | None = None, check: bool = True) -> str:
        result = await run(list(args), timeout=timeout or self.timeout, check=False)
        if check and not result.ok:
            lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
            reason = next((ln for ln in lines if ln.startswith("ERROR")), lines[0] if lines else
                          f"exit {result.returncode}")
            raise CommandError(result, f"{' '.join(args[:3])}: {reason}", status=409,
                               code="btrfs_failed")
        return result.stdout

    async def _show(self, row: PoolRow) -> dict[str, Any]:
        target = row["mountpoint"] if self._mounted(row) else row["uuid"]
        result = await run(btrfs("filesystem", "show", "--raw", target), check=False, timeout=60)
        found = parsers.parse_filesystem_show(result.stdout)
        if not found:
            return {"uuid": row["uuid"], "devices": [], "missing": True, "total_devices": 0,
                    "label": row["name"], "used": None}
        return found[0]

    # --- mounts ----------------------------------------------------------------------------------

    @staticmethod
    def _mounted(row: PoolRow) -> bool:
        return os.path.ismount(row["mountpoint"])

    def _mnt(self, row: PoolRow) -> str:
        if not self._mounted(row):
            raise APIError(409, "pool_not_mounted", f"pool {row['name']} is not mounted "
                           "(missing devices?); see its health", {"pool": row["name"]})
        return str(row["mountpoint"])

    async def _mount(self, row: PoolRow, device: str | None = None) -> bool:
        """Mount the pool; with missing devices, degraded when allowed. Returns degraded."""
        mnt = Path(row["mountpoint"])
        mnt.mkdir(parents=True, exist_ok=True)
        await run(btrfs("device", "scan"), check=False, timeout=60)
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
        """Mount the pool ``name`` unless it is mounted."""
        row = self._row(name)
        if not self._mounted(row):
            async with self._lock(name):
                if not self._mounted(row):
                    await self._mount(row)

    # --- paths -----------------------------------------------------------------------------------

    def _vol_path(self, row: PoolRow, volume: str) -> Path:
        path = Path(self._mnt(row)) / volume
        if not path.is_dir():
            raise not_found("volume", f"{row['name']}/{volume}")
        return path

    def _snap_path(self, row: PoolRow, volume: str, snap: str) -> Path:
        self._vol_path(row, volume)
        path = Path(row["mountpoint"]) / SNAPDIR / volume / snap
        if not path.is_dir():
            raise not_found("snapshot", f"{row['name']}/{volume}@{snap}")
        return path
