"""The btrfs plugin's service: owns the configured backend and mounts known pools at start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault.errors import APIError

from .backend import BtrfsBackend
from .config import BtrfsConfig

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.btrfs")


class BtrfsService:
    """``app.services[BtrfsService]``: the btrfs backend of this daemon (``.backend``)."""

    def __init__(self, app: "SigmaVault", config: BtrfsConfig) -> None:
        self.config = config
        root = Path(config.mount_root) if config.mount_root else app.data_dir / "btrfs"
        self.backend = BtrfsBackend(app.db, root, config.mount_options,
                                    config.allow_degraded_mount, config.automount,
                                    config.command_timeout)

    async def start(self) -> None:
        """Mount the recorded pools (``automount``); a pool that cannot be mounted is logged."""
        if not self.config.automount or not (await self.backend.available())["available"]:
            return
        for name in self.backend.pool_names():
            try:
                await self.backend.ensure_mounted(name)
            except APIError as exc:
                log.warning("btrfs pool %s could not be mounted: %s", name, exc.message)

    def security_findings(self) -> list[dict[str, Any]]:
        """A warning for each pool whose mount point is world-writable."""
        findings = []
        for row in self.backend.db.all("SELECT name, mountpoint FROM btrfs_pools"):
            path = Path(row["mountpoint"])
            if path.is_dir() and path.stat().st_mode & 0o002:
                findings.append({"id": f"btrfs.world_writable.{row['name']}", "severity": "warning",
                                 "title": f"pool {row['name']} mount point is world-writable",
                                 "detail": f"{path} has mode {oct(path.stat().st_mode & 0o777)}"})
        return findings
