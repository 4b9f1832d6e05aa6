"""The ``zpool``/``zfs`` driver: detects the CLI generation once, then runs commands.

Every call goes through :func:`sigmavault.commands.run` with an argv list.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sigmavault.commands import CommandError, Result, run

OPENZFS = "openzfs"
ZFS_FUSE = "zfs-fuse"


@dataclass(frozen=True)
class Generation:
    """What the installed CLI can do.

    ``parsable``: ``zpool list``/``zfs list`` take ``-p`` (exact integers);
    ``json``: ``-j`` (OpenZFS ≥ 2.3); ``diff``: ``zfs diff``; ``ctldir``: ``.zfs/snapshot``;
    ``device_removal``: ``zpool remove`` of a top-level data vdev.
    """

    name: str
    version: str | None
    parsable: bool
    json: bool
    diff: bool
    ctldir: bool
    device_removal: bool


def detect_from(version_result: Result | None) -> Generation:
    """Decide the generation from the result of ``zfs version`` (None when it could not run).

    OpenZFS ≥ 0.8 answers ``zfs-2.2.4-1`` on the first line; zfs-fuse has no ``version``
    sub-command ("unrecognized command").
    """
    if version_result is not None and version_result.ok:
        m = re.search(r"zfs-(\d+)\.(\d+)(?:\.(\d+))?", version_result.stdout)
        if m:
            major, minor = int(m[1]), int(m[2])
            return Generation(OPENZFS, m[0][4:], parsable=True, json=(major, minor) >= (2, 3),
                              diff=True, ctldir=True, device_removal=True)
    return Generation(ZFS_FUSE, "0.7.0 (pool version 23)", parsable=False, json=False,
                      diff=False, ctldir=False, device_removal=False)


class ZfsCli:
    """Runs ``zpool`` and ``zfs``; :meth:`generation` probes the CLI once per process."""

    def __init__(self, zpool: str = "zpool", zfs: str = "zfs", timeout: float = 120.0):
        self.zpool_bin = zpool
        self.zfs_bin = zfs
        self.timeout = timeout
        self._generation: Generation | None = None
        self._lock = asyncio.Lock()

    async def generation(self) -> Generation:
        """The CLI generation, detected on first use and cached."""
        if self._generation is None:
            async with self._lock:
                if self._generation is None:
                    try:
                        result = await run([self.zfs_bin, "version"], timeout=15, check=False)
                    except CommandError:
                        raise
                    self._generation = detect_from(result)
        return self._generation

    async def zpool(self, *args: str, timeout: float | None = None, check: bool = True) -> Result:
        """Run ``zpool <args>``."""
        return await run([self.zpool_bin, *args], timeout=timeout or self.timeout, check=check)

    async def zfs(self, *args: str, timeout: float | None = None, check: bool = True) -> Result:
        """Run ``zfs <args>``."""
        return await run([self.zfs_bin, *args], timeout=timeout or self.timeout, check=check)
