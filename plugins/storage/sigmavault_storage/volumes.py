"""Volumes: the filesystems (subvolumes, datasets, directories) inside a pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.backends import StorageBackend, not_supported
from sigmavault.errors import bad_request
from sigmavault.validation import check_name

from .models import Volume, VolumeCreate, VolumeUpdate
from .pools import P, PoolService, ROUTES

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

V = P + "/volumes/{volume}"


def _check_options(b: StorageBackend, quota: int | None, compression: str | None) -> None:
    caps = b.capabilities
    if quota is not None and not caps.get("quotas"):
        raise not_supported(b.name, "quotas", caps.get("quotas_unavailable"))
    if compression is not None:
        allowed = list(caps.get("compression") or [])
        if not allowed:
            raise not_supported(b.name, "compression")
        if compression not in allowed + ["off"]:
            raise bad_request(f"compression {compression!r} is not one of {allowed + ['off']}",
                              code="bad_compression")


class VolumeService:
    route_defaults = ROUTES

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app

    @property
    def pools(self) -> PoolService:
        return self.app.services[PoolService]

    async def _backend(self, pool: str, volume: str | None = None) -> StorageBackend:
        b = await self.pools.pool_backend(pool)
        if volume is not None:
            check_name(volume, "volume")
        return b

    @operation("storage.volumes.list", get=P + "/volumes", response=list[Volume],
               summary="List volumes of a pool")
    async def list_volumes(self, pool: str | None = None) -> list[Volume]:
        """The volumes of ``pool``, or of every available pool when it is ``None``."""
        names = [pool] if pool else [p.name for p in await self.pools.list_pools()
                                     if p.state != "unavailable"]
        out: list[Volume] = []
        for name in names:
            b = await self._backend(name)
            out += [Volume.model_validate(v) for v in await b.volume_list(pool=name)]
        return out

    @operation("storage.volume.create", post=P + "/volumes", body=VolumeCreate, response=Volume,
               status=201, summary="Create a volume (quota, compression)")
    async def create_volume(self, pool: str, name: str, quota: int | None,
                            compression: str | None) -> Volume:
        b = await self._backend(pool)
        _check_options(b, quota, compression)
        vol = Volume.model_validate(await b.volume_create(pool=pool, name=name, quota=quota,
                                                          compression=compression))
        self.pools.publish(kind="volume_created", pool=pool, volume=name,
                           message=f"volume {pool}/{name} created")
        return vol

    @operation("storage.volume.get", get=V, response=Volume,
               summary="One volume (with its used bytes)")
    async def get_volume(self, pool: str, volume: str) -> Volume:
        b = await self._backend(pool, volume)
        return Volume.model_validate(await b.volume_get(pool=pool, name=volume))

    @operation("storage.volume.update", patch=V, body=VolumeUpdate, response=Volume,
               summary="Change quota or compression (null removes)")
    async def update_volume(self, pool: str, volume: str, body: VolumeUpdate) -> Volume:
        changes: dict[str, Any] = body.changes()
        b = await self._backend(pool, volume)
        _check_options(b, changes.get("quota"), changes.get("compression"))
        current = await b.volume_get(pool=pool, name=volume)
        if changes:
            current = await b.volume_update(pool=pool, name=volume, changes=changes)
        return Volume.model_validate(current)

    @operation("storage.volume.destroy", delete=V,
               summary="Delete a volume (it must have no snapshots)")
    async def destroy_volume(self, pool: str, volume: str) -> None:
        b = await self._backend(pool, volume)
        await b.volume_destroy(pool=pool, name=volume)
        self.pools.publish(kind="volume_deleted", pool=pool, volume=volume,
                           message=f"volume {pool}/{volume} deleted")

    @operation("storage.volume.path")
    async def volume_path(self, pool: str, volume: str) -> str:
        """(pool, volume) -> absolute path of the mounted volume's root."""
        b = await self._backend(pool, volume)
        return await b.volume_path(pool=pool, name=volume)
