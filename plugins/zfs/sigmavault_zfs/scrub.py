"""``zpool scrub`` for the zfs backend: start, status, cancel (zfs-fuse's scrub command runs
until the scrub ends, so there it is a background task)."""

from __future__ import annotations

import asyncio
import logging

from sigmavault.backends import Row
from sigmavault.commands import CommandError, Result
from sigmavault.errors import conflict

from . import rows
from .base import ZfsBase
from .errors import translate, zfs_errors
from .zfs_tool import ZFS_FUSE

log = logging.getLogger("sigmavault.zfs")
SCRUB_TIMEOUT = 7 * 24 * 3600.0


def _log_scrub_end(task: asyncio.Task[Result]) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.warning("zpool scrub failed: %s", task.exception())
    elif not task.result().ok:
        log.warning("zpool scrub failed: %s", task.result().stderr.strip())


class ScrubOps(ZfsBase):
    """Capability scrub."""

    async def scrub_start(self, *, pool: str) -> None:
        """``zpool scrub``; returns as soon as the scrub runs.

        OpenZFS's ``zpool scrub`` returns at once. zfs-fuse's returns only when the scrub is
        over (its status shows the progress meanwhile), so there it runs as a background task and
        this method returns once ``zpool status`` reports the scrub (or it has already ended).
        """
        await self._status(pool)
        gen = await self.cli.generation()
        if gen.name != ZFS_FUSE:
            with zfs_errors():
                await self.cli.zpool("scrub", pool)
            return
        running = self._scrubs.get(pool)
        if running is not None and not running.done():
            raise conflict(f"a scrub of {pool} is already running", code="scrub_running")
        task = asyncio.create_task(self.cli.zpool("scrub", pool, timeout=SCRUB_TIMEOUT, check=False))
        task.add_done_callback(_log_scrub_end)
        self._scrubs[pool] = task
        for _ in range(40):
            done, _ = await asyncio.wait({task}, timeout=0.05)
            if done:
                res = task.result()
                if not res.ok:
                    raise translate(CommandError(res, res.stderr.strip() or "zpool scrub failed"))
                return
            if (await self._status(pool))["scan"]["state"] == "running":
                return

    async def scrub_status(self, *, pool: str) -> Row:
        """Progress and result of the last scrub, with the pool's checksum error total."""
        status = await self._status(pool)
        result = rows.scrub_dict(status["scan"], status)
        task = self._scrubs.get(pool)
        if task is not None and task.done() and not task.cancelled():
            res = task.result() if task.exception() is None else None
            if res is None or not res.ok:
                result["state"] = "failed"
                result["details"]["error"] = (res.stderr.strip() if res else str(task.exception()))
        elif task is not None and not task.done() and result["state"] != "running":
            result["state"] = "running"  # the scrub command has not reported yet
        return result

    async def scrub_cancel(self, *, pool: str) -> None:
        """``zpool scrub -s``. On zfs-fuse the stop request waits behind the running scrub
        (observed: it returns when the scrub has completed), so it gets the scrub's time limit."""
        await self._status(pool)
        gen = await self.cli.generation()
        with zfs_errors():
            await self.cli.zpool("scrub", "-s", pool,
                                 timeout=SCRUB_TIMEOUT if gen.name == ZFS_FUSE else None)
