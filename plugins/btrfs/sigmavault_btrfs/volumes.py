"""Volumes of the btrfs backend: top-level subvolumes with a qgroup quota, the ``compression``
property and, where ``compsize`` is installed, their on-disk compression figures."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from sigmavault.backends import Row
from sigmavault.commands import CommandError, run
from sigmavault.errors import APIError, conflict, not_found

from . import parsers, subvols
from .base import SNAPDIR, BtrfsBase, PoolRow, btrfs, quota_state
from .snapdir import generation
from .subvols import U64_MAX


class VolumeOps(BtrfsBase):
    """The volume methods of the storage protocol."""

    async def _subvolumes(self, mnt: str, snapshots_only: bool = False) -> list[Row]:
        args = ["btrfs", "subvolume", "list"] + (["-s"] if snapshots_only else []) + [mnt]
        return parsers.parse_subvolume_list(await self._sh(*args))

    async def _qgroups(self, mnt: str) -> dict[int, dict[str, Any]]:
        """``{subvolume id: {"referenced", "exclusive", "max_referenced", "max_exclusive"}}``
        of the level-0 qgroups (what ``btrfs qgroup show --raw -re`` prints), read from the
        quota tree by one ioctl search (:func:`.subvols.qgroups`: milliseconds where the tool
        takes most of a second with 10,000 snapshots); empty when quotas are off."""
        def read() -> subvols.Qgroups | None:
            fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
            try:
                return subvols.qgroups(fd, limits=True)
            finally:
                os.close(fd)

        try:
            found = await asyncio.to_thread(read)
        except OSError:
            return {}
        if found is None:
            return {}
        return {sid: {"referenced": rfer, "exclusive": excl,
                      "max_referenced": found.limits.get(sid, (None, None))[0],
                      "max_exclusive": found.limits.get(sid, (None, None))[1]}
                for sid, (rfer, excl) in found.usage.items()}

    async def _volume_info(self, row: PoolRow, name: str, sub: dict[str, Any] | None,
                           qgroups: dict[int, dict[str, Any]], created: str | None = None,
                           measure: bool = False) -> Row:
        """A volume's row. ``used``: its qgroup's referenced bytes (what it holds, shared with
        snapshots or not: ``du``'s figure, compressed extents at their on-disk size) while
        quotas are on and consistent, with ``properties.exclusive`` (what only it holds);
        otherwise the last measurement of its tree (``properties.used_measured_at``; with
        ``measure`` a fresh one when there is none yet). ``properties.used_source`` says which."""
        path = Path(row["mountpoint"]) / name
        comp = await run(btrfs("property", "get", str(path), "compression"), check=False,
                         timeout=60)
        q = qgroups.get(sub["id"]) if sub else None
        props: dict[str, Any] = {"subvolume_id": sub["id"] if sub else None,
                                 "uuid": sub.get("uuid") if sub else None}
        state = quota_state(row["uuid"])
        used: int | None
        if q is not None and state in ("on", None):
            used = q["referenced"]
            props.update(used_source="qgroup", referenced=q["referenced"],
                         exclusive=q["exclusive"])
        else:
            measured = self.usage.cached(path)
            if measured is None and measure:
                measured = await self.usage.measure(path)
            used = measured.used if measured else None
            props.update(used_source="measured",
                         used_measured_at=measured.measured_at if measured else None,
                         quotas_state=state)
        props.update(await self._compsize(path, sub, row["uuid"]))
        return {"name": name, "pool": row["name"], "path": str(path),
                "used": used, "quota": q["max_referenced"] if q else None,
                "compression": parsers.parse_property(comp.stdout, "compression"),
                "origin": None, "created": created, "properties": props}

    async def _compsize(self, path: Path, sub: dict[str, Any] | None, fs_uuid: str
                        ) -> Row:
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
                            compression: str | None) -> Row:
        row = self._row(pool)
        path = Path(self._mnt(row)) / name
        if path.exists():
            raise conflict(f"volume {pool}/{name} already exists", code="volume_exists")
        await self._sh("btrfs", "subvolume", "create", str(path))
        # the subvolume's root takes the daemon's umask (077); its read-only snapshots keep that
        # mode for good, so share users could never enter them (Previous Versions): 0755 like the
        # dir backend's volumes, which get their access from ACLs
        path.chmod(0o755)
        try:
            await self._apply(path, {k: v for k, v in {"quota": quota,
                                                       "compression": compression}.items() if v})
        except BaseException:
            await run(btrfs("subvolume", "delete", str(path)), check=False, timeout=self.timeout)
            raise
        return await self.volume_get(pool=pool, name=name)

    async def _apply(self, path: Path, changes: dict[str, Any]) -> None:
        if "quota" in changes:
            quota = changes["quota"]
            if quota and not await self._quotas_on(path):
                raise APIError(400, "not_supported", "quotas are off on this btrfs pool: turn "
                               "them on first (PATCH the pool with options {\"quotas\": true})",
                               {"reason": "btrfs quotas (qgroups) are not enabled"})
            await self._sh("btrfs", "qgroup", "limit", str(quota) if quota else "none", str(path))
        if "compression" in changes:
            comp = changes["compression"]
            await self._sh("btrfs", "property", "set", str(path), "compression",
                           "" if comp in (None, "off") else comp)

    async def _quotas_on(self, path: Path) -> bool:
        def read() -> bool:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                return subvols.qgroups(fd, min_transid=U64_MAX) is not None
            finally:
                os.close(fd)
        return await asyncio.to_thread(read)

    async def volume_list(self, *, pool: str) -> list[Row]:
        row = self._row(pool)
        mnt = self._mnt(row)
        subs = await self._top_subvols(mnt)
        qgroups = await self._qgroups(mnt)
        return [await self._volume_info(row, n, subs[n], qgroups) for n in sorted(subs)]

    async def volume_get(self, *, pool: str, name: str) -> Row:
        row = self._row(pool)
        path = self._vol_path(row, name)
        subs = await self._top_subvols(row["mountpoint"])
        if name not in subs:
            raise not_found("volume", f"{pool}/{name}")
        show = parsers.parse_subvolume_show(await self._sh("btrfs", "subvolume", "show", str(path)))
        return await self._volume_info(row, name, subs[name], await self._qgroups(row["mountpoint"]),
                                       show["created"], measure=True)

    async def volume_update(self, *, pool: str, name: str, changes: dict[str, Any]) -> Row:
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
        self.usage.forget(path)
        if snaps.is_dir():
            snaps.rmdir()

    async def volume_path(self, *, pool: str, name: str) -> str:
        return str(self._vol_path(self._row(pool), name))
