"""``ceph-fuse`` mounts of the file systems, one per pool under the mount root.

Each mount is a supervised ``ceph-fuse -f`` (restarted if it dies); releasing one stops it and
unmounts what is left (``umount``, then lazily if a client still holds it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from sigmavault.commands import run
from sigmavault.errors import APIError
from sigmavault.supervisor import Supervisor

from .cli import CephCli

log = logging.getLogger("sigmavault.ceph")


def mounted(path: Path | str) -> str | None:
    """The filesystem type mounted at ``path`` (``fuse.ceph-fuse``), or None."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.readlines()
    except OSError:
        return None
    found = None
    for line in lines:
        fields = line.split()
        point = fields[4].encode().decode("unicode_escape")
        if point == target:
            found = fields[fields.index("-") + 1]
    return found


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


class Mounts:
    """The ceph-fuse mounts this process runs, by pool name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[str, Supervisor] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    def path(self, pool: str) -> Path:
        return self.root / pool

    async def ensure(self, pool: str, cli: CephCli, wait: float = 30.0) -> Path:
        """Mount file system ``pool`` (if it is not yet) and return the mountpoint."""
        mnt = self.path(pool)
        lock = self.locks.setdefault(pool, asyncio.Lock())
        async with lock:
            if mounted(mnt) == "fuse.ceph-fuse" and pool in self.procs:
                return mnt
            if mounted(mnt):
                await run(["umount", "-l", str(mnt)], check=False)
            old = self.procs.pop(pool, None)
            if old is not None:
                await old.stop()
            mnt.mkdir(parents=True, exist_ok=True)
            logs = self.root.parent / "log"
            logs.mkdir(parents=True, exist_ok=True)
            log_path = logs / f"ceph-fuse.{pool}.log"
            # POSIX ACLs, enforced by the client: shares apply their access lists with them
            argv = [*cli.base("ceph-fuse"), "-f", "--client_fs", pool,
                    "--client_acl_type", "posix_acl", str(mnt)]
            sup = Supervisor(argv, name=f"ceph-fuse {pool}", log_path=log_path, stop_timeout=15.0)
            await sup.start()
            self.procs[pool] = sup
            deadline = time.monotonic() + wait
            while mounted(mnt) != "fuse.ceph-fuse":
                if time.monotonic() > deadline or (sup.pid is None and sup.restarts > 2):
                    await sup.stop()
                    self.procs.pop(pool, None)
                    raise APIError(503, "mount_failed", f"ceph-fuse could not mount file system "
                                   f"{pool} at {mnt}: {_tail(log_path)}")
                await asyncio.sleep(0.1)
            return mnt

    async def release(self, pool: str, remove: bool = True) -> None:
        """Stop ceph-fuse for ``pool`` and unmount; remove the empty mountpoint."""
        mnt = self.path(pool)
        sup = self.procs.pop(pool, None)
        if sup is not None:
            await sup.stop()
        for _ in range(50):
            if not mounted(mnt):
                break
            res = await run(["umount", str(mnt)], check=False)
            if res.ok:
                continue
            await asyncio.sleep(0.1)
        if mounted(mnt):
            await run(["umount", "-l", str(mnt)], check=False)
        if remove:
            try:
                mnt.rmdir()
            except OSError:
                pass

    async def release_all(self) -> None:
        for pool in list(self.procs):
            try:
                await self.release(pool, remove=True)
            except Exception:
                log.exception("could not unmount %s", pool)
