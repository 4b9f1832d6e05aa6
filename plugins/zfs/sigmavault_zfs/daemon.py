"""Start and stop the zfs-fuse daemon (only needed where ZFS lives in user space).

The daemon is long-running, so it is started with ``asyncio.create_subprocess_exec`` (argv list)
rather than ``sigmavault.commands.run``. :func:`ensure_running` reports whether *it* started the
daemon, so a caller stops only a daemon it started.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from dataclasses import dataclass

from sigmavault.commands import run


@dataclass
class DaemonHandle:
    """A zfs-fuse daemon this process started (``pid``) or found running (``started=False``)."""

    started: bool
    pid: int | None
    pidfile: str | None = None


async def responsive(timeout: float = 10.0) -> bool:
    """True when ``zpool list`` answers (the daemon runs, or ZFS is in the kernel)."""
    if shutil.which("zpool") is None:
        return False
    result = await run(["zpool", "list", "-H", "-o", "name"], timeout=timeout, check=False)
    return result.ok


async def ensure_running(pidfile: str, wait: float = 20.0) -> DaemonHandle:
    """Start ``zfs-fuse`` unless ``zpool`` already answers; wait until it does."""
    if await responsive():
        return DaemonHandle(started=False, pid=None)
    binary = shutil.which("zfs-fuse")
    if binary is None:
        raise RuntimeError("zpool does not answer and zfs-fuse is not installed "
                           "(Debian package zfs-fuse)")
    if not os.path.exists("/dev/fuse"):
        raise RuntimeError("zfs-fuse needs /dev/fuse, which this machine does not have")
    proc = await asyncio.create_subprocess_exec(
        binary, "--no-kstat-mount", "-p", pidfile, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()  # zfs-fuse daemonizes: the parent exits at once
    if proc.returncode:
        raise RuntimeError(f"zfs-fuse failed to start: {err.decode(errors='replace').strip()}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if await responsive(timeout=5):
            pid = _read_pid(pidfile)
            return DaemonHandle(started=True, pid=pid, pidfile=pidfile)
        await asyncio.sleep(0.2)
    raise RuntimeError(f"zfs-fuse started but zpool did not answer within {wait:g} s")


def _read_pid(pidfile: str) -> int | None:
    try:
        return int(open(pidfile).read().strip())
    except (OSError, ValueError):
        return None


async def stop(handle: DaemonHandle, wait: float = 20.0) -> None:
    """Stop the daemon if ``handle`` says this process started it (SIGTERM, then SIGKILL)."""
    if not handle.started or handle.pid is None:
        return
    try:
        os.kill(handle.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(handle.pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.1)
    try:
        os.kill(handle.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
