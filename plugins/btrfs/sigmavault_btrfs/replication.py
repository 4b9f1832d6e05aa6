"""Send, receive and diff of the btrfs backend (``btrfs send``/``btrfs receive``, and a diff
from ``btrfs send --no-data | btrfs receive --dump``)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sigmavault.backends import Row
from sigmavault.commands import run
from sigmavault.errors import bad_request, conflict

from . import parsers
from .base import LONG, SNAPDIR, btrfs, is_read_only
from .snapshots import SnapshotOps


class ReplicationOps(SnapshotOps):
    """Capabilities send_receive, incremental_send and diff."""

    async def send(self, *, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> Row:
        row = self._row(pool)
        snap = self._snap_path(row, volume, snapshot)
        if not is_read_only(str(snap)):
            raise bad_request("only read-only snapshots can be sent", code="snapshot_writable")
        args = ["btrfs", "send", "-q"]
        if base:
            args += ["-p", str(self._snap_path(row, volume, base))]
        dest = Path(target)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            await run([*args, "-f", str(tmp), str(snap)], timeout=LONG)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return {"bytes": dest.stat().st_size, "format": "btrfs-send", "incremental": bool(base)}

    async def receive(self, *, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> Row:
        row = self._row(pool)
        mnt = Path(self._mnt(row))
        # received subvolumes are read-only: they cannot move between directories afterwards,
        # so receive straight into the volume's snapshot directory (renames there are fine)
        parent = mnt / SNAPDIR / volume
        parent.mkdir(parents=True, exist_ok=True)
        async with self._lock(f"{pool}/{volume}"):
            before = set(os.listdir(parent))
            try:
                await self._sh("btrfs", "receive", "-f", source, str(parent), timeout=LONG)
            except BaseException:
                for leftover in set(os.listdir(parent)) - before:
                    await run(btrfs("subvolume", "delete", str(parent / leftover)), check=False,
                              timeout=600)
                raise
            [received] = set(os.listdir(parent)) - before
            name = snapshot or received
            if name != received:
                if (parent / name).exists():
                    await run(btrfs("subvolume", "delete", str(parent / received)), check=False,
                              timeout=600)
                    raise conflict(f"snapshot {pool}/{volume}@{name} already exists",
                                   code="snapshot_exists")
                os.rename(parent / received, parent / name)
            if not (mnt / volume).exists():
                await self._sh("btrfs", "subvolume", "snapshot", str(parent / name),
                               str(mnt / volume))
        return await self.snapshot_get(pool=pool, volume=volume, name=name)

    async def diff(self, *, pool: str, volume: str, old: str,
                   new: str | None = None) -> list[Row]:
        row = self._row(pool)
        old_path = self._snap_path(row, volume, old)
        temp = None
        if new is None:
            temp = Path(row["mountpoint"]) / SNAPDIR / volume / f".diff-{uuid.uuid4().hex[:8]}"
            await self._sh("btrfs", "subvolume", "snapshot", "-r", str(self._vol_path(row, volume)),
                           str(temp))
            new_path = temp
        else:
            new_path = self._snap_path(row, volume, new)
        stream = Path(row["mountpoint"]) / SNAPDIR / f".diff-{uuid.uuid4().hex[:8]}.stream"
        try:
            await run(["btrfs", "send", "-q", "--no-data", "-p", str(old_path), "-f", str(stream),
                       str(new_path)], timeout=LONG)
            dump = await run(btrfs("receive", "--dump", "-f", str(stream)), timeout=LONG)
        finally:
            stream.unlink(missing_ok=True)
            if temp is not None:
                await run(btrfs("subvolume", "delete", str(temp)), check=False, timeout=600)
        return parsers.parse_receive_dump(dump.stdout)
