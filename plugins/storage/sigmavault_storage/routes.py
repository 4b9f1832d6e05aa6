"""The ``/api/v1/storage`` REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel

from sigmavault.jobs import Job

from .models import (Balance, BackendInfo, Clone, DeviceRemove, DeviceReplace, Disk, DiskQuery,
                     Health, Pool, PoolCreate, PoolDelete, PoolImport, PoolUpdate, Rollback,
                     Restore, Restored, ScrubStatus, SmartReport, SmartTestStart, Snapshot, SnapshotCreate,
                     SnapshotPage, SnapshotQuery, Volume, VolumeCreate, VolumeUpdate)
from .state import service

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

P = "/storage/pools/{pool}"
V = P + "/volumes/{volume}"
S = V + "/snapshots/{snapshot}"


class DiffQuery(BaseModel):
    old: str
    new: str | None = None


def register(app: "SigmaVault") -> None:
    api = app.api

    @api.get("/storage/backends", response=list[BackendInfo], summary="Storage backends and "
             "their capabilities")
    async def list_backends(request: web.Request) -> Any:
        return await service().backend_infos()

    # --- pools -----------------------------------------------------------------------------------

    @api.get("/storage/pools", response=list[Pool], summary="List pools of every backend")
    async def list_pools(request: web.Request) -> Any:
        return await service().list_pools()

    @api.post("/storage/pools", body=PoolCreate, response=Pool, status=201,
              summary="Create a pool (backend, topology, devices)")
    async def create_pool(request: web.Request, body: PoolCreate) -> Any:
        return await service().create_pool(body)

    @api.post("/storage/pools/import", body=PoolImport, response=Pool, status=201,
              summary="Import (adopt, mount) an existing pool")
    async def import_pool(request: web.Request, body: PoolImport) -> Any:
        return await service().import_pool(body)

    @api.get(P, response=Pool, summary="One pool")
    async def get_pool(request: web.Request, pool: str) -> Any:
        return await service().get_pool(pool)

    @api.patch(P, body=PoolUpdate, response=Pool, summary="Add devices or change pool options")
    async def update_pool(request: web.Request, pool: str, body: PoolUpdate) -> Any:
        return await service().update_pool(pool, body)

    @api.delete(P, query=PoolDelete, summary="Destroy a pool and all its data "
                "(?confirm=<pool name>)")
    async def delete_pool(request: web.Request, pool: str, query: PoolDelete) -> None:
        await service().destroy_pool(pool, query.confirm)

    @api.post(P + "/export", summary="Export a pool: unmount and forget it, data kept "
              "(import brings it back)")
    async def export_pool(request: web.Request, pool: str) -> None:
        await service().export_pool(pool)

    @api.get(P + "/health", response=Health, summary="Pool health: state, problems, devices")
    async def pool_health(request: web.Request, pool: str) -> Any:
        return await service().pool_health(pool)

    @api.post(P + "/scrub", response=Job, status=202, summary="Start a scrub (job; one per pool)")
    async def scrub(request: web.Request, pool: str) -> Any:
        return await service().start_scrub(pool)

    @api.get(P + "/scrub", response=ScrubStatus, summary="Scrub status as the backend reports it")
    async def scrub_status(request: web.Request, pool: str) -> Any:
        return await service().scrub_status(pool)

    @api.post(P + "/balance", body=Balance, response=Job, status=202,
              summary="Balance / convert profiles (job)")
    async def balance(request: web.Request, pool: str, body: Balance) -> Any:
        return await service().balance(pool, body.model_dump(exclude_none=True, exclude_defaults=True))

    @api.post(P + "/devices/replace", body=DeviceReplace, response=Job, status=202,
              summary="Replace a (missing or failing) device (job)")
    async def replace_device(request: web.Request, pool: str, body: DeviceReplace) -> Any:
        return await service().replace_device(pool, body.old, body.new)

    @api.post(P + "/devices/remove", body=DeviceRemove, response=Job, status=202,
              summary="Remove a device, migrating its data (job)")
    async def remove_device(request: web.Request, pool: str, body: DeviceRemove) -> Any:
        return await service().remove_device(pool, body.device)

    # --- volumes ---------------------------------------------------------------------------------

    @api.get(P + "/volumes", response=list[Volume], summary="List volumes of a pool")
    async def list_volumes(request: web.Request, pool: str) -> Any:
        return await service().list_volumes(pool)

    @api.post(P + "/volumes", body=VolumeCreate, response=Volume, status=201,
              summary="Create a volume (quota, compression)")
    async def create_volume(request: web.Request, pool: str, body: VolumeCreate) -> Any:
        return await service().create_volume(pool, body)

    @api.get(V, response=Volume, summary="One volume (with its used bytes)")
    async def get_volume(request: web.Request, pool: str, volume: str) -> Any:
        return await service().get_volume(pool, volume)

    @api.patch(V, body=VolumeUpdate, response=Volume, summary="Change quota or compression "
               "(null removes)")
    async def update_volume(request: web.Request, pool: str, volume: str, body: VolumeUpdate) -> Any:
        return await service().update_volume(pool, volume, body.changes())

    @api.delete(V, summary="Delete a volume (it must have no snapshots)")
    async def delete_volume(request: web.Request, pool: str, volume: str) -> None:
        await service().destroy_volume(pool, volume)

    # --- snapshots -------------------------------------------------------------------------------

    @api.get(V + "/snapshots", query=SnapshotQuery, response=SnapshotPage,
             summary="List snapshots (pagination, sort by created or name)")
    async def list_snapshots(request: web.Request, pool: str, volume: str,
                             query: SnapshotQuery) -> Any:
        body = await service().page_snapshots(pool, volume, limit=query.limit,
                                              offset=query.offset, sort=query.sort,
                                              order=query.order)
        return web.Response(body=body, content_type="application/json")

    @api.post(V + "/snapshots", body=SnapshotCreate, response=Snapshot, status=201,
              summary="Create a snapshot")
    async def create_snapshot(request: web.Request, pool: str, volume: str,
                              body: SnapshotCreate) -> Any:
        return await service().create_snapshot(pool, volume, body.name, body.writable)

    @api.get(V + "/diff", query=DiffQuery, response=list[dict[str, Any]],
             summary="Changes between two snapshots (or a snapshot and the live volume)")
    async def diff(request: web.Request, pool: str, volume: str, query: DiffQuery) -> Any:
        return await service().diff(pool, volume, query.old, query.new)

    @api.get(S, response=Snapshot, summary="One snapshot")
    async def get_snapshot(request: web.Request, pool: str, volume: str, snapshot: str) -> Any:
        return await service().get_snapshot(pool, volume, snapshot)

    @api.delete(S, summary="Delete a snapshot")
    async def delete_snapshot(request: web.Request, pool: str, volume: str, snapshot: str) -> None:
        await service().delete_snapshot(pool, volume, snapshot)

    @api.post(S + "/rollback", body=Rollback, response=Volume, status=200,
              summary="Roll the volume back to this snapshot")
    async def rollback(request: web.Request, pool: str, volume: str, snapshot: str,
                       body: Rollback) -> Any:
        return await service().rollback(pool, volume, snapshot, body.force)

    @api.post(S + "/restore", body=Restore, response=Restored, status=200,
              summary="Restore a file or directory from the snapshot into the live volume")
    async def restore(request: web.Request, pool: str, volume: str, snapshot: str,
                      body: Restore) -> Any:
        return await service().restore(pool, volume, snapshot, body.path, body.target,
                                       body.overwrite)

    @api.post(S + "/clone", body=Clone, response=Volume, status=201,
              summary="Clone the snapshot into a new writable volume")
    async def clone(request: web.Request, pool: str, volume: str, snapshot: str,
                    body: Clone) -> Any:
        return await service().clone(pool, volume, snapshot, body.target)

    # --- disks -----------------------------------------------------------------------------------

    @api.get("/storage/disks", query=DiskQuery, response=list[Disk],
             summary="Disk inventory (lsblk/udev) with what uses each disk")
    async def list_disks(request: web.Request, query: DiskQuery) -> Any:
        found = await service().list_disks()
        if query.available is not None:
            found = [d for d in found if (not d["in_use"]) == query.available]
        return found

    @api.get("/storage/disks/{disk}", response=Disk, summary="One disk")
    async def get_disk(request: web.Request, disk: str) -> Any:
        return await service().get_disk(disk)

    @api.get("/storage/disks/{disk}/smart", response=SmartReport,
             summary="SMART: health, attributes, temperature, power-on hours, self-test log")
    async def disk_smart(request: web.Request, disk: str) -> Any:
        return await service().smart(disk)

    @api.post("/storage/disks/{disk}/smart/test", body=SmartTestStart, response=Job, status=202,
              summary="Start a SMART self-test (job)")
    async def smart_test(request: web.Request, disk: str, body: SmartTestStart) -> Any:
        return await service().smart_test(disk, body.type, body.wait, body.poll_interval)
