"""The ``[zfs]`` configuration section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ZfsConfig(BaseModel):
    """Settings of the ZFS backend."""

    mount_root: str | None = Field(
        None, description="mount new pools at <mount_root>/<pool> (default: ZFS's own /<pool>)")
    start_daemon: bool = Field(
        False, description="start the zfs-fuse daemon at startup if zpool does not answer "
                           "(user-space ZFS only; stopped again at shutdown)")
    zpool: str = Field("zpool", description="zpool program")
    zfs: str = Field("zfs", description="zfs program")
    command_timeout: float = Field(120.0, gt=0, description="seconds before a zfs/zpool call is killed")
