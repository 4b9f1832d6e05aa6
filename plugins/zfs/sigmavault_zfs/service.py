"""The zfs plugin's service: owns the configured backend and the zfs-fuse daemon handle, and
declares the ZFS-only operations (``/api/v1/zfs/...``, tag ``zfs``) the generic storage API does
not cover."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.backends import check_block_device
from sigmavault.errors import APIError, bad_request, conflict
from sigmavault.jobs import Job, JobContext
from sigmavault.validation import Name, check_name

from . import daemon, rows
from .backend import ZfsBackend
from .checks import ZfsPoolName, check_pool_name
from .config import ZfsConfig
from .models import (AddBody, AttachBody, ClearBody, DeviceBody, Generation, HoldBody,
                     Importable, ImportableQuery, OfflineBody, PoolStatus, SnapshotHolds,
                     VolumeProperties, VolumePropertiesPatch)
from .zfs_tool import ZfsCli

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.zfs")
TAGS = ["zfs"]
HOLDS = "/zfs/pools/{pool}/volumes/{volume}/snapshots/{snapshot}/holds"


def pool_name(pool: str) -> str:
    """A pool name checked against the service's pattern and ZFS's own rules (400 otherwise)."""
    return check_pool_name(check_name(pool, "pool"))


def storage_event(pool: str, data: dict[str, Any]) -> dict[str, Any]:
    """A ``storage.event`` (kind ``pool_state``) for a state change or moved error counters."""
    bad = [d for d in data["devices"] if d["read"] or d["write"] or d["checksum"]]
    counters = "; ".join(f"{d['device']}: {d['read']} read, {d['write']} write, "
                         f"{d['checksum']} checksum errors" for d in data["devices"])
    if data["state"] != data["previous_state"]:
        message = f"pool {pool} is {data['zfs_state']} (was {data['previous_state']})"
        if counters:
            message += f"; {counters}"
    else:
        message = f"pool {pool}: {counters}" if bad else f"pool {pool}: error counters cleared"
        scan = data.get("scan") or {}
        if bad and scan.get("function") == "scrub" and scan.get("state") == "finished" \
                and not scan.get("errors"):
            message += " (repaired by scrub)"
    return {"kind": "pool_state", "pool": pool, "old": data["previous_state"],
            "new": data["state"], "disk": bad[0]["device"] if bad else None,
            "message": message, "details": {"backend": "zfs", **data}}


class ZfsService:
    """``app.services[ZfsService]``: the zfs backend (``.backend``), the zfs-fuse daemon this
    process started or found (``.daemon``), and the ``zfs.*`` operations."""

    # 400: a device or option the tools refuse; 409: ZFS not running, a busy pool; 501: a tool
    # missing; 504: a command over its time
    route_defaults = {"errors": (400, 409, 501, 504), "params": {
        "pool": ZfsPoolName, "volume": Name, "snapshot": Name, "tag": Name}}

    def __init__(self, app: "SigmaVault", config: ZfsConfig) -> None:
        self.app = app
        self.config = config
        self.backend = ZfsBackend(ZfsCli(config.zpool, config.zfs, config.command_timeout))
        self.backend.mount_root = config.mount_root
        self.backend.on_change = self._publish_change
        self.daemon: daemon.DaemonHandle | None = None

    async def start(self) -> None:
        """Start zfs-fuse when configured (``start_daemon``) and ``zpool`` does not answer."""
        if not self.config.start_daemon:
            return
        try:
            self.daemon = await daemon.ensure_running(str(self.app.data_dir / "zfs-fuse.pid"))
        except (RuntimeError, APIError) as exc:
            log.warning("zfs-fuse daemon not started: %s", exc)

    async def stop(self) -> None:
        """Stop the zfs-fuse daemon if this process started it."""
        handle, self.daemon = self.daemon, None
        if handle is not None:
            await daemon.stop(handle)

    def _publish_change(self, pool: str, data: dict[str, Any]) -> None:
        if "storage.event" not in self.app.events.types:
            return
        try:
            self.app.events.publish("storage.event", storage_event(pool, data))
        except Exception:
            log.exception("could not publish storage.event for pool %s", pool)

    async def _unused_device(self, path: str) -> str:
        check_block_device(path)
        for pool in await self.backend.pool_list():
            if any(d["path"] == path for d in pool["devices"]):
                raise conflict(f"{path} is already used by pool {pool['name']}",
                               code="device_in_use")
        return path

    # --- the CLI and import scan -------------------------------------------------------------

    @operation("zfs.status", get="/zfs/status", response=Generation, tags=TAGS)
    async def status(self) -> dict[str, Any]:
        """Which ZFS CLI is installed (OpenZFS 2.x or zfs-fuse), and whether it answers."""
        info = await self.backend.available()
        try:
            gen = await self.backend.cli.generation()
        except APIError:
            return info
        return {**info, "cli": gen.name, "parsable": gen.parsable, "json_output": gen.json,
                "diff": gen.diff}

    @operation("zfs.importable", get="/zfs/importable", response=list[Importable],
               query=ImportableQuery, tags=TAGS)
    async def importable(self, query: ImportableQuery) -> list[dict[str, Any]]:
        """Exported pools whose members are in a directory (``zpool import -d``)."""
        if not os.path.isabs(query.dir) or ".." in query.dir or not os.path.isdir(query.dir):
            raise bad_request("dir must be an existing absolute directory", field="dir")
        return await self.backend.importable(dirs=[query.dir])

    # --- pools and devices -------------------------------------------------------------------

    @operation("zfs.pool.status", get="/zfs/pools/{pool}/status", response=PoolStatus, tags=TAGS)
    async def pool_status(self, pool: str) -> dict[str, Any]:
        """Vdev tree (data, log, cache, spare) with read/write/checksum counters and scan state."""
        return rows.pool_status(await self.backend.pool_get(name=pool_name(pool)))

    @operation("zfs.device.add", post="/zfs/pools/{pool}/devices", body=AddBody,
               response=PoolStatus, status=200, tags=TAGS)
    async def add_devices(self, pool: str, body: AddBody) -> dict[str, Any]:
        """Add a data vdev of the pool's layout, or log/cache/spare devices."""
        for dev in body.devices:
            await self._unused_device(dev)
        result = await self.backend.device_add(pool=pool_name(pool), devices=body.devices,
                                               role=body.role)
        self.app.audit("zfs.device.add", pool, details={"devices": body.devices, "role": body.role})
        return rows.pool_status(result)

    @operation("zfs.device.attach", post="/zfs/pools/{pool}/attach", body=AttachBody, job=True,
               tags=TAGS)
    async def attach(self, pool: str, body: AttachBody) -> Job:
        """Mirror a device onto a new one; a job that ends when the resilver is done."""
        name = pool_name(pool)
        await self._unused_device(body.new)
        await self.backend.find_leaf(name, body.device)

        async def run(ctx: JobContext) -> dict[str, Any]:
            result = await self.backend.device_attach(
                pool=name, device=body.device, new=body.new,
                progress=lambda pct, desc: ctx.progress(percent=pct, description=desc))
            return rows.pool_status(result)

        self.app.audit("zfs.device.attach", name, details={"device": body.device, "new": body.new})
        return self.app.jobs.submit("zfs.attach", run, params={"pool": name, **body.model_dump()},
                                    lock=f"pool:{name}", description=f"attach {body.new} to {name}")

    @operation("zfs.device.detach", post="/zfs/pools/{pool}/detach", body=DeviceBody,
               response=PoolStatus, status=200, tags=TAGS, summary="zpool detach a device")
    async def detach(self, pool: str, body: DeviceBody) -> dict[str, Any]:
        """``zpool detach`` a mirror member."""
        name = pool_name(pool)
        result = await self.backend.device_detach(pool=name, device=body.device)
        self.app.audit("zfs.device.detach", name, details=body.model_dump())
        return rows.pool_status(result)

    @operation("zfs.device.offline", post="/zfs/pools/{pool}/offline", body=OfflineBody,
               response=PoolStatus, status=200, tags=TAGS, summary="zpool offline a device")
    async def offline(self, pool: str, body: OfflineBody) -> dict[str, Any]:
        """``zpool offline [-t]`` a device (``temporary``: until the next import)."""
        name = pool_name(pool)
        result = await self.backend.device_offline(pool=name, device=body.device,
                                                   temporary=body.temporary)
        self.app.audit("zfs.device.offline", name, details=body.model_dump())
        return rows.pool_status(result)

    @operation("zfs.device.online", post="/zfs/pools/{pool}/online", body=DeviceBody,
               response=PoolStatus, status=200, tags=TAGS, summary="zpool online a device")
    async def online(self, pool: str, body: DeviceBody) -> dict[str, Any]:
        """``zpool online`` a device."""
        name = pool_name(pool)
        result = await self.backend.device_online(pool=name, device=body.device)
        self.app.audit("zfs.device.online", name, details=body.model_dump())
        return rows.pool_status(result)

    @operation("zfs.pool.clear", post="/zfs/pools/{pool}/clear", body=ClearBody,
               response=PoolStatus, status=200, tags=TAGS)
    async def clear(self, pool: str, body: ClearBody) -> dict[str, Any]:
        """Reset read/write/checksum error counters (``zpool clear``)."""
        result = await self.backend.pool_clear(pool=pool_name(pool), device=body.device)
        self.app.audit("zfs.pool.clear", pool, details={"device": body.device})
        return rows.pool_status(result)

    # --- dataset properties and holds --------------------------------------------------------

    @operation("zfs.volume.properties", get="/zfs/pools/{pool}/volumes/{volume}/properties",
               response=VolumeProperties, tags=TAGS)
    async def volume_properties(self, pool: str, volume: str) -> dict[str, Any]:
        """Dataset properties: quota, compression and compressratio, recordsize, atime, readonly."""
        vol = await self.backend.volume_get(pool=pool_name(pool), name=check_name(volume, "volume"))
        return rows.volume_properties(vol)

    @operation("zfs.volume.properties.update",
               patch="/zfs/pools/{pool}/volumes/{volume}/properties", body=VolumePropertiesPatch,
               response=VolumeProperties, tags=TAGS)
    async def update_volume_properties(self, pool: str, volume: str,
                                       body: VolumePropertiesPatch) -> dict[str, Any]:
        """Change dataset properties; all or nothing."""
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise bad_request("nothing to change")
        if "quota" in changes and changes["quota"] == 0:
            changes["quota"] = None
        vol = await self.backend.volume_update(pool=pool_name(pool),
                                               name=check_name(volume, "volume"), changes=changes)
        self.app.audit("zfs.volume.properties", f"{pool}/{volume}", details=changes)
        return rows.volume_properties(vol)

    @operation("zfs.snapshot.hold", post=HOLDS, body=HoldBody, response=SnapshotHolds, status=200,
               tags=TAGS)
    async def hold(self, pool: str, volume: str, snapshot: str, body: HoldBody) -> dict[str, Any]:
        """Hold a snapshot (``zfs hold``): it cannot be deleted until every hold is released."""
        snap = await self.backend.snapshot_hold(
            pool=pool_name(pool), volume=check_name(volume, "volume"),
            name=check_name(snapshot, "snapshot"), tag=body.tag)
        self.app.audit("zfs.snapshot.hold", f"{pool}/{volume}@{snapshot}",
                       details={"tag": body.tag})
        return rows.snapshot_holds(snap)

    @operation("zfs.snapshot.release", delete=HOLDS + "/{tag}", response=SnapshotHolds, tags=TAGS)
    async def release(self, pool: str, volume: str, snapshot: str, tag: str) -> dict[str, Any]:
        """Release a hold (``zfs release``)."""
        snap = await self.backend.snapshot_release(
            pool=pool_name(pool), volume=check_name(volume, "volume"),
            name=check_name(snapshot, "snapshot"), tag=check_name(tag, "tag"))
        self.app.audit("zfs.snapshot.release", f"{pool}/{volume}@{snapshot}", details={"tag": tag})
        return rows.snapshot_holds(snap)
