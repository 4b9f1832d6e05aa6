"""Snapshots: create, list (cached pages), roll back, clone, restore files, send and receive."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.backends import StorageBackend, SnapshotListToken
from sigmavault.errors import bad_request, conflict, not_found
from sigmavault.validation import check_name, inside

from . import treeops
from .listing import SNAPSHOT_ROWS, SnapshotListing
from .models import (Clone, DiffQuery, Restore, Restored, Rollback, Snapshot, SnapshotCreate,
                     SnapshotPage, SnapshotQuery, Volume)
from .pools import PoolService, ROUTES
from .volumes import V, VolumeService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

S = V + "/snapshots/{snapshot}"
LISTINGS_KEPT = 64


class SnapshotService:
    route_defaults = ROUTES

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app
        self._listings: dict[tuple[str, str], SnapshotListing] = {}

    @property
    def pools(self) -> PoolService:
        return self.app.services[PoolService]

    async def _backend(self, pool: str, volume: str, *snapshots: str | None) -> Any:
        b = await self.pools.pool_backend(pool)
        check_name(volume, "volume")
        self.pools.need(b, "snapshots")
        for name in snapshots:
            if name is not None:
                check_name(name, "snapshot")
        return b

    def _publish(self, kind: str, pool: str, volume: str, name: str, what: str) -> None:
        self.pools.publish(kind=kind, pool=pool, volume=volume, snapshot=name,
                           message=f"snapshot {pool}/{volume}@{name} {what}")

    async def start(self) -> None:
        self.pools.forgotten.append(self.forget)

    def forget(self, pool: str) -> None:
        """Drop the cached listings of ``pool``'s volumes (the pool went away)."""
        for key in [k for k in self._listings if k[0] == pool]:
            del self._listings[key]

    @operation("storage.snapshot.create", post=V + "/snapshots", body=SnapshotCreate,
               response=Snapshot, status=201, summary="Create a snapshot")
    async def create_snapshot(self, pool: str, volume: str, name: str | None = None,
                              writable: bool = False) -> Snapshot:
        b = await self._backend(pool, volume)
        if writable:
            self.pools.need(b, "writable_snapshots", "writable snapshots")
        if name is None:
            base = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            existing = {s["name"] for s in await b.snapshot_list(pool=pool, volume=volume)}
            name, n = base, 1
            while name in existing:
                n += 1
                name = f"{base}-{n}"
        check_name(name, "snapshot")
        snap = Snapshot.model_validate(await b.snapshot_create(pool=pool, volume=volume, name=name,
                                                               writable=writable))
        self._publish("snapshot_created", pool, volume, name, "created")
        return snap

    @operation("storage.snapshot.list")
    async def list_snapshots(self, pool: str, volume: str) -> list[dict[str, Any]]:
        """(pool, volume) -> every snapshot of the volume, unsorted, validated (new dicts: the
        caller may change them)."""
        b = await self._backend(pool, volume)
        return SNAPSHOT_ROWS.validate_python(await b.snapshot_list(pool=pool, volume=volume))

    @operation("storage.snapshots.page", get=V + "/snapshots", query=SnapshotQuery,
               response=SnapshotPage, summary="List snapshots (pagination, sort by created or name)")
    async def page_snapshots(self, pool: str, volume: str, limit: int, offset: int,
                             sort: str, order: str) -> bytes:
        """One page of snapshots as encoded JSON (``SnapshotPage``).

        Backends that offer ``snapshot_list_token(pool, volume)`` (a cheap value that changes
        whenever the list may have changed) get their listing, sort orders and pages cached until
        the token changes; the others are listed on every call.
        """
        b = await self._backend(pool, volume)
        token = (await b.snapshot_list_token(pool=pool, volume=volume)
                 if isinstance(b, SnapshotListToken) else None)
        key = (pool, volume)
        listing = self._listings.get(key)
        if listing is None or token is None or listing.token != token:
            raw = await b.snapshot_list(pool=pool, volume=volume)
            listing = SnapshotListing(token or "", raw, listing if token is not None else None)
            if token is not None:
                self._listings[key] = listing
                while len(self._listings) > LISTINGS_KEPT:
                    self._listings.pop(next(iter(self._listings)))
        return listing.page(sort, order, limit, offset)

    @operation("storage.snapshot.get", get=S, response=Snapshot, summary="One snapshot")
    async def get_snapshot(self, pool: str, volume: str, snapshot: str) -> Snapshot:
        b = await self._backend(pool, volume, snapshot)
        return Snapshot.model_validate(await b.snapshot_get(pool=pool, volume=volume, name=snapshot))

    @operation("storage.snapshot.delete", delete=S, summary="Delete a snapshot")
    async def delete_snapshot(self, pool: str, volume: str, snapshot: str) -> None:
        b = await self._backend(pool, volume, snapshot)
        await b.snapshot_delete(pool=pool, volume=volume, name=snapshot)
        self._publish("snapshot_deleted", pool, volume, snapshot, "deleted")

    @operation("storage.snapshot.rollback", post=S + "/rollback", body=Rollback, response=Volume,
               status=200, summary="Roll the volume back to this snapshot")
    async def rollback(self, pool: str, volume: str, snapshot: str, force: bool) -> Volume:
        b = await self._backend(pool, volume, snapshot)
        self.pools.need(b, "rollback")
        snap = await b.snapshot_get(pool=pool, volume=volume, name=snapshot)
        if not b.capabilities.get("rollback_keeps_newer") and not force:
            # creation times have whole seconds: one from the same second may be newer too
            newer = [s["name"] for s in await b.snapshot_list(pool=pool, volume=volume)
                     if s["created"] >= snap["created"] and s["name"] != snapshot]
            if newer:
                raise conflict(f"rolling back to {snapshot} destroys newer snapshots {newer[:10]}; "
                               "pass force=true", code="newer_snapshots", newer=newer)
        return Volume.model_validate(await b.snapshot_rollback(pool=pool, volume=volume,
                                                               name=snapshot))

    @operation("storage.snapshot.clone", post=S + "/clone", body=Clone, response=Volume,
               status=201, summary="Clone the snapshot into a new writable volume")
    async def clone(self, pool: str, volume: str, snapshot: str, target: str) -> Volume:
        b = await self._backend(pool, volume, snapshot)
        self.pools.need(b, "clone")
        check_name(target, "volume")
        vol = Volume.model_validate(await b.snapshot_clone(pool=pool, volume=volume, name=snapshot,
                                                           target=target))
        self.pools.publish(kind="volume_created", pool=pool, volume=target,
                           message=f"volume {pool}/{target} cloned from {volume}@{snapshot}")
        return vol

    @operation("storage.snapshot.path")
    async def snapshot_path(self, pool: str, volume: str, snapshot: str) -> str:
        """(pool, volume, snapshot) -> absolute read-only directory of the snapshot's files."""
        b = await self._backend(pool, volume, snapshot)
        return await b.snapshot_path(pool=pool, volume=volume, name=snapshot)

    @operation("storage.snapshot.restore", post=S + "/restore", body=Restore, response=Restored,
               status=200, summary="Restore a file or directory from the snapshot into the live "
               "volume")
    async def restore(self, pool: str, volume: str, snapshot: str, path: str,
                      target: str | None = None, overwrite: bool = False) -> dict[str, Any]:
        """Copy a file or directory from a snapshot back into the live volume (atomically:
        copied beside the target under a temporary name, then renamed into place)."""
        snap_root = Path(await self.snapshot_path(pool, volume, snapshot))
        vol_root = Path(await self.app.services[VolumeService].volume_path(pool, volume))
        rel = path.strip("/")
        if "\x00" in path or (target and "\x00" in target):
            raise bad_request("paths cannot contain NUL bytes", code="bad_path")
        if not rel:
            raise bad_request("path must name a file or directory inside the snapshot",
                              code="bad_path")
        src = inside(snap_root, rel)
        dst = inside(vol_root, (target or rel).strip("/") or ".")
        if dst == vol_root:
            raise bad_request("the target must be inside the volume, not its root", code="bad_path")
        if not os.path.lexists(src):
            raise not_found("path in snapshot", f"{volume}@{snapshot}:{rel}")
        replaced = os.path.lexists(dst)
        if replaced and not overwrite:
            raise conflict(f"{dst.relative_to(vol_root)} exists in the volume; pass overwrite=true",
                           code="target_exists")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.parent / f".restore-{os.urandom(6).hex()}"
        old = dst.parent / f".restore-old-{os.urandom(6).hex()}"
        kind = ("symlink" if src.is_symlink() else "dir" if src.is_dir() else
                "file" if src.is_file() else "other")
        b = await self._backend(pool, volume, snapshot)
        try:
            await treeops.copy_tree(src, tmp, "copy", self.pools.config.copy_timeout)
            if hasattr(b, "snapshot_write_bits"):   # read-only copies: give back the originals'
                bits = await b.snapshot_write_bits(pool=pool, volume=volume, name=snapshot)
                await asyncio.to_thread(treeops.restore_write_bits, tmp, bits,
                                        src.relative_to(snap_root.resolve()).as_posix())
            elif kind == "dir":
                await asyncio.to_thread(treeops.make_dirs_writable, tmp)
            if replaced:
                os.rename(dst, old)
            os.rename(tmp, dst)
        except BaseException:
            if os.path.lexists(old) and not os.path.lexists(dst):
                os.rename(old, dst)
            await asyncio.to_thread(treeops.remove_tree, tmp)
            raise
        if os.path.lexists(old):
            await asyncio.to_thread(treeops.remove_tree, old)
        return {"path": rel, "target": str(dst.relative_to(vol_root)), "type": kind,
                "replaced": replaced}

    @operation("storage.snapshot.send")
    async def send(self, pool: str, volume: str, snapshot: str, target: str,
                   base: str | None = None) -> dict[str, Any]:
        """(pool, volume, snapshot, target, base=None) -> {bytes, format, incremental}: the
        snapshot as a backend-native stream in the file ``target``."""
        b = await self._backend(pool, volume, snapshot, base)
        self.pools.need(b, "send_receive", "send/receive")
        if base is not None:
            self.pools.need(b, "incremental_send", "incremental send")
        if not os.path.isabs(target) or "\x00" in target:
            raise bad_request("target must be an absolute path", code="bad_target")
        return await b.send(pool=pool, volume=volume, snapshot=snapshot, target=target, base=base)

    @operation("storage.snapshot.receive")
    async def receive(self, pool: str, volume: str, source: str,
                      snapshot: str | None = None) -> Snapshot:
        """(pool, volume, source, snapshot=None) -> Snapshot received from the stream file."""
        b: StorageBackend = await self.pools.pool_backend(pool)
        check_name(volume, "volume")
        self.pools.need(b, "send_receive", "send/receive")
        if snapshot is not None:
            check_name(snapshot, "snapshot")
        if "\x00" in source or not os.path.isfile(source):
            raise bad_request(f"stream file {source} does not exist", code="bad_source")
        return Snapshot.model_validate(await b.receive(  # type: ignore[attr-defined]
            pool=pool, volume=volume, source=source, snapshot=snapshot))

    @operation("storage.snapshot.diff", get=V + "/diff", query=DiffQuery,
               response=list[dict[str, Any]],
               summary="Changes between two snapshots (or a snapshot and the live volume)")
    async def diff(self, pool: str, volume: str, old: str, new: str | None = None) -> list[dict[str, Any]]:
        b = await self._backend(pool, volume, old, new)
        self.pools.need(b, "diff")
        return await b.diff(pool=pool, volume=volume, old=old, new=new)
