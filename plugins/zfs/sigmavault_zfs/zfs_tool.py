"""The ``zpool``/``zfs`` driver: detects the CLI generation once, then runs commands.

Every call goes through :func:`sigmavault.commands.run` with an argv list.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sigmavault.errors import APIError
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
        return await _unless_unavailable([self.zpool_bin, *args], timeout or self.timeout, check)

    async def zfs(self, *args: str, timeout: float | None = None, check: bool = True) -> Result:
        """Run ``zfs <args>``."""
        return await _unless_unavailable([self.zfs_bin, *args], timeout or self.timeout, check)


_UNAVAILABLE = ("failed to initialize ZFS library", "zfs-fuse daemon is running", "/dev/zfs")


async def _unless_unavailable(argv: list[str], timeout: float, check: bool) -> Result:
    """Run a ZFS command; a ZFS that is installed but not running is the caller's 409, not a 500."""
    try:
        result = await run(argv, timeout=timeout, check=check)
    except CommandError as exc:
        if exc.result is not None:
            _raise_if_unavailable(exc.result)
        raise
    if not result.ok:
        _raise_if_unavailable(result)
    return result


def _raise_if_unavailable(result: Result) -> None:
    if any(m in result.stderr for m in _UNAVAILABLE):
        raise APIError(409, "zfs_unavailable", "ZFS is not running on this machine: start the ZFS "
                       "service (zfs-fuse here) and try again",
                       {"argv": result.argv, "stderr": result.stderr[-2000:]})
