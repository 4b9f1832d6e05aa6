"""Start and stop the zfs-fuse daemon (only needed where ZFS lives in user space).

zfs-fuse runs in the foreground (``-n``) as a child started through
``sigmavault.commands.start_process``, in its own session so that it outlives a crashed
SigmaVault, as a daemonized zfs-fuse would. Its output goes to ``zfs-fuse.log`` beside the
pidfile. :func:`ensure_running` reports whether *it* started the daemon, so a caller stops only a
daemon it started.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sigmavault.commands import Process, run, start_process


@dataclass
class DaemonHandle:
    """A zfs-fuse daemon this process started (``process``) or found running (``started=False``)."""

    started: bool
    pid: int | None
    pidfile: str | None = None
    process: Process | None = None


async def responsive(timeout: float = 10.0) -> bool:
    """True when ``zpool list`` answers (the daemon runs, or ZFS is in the kernel)."""
    if shutil.which("zpool") is None:
        return False
    result = await run(["zpool", "list", "-H", "-o", "name"], timeout=timeout, check=False)
    return result.ok


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


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
    logfile = Path(pidfile).with_name("zfs-fuse.log")
    proc = start_process([binary, "-n", "--no-kstat-mount", "-p", pidfile], log_path=logfile,
                         new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"zfs-fuse failed to start (exit {proc.returncode}): {_tail(logfile)}")
        if await responsive(timeout=5):
            return DaemonHandle(started=True, pid=proc.pid, pidfile=pidfile, process=proc)
        await asyncio.sleep(0.2)
    await proc.stop()
    raise RuntimeError(f"zfs-fuse started but zpool did not answer within {wait:g} s: {_tail(logfile)}")


async def stop(handle: DaemonHandle, wait: float = 20.0) -> None:
    """Stop the daemon if ``handle`` says this process started it (SIGTERM, then SIGKILL)."""
    if handle.started and handle.process is not None:
        await handle.process.stop(timeout=wait)
