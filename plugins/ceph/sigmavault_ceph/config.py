"""The ``[ceph]`` configuration section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CephConfig(BaseModel):
    """Settings of the Ceph backend.

    A cluster is reached through a ``ceph.conf`` and a keyring: the one named here (adopted at
    start), those adopted through the API (``POST /api/v1/ceph/clusters``) and those bootstrapped
    by SigmaVault under ``<data_dir>/ceph/<cluster>`` (``POST /api/v1/ceph/clusters/bootstrap``).
    """

    conf: str | None = Field(None, description="ceph.conf of a cluster to adopt at start")
    keyring: str | None = Field(None, description="keyring of the client below (0600 advised)")
    client_id: str = Field("admin", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                           description="cephx client id (client.<id>) for conf/keyring")
    mount_root: str | None = Field(None, description="ceph-fuse mounts of the file systems "
                                   "(default <data_dir>/ceph/mnt)")
    command_timeout: float = Field(60.0, gt=0, description="seconds before a ceph call is killed")
    default_pg_num: int = Field(8, ge=1, le=4096, description="placement groups of each pool a "
                                "new file system gets (data and metadata)")
    allow_bootstrap: bool = Field(False, description="allow POST /api/v1/ceph/clusters/bootstrap "
                                  "to create a cluster on this host (daemons, sparse OSD files)")
    mds_wait: float = Field(60.0, gt=0, description="seconds to wait for a new file system's MDS")
