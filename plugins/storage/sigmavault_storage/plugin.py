"""Hook implementations of the storage plugin (entry point ``storage``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool

from .config import StorageConfig
from .dirbackend import DirBackend
from .disks import DiskService
from .files import FileService
from .maintenance import MaintenanceService
from .models import StorageEvent
from .monitor import StorageMonitor
from .pools import MIGRATIONS, PoolService
from .protection import ProtectionService
from .snapshots import SnapshotService
from .volumes import VolumeService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


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
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    register(PoolService(app, app.config.section("storage")))
    for service in (VolumeService, SnapshotService, DiskService, MaintenanceService, StorageMonitor,
                    FileService, ProtectionService):
        register(service(app))


@hookimpl
def register_storage_backends(register: Callable[[Any], None], app: "SigmaVault") -> None:
    cfg: StorageConfig = app.config.section("storage")
    root = Path(cfg.pools_root) if cfg.pools_root else app.data_dir / "pools"
    register(DirBackend(root, cfg.dir_snapshot_mode, cfg.copy_timeout, cfg.usage_max_age))


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="storage", title="Storage", path="/storage", icon="hard-drive", section="main")
    register(id="disks", title="Disks", path="/storage/disks", icon="disc", section="main")
    register(id="protection", title="Data protection", path="/protection", icon="shield", section="main")


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("smartctl", "disk health (SMART) cannot be read", ("smartctl", "--version")),
        Tool("lsblk", "disks cannot be listed", ("lsblk", "--version")),
        Tool("blkid", "disks carrying a filesystem are not recognised as in use",
             ("blkid", "--version")),
    ):
        register(tool)
