"""Device and whole-pool maintenance of the btrfs backend: add, remove and replace devices,
scrub, and balance (profile conversion)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sigmavault.backends import Progress, Row
from sigmavault.commands import run
from sigmavault.errors import bad_request, conflict

from . import parsers
from .base import LONG, MIN_DEVICES, PoolRow, btrfs
from .pools import PoolOps


class DeviceOps(PoolOps):
    """Devices (capabilities device_add, device_remove, device_replace), scrub and balance."""

    async def device_add(self, *, pool: str, devices: list[str]) -> Row:
        row = self._row(pool)
        await self._sh("btrfs", "device", "add", "--", *devices, self._mnt(row))
        return await self.pool_get(name=pool)

    async def device_remove(self, *, pool: str, device: str,
                            progress: Progress | None = None) -> Row:
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
                             progress: Progress | None = None) -> Row:
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
                    (await run(btrfs("replace", "status", "-1", mnt), check=False,
                               timeout=60)).stdout)
                if progress and st["percent"] is not None:
                    progress(min(st["percent"], 99.0) * 0.9, f"replacing {old} with {new}")
            await task
        except asyncio.CancelledError:
            await run(btrfs("replace", "cancel", mnt), check=False, timeout=60)
            raise
        await self._restore_profiles(row, progress)
        return await self.pool_get(name=pool)

    async def _restore_profiles(self, row: PoolRow, progress: Progress | None) -> None:
        """After degraded writes, convert stray chunks back to the pool's profiles."""
        usage = parsers.parse_filesystem_usage(
            await self._sh("btrfs", "filesystem", "usage", "-b", row["mountpoint"]))
        if not usage["multiple_profiles"]:
            return
        if progress:
            progress(95.0, "restoring redundancy of chunks written while degraded")
        await self._sh("btrfs", "balance", "start", f"-dconvert={row['layout']},soft",
                       f"-mconvert={row['metadata_layout']},soft", row["mountpoint"], timeout=LONG)

    async def scrub_start(self, *, pool: str) -> None:
        row = self._row(pool)
        mnt = self._mnt(row)
        usage = parsers.parse_filesystem_usage(await self._sh("btrfs", "filesystem", "usage", "-b", mnt))
        self._scrub_total[pool] = int(usage.get("used") or 0)
        await self._sh("btrfs", "scrub", "start", mnt)

    async def scrub_status(self, *, pool: str) -> Row:
        row = self._row(pool)
        out = await run(btrfs("scrub", "status", "-R", self._mnt(row)), check=False, timeout=60)
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
        await run(btrfs("scrub", "cancel", self._mnt(row)), check=False, timeout=60)

    async def balance(self, *, pool: str, options: dict[str, Any], progress: Progress | None = None
                      ) -> Row:
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
                    (await run(btrfs("balance", "status", mnt), check=False, timeout=60)).stdout)
                if progress and st["percent_left"] is not None:
                    progress(100.0 - st["percent_left"], f"balancing {pool}")
            out = await task
        except asyncio.CancelledError:
            await run(btrfs("balance", "cancel", mnt), check=False, timeout=600)
            raise
        if data or meta:
            self.db.execute("UPDATE btrfs_pools SET layout=COALESCE(?, layout), "
                               "metadata_layout=COALESCE(?, metadata_layout) WHERE name=?",
                               (data, meta, pool))
        m = re.search(r"had to relocate (\d+) out of (\d+) chunks", out)
        return {"chunks_balanced": int(m.group(1)) if m else None}
