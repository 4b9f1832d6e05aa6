"""Space used under directories, for storage backends whose filesystem keeps no account of it
(``dir``; btrfs with quotas off): measured by a walk in a worker thread, kept with the time of
the measurement, and refreshed in the background once stale, so a listing never waits for a walk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("sigmavault.usage")

Inodes = frozenset[tuple[int, int]]


def walk_used(root: Path, shared: Inodes = frozenset()) -> tuple[int, Inodes]:
    """Bytes allocated under ``root`` on its own file system (hard links counted once; inodes in
    ``shared`` not at all; nested mounts and btrfs subvolumes, which have another ``st_dev``, left
    out) and the inodes seen."""
    top = os.lstat(root).st_dev
    seen: set[tuple[int, int]] = set()
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
            key = (st.st_dev, st.st_ino)
            if st.st_dev != top or key in seen:
                continue
            seen.add(key)
            if key not in shared:
                total += st.st_blocks * 512
    return total, frozenset(seen)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Measurement:
    __slots__ = ("used", "inodes", "at")

    def __init__(self, used: int, inodes: Inodes, at: float) -> None:
        self.used, self.inodes, self.at = used, inodes, at

    @property
    def measured_at(self) -> str:
        return _iso(self.at)


class UsageMeter:
    """The last measurement of each directory; ``max_age`` seconds make one stale."""

    def __init__(self, max_age: float = 300.0) -> None:
        self.max_age = max_age
        self._known: dict[str, Measurement] = {}
        self._running: dict[str, asyncio.Task[Measurement]] = {}
        self._walks = asyncio.Semaphore(2)  # background walks at once: the disk is shared

    def cached(self, path: Path, shared_with: Path | None = None) -> Measurement | None:
        """The last measurement of ``path`` (None before the first); a stale or missing one is
        measured again in the background. ``shared_with``: a directory whose inodes do not count
        (a snapshot's data that the live volume still holds)."""
        known = self._known.get(str(path))
        if known is None or time.time() - known.at > self.max_age:
            try:
                self._start(path, shared_with)
            except RuntimeError:  # no running event loop: nothing to schedule on
                pass
        return known

    async def measure(self, path: Path, shared_with: Path | None = None) -> Measurement:
        """A fresh measurement (joins one already running)."""
        return await self._start(path, shared_with)

    def forget(self, path: Path) -> None:
        prefix = str(path)
        for key in [k for k in self._known if k == prefix or k.startswith(prefix + "/")]:
            del self._known[key]

    def _start(self, path: Path, shared_with: Path | None) -> "asyncio.Task[Measurement]":
        key = str(path)
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._walk(path, shared_with))
            self._running[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        return task

    async def _walk(self, path: Path, shared_with: Path | None) -> Measurement:
        shared: Inodes = frozenset()
        if shared_with is not None:
            base = self._known.get(str(shared_with))
            shared = base.inodes if base is not None else (await self.measure(shared_with)).inodes
        async with self._walks:
            started = time.time()
            used, inodes = await asyncio.to_thread(walk_used, path, shared)
        # only a base (a live volume) needs its inodes later; a snapshot's would only cost memory
        measured = Measurement(used, inodes if shared_with is None else frozenset(), started)
        self._known[str(path)] = measured
        return measured

    def _done(self, key: str, task: "asyncio.Task[Measurement]") -> None:
        self._running.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.info("could not measure %s: %s", key, task.exception())
