"""Hook implementations of the storage plugin (entry point ``storage``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl

from . import routes
from .config import StorageConfig
from .dirbackend import DirBackend
from .models import StorageEvent
from .service import MIGRATIONS, StorageService
from .state import service, set_service

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

DIR_BACKEND = DirBackend()


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("storage", StorageConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("storage", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("storage.event", StorageEvent, "pool state change, scrub progress/finish, disk "
             "appeared/vanished, SMART health change, pool/volume/snapshot lifecycle")


@hookimpl
def register_storage_backends(register: Callable[[Any], None]) -> None:
    register(DIR_BACKEND)


@hookimpl
def register_routes(app: "SigmaVault") -> None:
    routes.register(app)


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="storage", title="Storage", path="/storage", icon="hard-drive", section="main")
    register(id="disks", title="Disks", path="/storage/disks", icon="disc", section="main")


async def _pools_list() -> list[dict]:
    return await service().list_pools()


async def _volumes_list(pool: str | None = None) -> list[dict]:
    svc = service()
    pools = [pool] if pool else [p["name"] for p in await svc.list_pools()
                                 if p["state"] != "unavailable"]
    out: list[dict] = []
    for name in pools:
        out.extend(await svc.list_volumes(name))
    return out


async def _volume_path(pool: str, volume: str) -> str:
    return await service().volume_path(pool, volume)


async def _snapshot_create(pool: str, volume: str, snapshot: str | None = None,
                           writable: bool = False) -> dict:
    return await service().create_snapshot(pool, volume, snapshot, writable)


async def _snapshot_list(pool: str, volume: str) -> list[dict]:
    return await service().list_snapshots(pool, volume)


async def _snapshot_delete(pool: str, volume: str, snapshot: str) -> None:
    await service().delete_snapshot(pool, volume, snapshot)


async def _snapshot_path(pool: str, volume: str, snapshot: str) -> str:
    return await service().snapshot_path(pool, volume, snapshot)


async def _snapshot_restore(pool: str, volume: str, snapshot: str, path: str,
                            target: str | None = None, overwrite: bool = False) -> dict:
    return await service().restore(pool, volume, snapshot, path, target, overwrite)


async def _snapshot_send(pool: str, volume: str, snapshot: str, target: str,
                         base: str | None = None) -> dict:
    return await service().send(pool, volume, snapshot, target, base)


async def _snapshot_receive(pool: str, volume: str, source: str,
                            snapshot: str | None = None) -> dict:
    return await service().receive(pool, volume, source, snapshot)


async def _snapshot_diff(pool: str, volume: str, old: str, new: str | None = None) -> list[dict]:
    return await service().diff(pool, volume, old, new)


async def _disks_list() -> list[dict]:
    return await service().list_disks()


async def _smart_read(disk: str) -> dict:
    return await service().smart(disk)


async def _pool_health(pool: str) -> dict:
    return await service().pool_health(pool)


async def _backends() -> list[dict]:
    return await service().backend_infos()


@hookimpl
def register_methods(register: Callable[..., None]) -> None:
    register("storage.pools.list", _pools_list, "all pools: [Pool]")
    register("storage.pool.health", _pool_health, "(pool) -> Health")
    register("storage.backends.list", _backends, "backends with capabilities")
    register("storage.volumes.list", _volumes_list, "(pool=None) -> [Volume] of one or all pools")
    register("storage.volume.path", _volume_path, "(pool, volume) -> absolute mount path")
    register("storage.snapshot.create", _snapshot_create,
             "(pool, volume, snapshot=None, writable=False) -> Snapshot")
    register("storage.snapshot.list", _snapshot_list, "(pool, volume) -> [Snapshot] (unsorted)")
    register("storage.snapshot.delete", _snapshot_delete, "(pool, volume, snapshot)")
    register("storage.snapshot.path", _snapshot_path,
             "(pool, volume, snapshot) -> absolute read-only directory of the snapshot's files")
    register("storage.snapshot.restore", _snapshot_restore,
             "(pool, volume, snapshot, path, target=None, overwrite=False) -> Restored")
    register("storage.snapshot.send", _snapshot_send,
             "(pool, volume, snapshot, target, base=None) -> {bytes, format, incremental}")
    register("storage.snapshot.receive", _snapshot_receive,
             "(pool, volume, source, snapshot=None) -> Snapshot")
    register("storage.snapshot.diff", _snapshot_diff,
             "(pool, volume, old, new=None) -> [{path, change, type, old_path}]")
    register("storage.disks.list", _disks_list, "disk inventory: [Disk]")
    register("storage.smart.read", _smart_read, "(disk) -> SmartReport")


@hookimpl
async def startup(app: "SigmaVault") -> None:
    cfg: StorageConfig = app.config.section("storage")
    root = Path(cfg.pools_root) if cfg.pools_root else app.data_dir / "pools"
    DIR_BACKEND.configure(root, cfg.dir_snapshot_mode, cfg.copy_timeout)
    svc = StorageService(app, cfg)
    set_service(svc)
    if cfg.monitor_interval > 0:
        app.spawn(svc.monitor())


@hookimpl
def shutdown(app: "SigmaVault") -> None:
    set_service(None)
