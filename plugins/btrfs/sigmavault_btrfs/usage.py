"""Space used by volumes of a pool whose quotas (qgroups) are off: measured by a walk of the
subvolume in a worker thread (files counted once, nested subvolumes not), kept with the time of
the measurement and measured again in the background once stale, so a listing never waits for
a walk. (The same scheme as the ``dir`` backend's; a plugin does not import another plugin.)"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("sigmavault.btrfs")


def walk_used(root: Path) -> int:
    """Bytes allocated under ``root`` on its own subvolume (hard links counted once; nested
    subvolumes and mounts, which have another ``st_dev``, left out)."""
    top = os.lstat(root).st_dev
    seen: set[int] = set()
    total = 0
    for dirpath, dirs, filenames in os.walk(root):
        keep = []
        for name in dirs:
            try:
                if os.lstat(os.path.join(dirpath, name)).st_dev == top:
                    keep.append(name)
            except OSError:
                continue
        dirs[:] = keep
        for name in [*filenames, "."]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_dev != top or st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_blocks * 512
    return total


class Measured:
    __slots__ = ("at", "used")

    def __init__(self, used: int, at: float) -> None:
        self.used, self.at = used, at

    @property
    def measured_at(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))


class UsageMeter:
    """The last measurement of each directory; ``max_age`` seconds make one stale."""

    def __init__(self, max_age: float = 300.0) -> None:
        self.max_age = max_age
        self._known: dict[str, Measured] = {}
        self._running: dict[str, asyncio.Task[Measured]] = {}
        self._walks = asyncio.Semaphore(2)

    def cached(self, path: Path) -> Measured | None:
        """The last measurement (None before the first); a stale or missing one is measured
        again in the background."""
        known = self._known.get(str(path))
        if known is None or time.time() - known.at > self.max_age:
            try:
                self._start(path)
            except RuntimeError:   # no running event loop
                pass
        return known

    async def measure(self, path: Path) -> Measured:
        """A fresh measurement (joins one already running)."""
        return await self._start(path)

    def forget(self, path: Path) -> None:
        self._known.pop(str(path), None)

    def _start(self, path: Path) -> asyncio.Task[Measured]:
        key = str(path)
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._walk(path))
            self._running[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        return task

    async def _walk(self, path: Path) -> Measured:
        async with self._walks:
            started = time.time()
            used = await asyncio.to_thread(walk_used, path)
        measured = self._known[str(path)] = Measured(used, started)
        return measured

    def _done(self, key: str, task: asyncio.Task[Measured]) -> None:
        self._running.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.info("could not measure %s: %s", key, task.exception())
