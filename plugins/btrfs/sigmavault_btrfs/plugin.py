"""Hook implementations of the btrfs plugin (entry point ``btrfs``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, Field

from sigmavault import hookimpl
from sigmavault.errors import APIError

from .backend import MIGRATIONS, BtrfsBackend

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.btrfs")
BACKEND = BtrfsBackend()


class BtrfsConfig(BaseModel):
    mount_root: str | None = Field(None, description="where pools are mounted "
                                   "(default: <data_dir>/btrfs)")
    mount_options: list[str] = Field(default_factory=lambda: ["noatime"])
    allow_degraded_mount: bool = Field(True, description="mount with -o degraded when a device "
                                       "is missing (the pool stays usable and reports degraded)")
    automount: bool = Field(True, description="mount known pools at startup and on health checks")
    command_timeout: float = Field(120.0, gt=0)


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("btrfs", BtrfsConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("btrfs", MIGRATIONS)


@hookimpl
def register_storage_backends(register: Callable[[Any], None]) -> None:
    register(BACKEND)


@hookimpl
async def startup(app: "SigmaVault") -> None:
    cfg: BtrfsConfig = app.config.section("btrfs")
    root = Path(cfg.mount_root) if cfg.mount_root else app.data_dir / "btrfs"
    BACKEND.configure(app, root, cfg.mount_options, cfg.allow_degraded_mount, cfg.automount,
                      cfg.command_timeout)
    if not cfg.automount or not (await BACKEND.available())["available"]:
        return
    for row in app.db.all("SELECT name FROM btrfs_pools"):
        try:
            await BACKEND.ensure_mounted(row["name"])
        except APIError as exc:
            log.warning("btrfs pool %s could not be mounted: %s", row["name"], exc.message)


@hookimpl
def security_checks(app: "SigmaVault") -> list[dict]:
    findings = []
    for row in app.db.all("SELECT name, mountpoint FROM btrfs_pools"):
        path = Path(row["mountpoint"])
        if path.is_dir() and path.stat().st_mode & 0o002:
            findings.append({"id": f"btrfs.world_writable.{row['name']}", "severity": "warning",
                             "title": f"pool {row['name']} mount point is world-writable",
                             "detail": f"{path} has mode {oct(path.stat().st_mode & 0o777)}"})
    return findings
