"""Send, receive and diff of the zfs backend (``zfs send``/``receive`` through stream files;
``zfs diff`` on OpenZFS, a walk of both trees on zfs-fuse)."""

from __future__ import annotations

import asyncio
import os
from typing import Callable

from sigmavault.backends import Row
from sigmavault.commands import CommandError
from sigmavault.errors import APIError, bad_request, conflict

from . import delta
from .diffparse import parse_diff
from .errors import translate, zfs_errors
from .snapshots import SnapshotOps
from .streams import receive_from_file, send_to_file


class ReplicationOps(SnapshotOps):
    """Capabilities send_receive, incremental_send and diff."""

    async def send(self, *, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> Row:
        """``zfs send [-i base]`` into the file ``target`` (temporary name, then rename)."""
        await self.snapshot_get(pool=pool, volume=volume, name=snapshot)
        ds = self._dataset(pool, volume)
        argv = [self.cli.zfs_bin, "send"]
        if base:
            await self.snapshot_get(pool=pool, volume=volume, name=base)
            argv += ["-i", f"{ds}@{base}"]
        argv.append(f"{ds}@{snapshot}")
        if not os.path.isabs(target) or not os.path.isdir(os.path.dirname(target)):
            raise bad_request("target must be an absolute path in an existing directory", field="target")
        with zfs_errors():
            size = await send_to_file(argv, target)
        return {"bytes": size, "format": "zfs-send", "incremental": base is not None}

    async def receive(self, *, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> Row:
        """``zfs receive pool/volume[@snapshot]`` from the stream file ``source``."""
        await self._pool_rows(pool)
        if not os.path.isfile(source):
            raise bad_request(f"stream file {source!r} does not exist", field="source")
        before = set(await self._snapshot_names(pool, volume))
        target = self._dataset(pool, volume) + (f"@{snapshot}" if snapshot else "")
        try:
            await receive_from_file([self.cli.zfs_bin, "receive", target], source)
        except CommandError as exc:
            err = translate(exc)
            if "destination" in err.message and "exists" in err.message or \
                    "most recent snapshot" in err.message or "does not match" in err.message or \
                    "has been modified" in err.message:
                raise conflict(err.message, code="receive_conflict") from None
            raise err from None
        after = await self.snapshot_list(pool=pool, volume=volume)
        new = [s for s in after if s["name"] not in before]
        if snapshot:
            new = [s for s in after if s["name"] == snapshot] or new
        if not new:
            raise APIError(500, "receive_failed", "zfs receive finished but no new snapshot appeared")
        return max(new, key=lambda s: s["created"] or "")

    async def _snapshot_names(self, pool: str, volume: str) -> list[str]:
        try:
            return [k.split("@", 1)[1] for k in await self._snapshot_props(pool, volume)]
        except APIError:
            return []

    async def diff(self, *, pool: str, volume: str, old: str, new: str | None = None,
                   check: Callable[[], None] | None = None) -> list[Row]:
        """``zfs diff -H -F`` on OpenZFS; on zfs-fuse a walk of both trees (see ``delta``)."""
        vol = await self.volume_get(pool=pool, name=volume)
        await self.snapshot_get(pool=pool, volume=volume, name=old)
        if new:
            await self.snapshot_get(pool=pool, volume=volume, name=new)
        gen = await self.cli.generation()
        ds = self._dataset(pool, volume)
        if gen.diff:
            argv = ["diff", "-H", "-F", f"{ds}@{old}"] + ([f"{ds}@{new}"] if new else [ds])
            with zfs_errors():
                res = await self.cli.zfs(*argv, timeout=600)
            return parse_diff(res.stdout, vol["path"] or "")
        old_root = await self.snapshot_path(pool=pool, volume=volume, name=old)
        new_root = await self.snapshot_path(pool=pool, volume=volume, name=new) if new else vol["path"]
        old_tree, new_tree = await asyncio.gather(
            asyncio.to_thread(delta.scan_tree, old_root, check),
            asyncio.to_thread(delta.scan_tree, new_root, check))
        return delta.compare_trees(old_tree, new_tree)
