"""The ``[btrfs]`` configuration section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BtrfsConfig(BaseModel):
    """Settings of the btrfs backend."""

    mount_root: str | None = Field(None, description="where pools are mounted "
                                   "(default: <data_dir>/btrfs)")
    mount_options: list[str] = Field(default_factory=lambda: ["noatime"])
    allow_degraded_mount: bool = Field(True, description="mount with -o degraded when a device "
                                       "is missing (the pool stays usable and reports degraded)")
    automount: bool = Field(True, description="mount known pools at startup and on health checks")
    command_timeout: float = Field(120.0, gt=0)
