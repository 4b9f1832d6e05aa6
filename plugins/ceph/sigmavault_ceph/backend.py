"""The ``ceph`` storage backend (see docs/plugins/storage-backends.md and docs/plugins/ceph.md).

Pool = a CephFS file system, volume = a subvolume (quota = its size), snapshot = a subvolume
snapshot, scrub = a deep scrub of the file system's placement groups. :class:`CephBackend` is
one mixin per resource over :class:`.base.CephBase` and names the protocols of
:mod:`sigmavault.backends` it implements, so a type checker verifies each of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigmavault import backends

from .pools import PoolOps
from .scrub import ScrubOps
from .snapshots import SnapshotOps
from .volumes import VolumeOps


class CephBackend(PoolOps, VolumeOps, SnapshotOps, ScrubOps,
                  backends.StorageBackend, backends.Snapshots, backends.Rollback, backends.Clone,
                  backends.Scrub, backends.Import):
    """CephFS file systems as pools on one or more Ceph clusters, mounted with ceph-fuse."""

    name = "ceph"
    description = "Ceph: CephFS file systems as pools, subvolumes as volumes (ceph-fuse)"

    capabilities: dict[str, Any] = {
        "raid_levels": [], "min_devices": {}, "needs_devices": False,
        "snapshots": True, "writable_snapshots": False, "rollback": True,
        "rollback_keeps_newer": True, "clone": True, "scrub": True, "balance": False,
        "quotas": True, "compression": [], "send_receive": False, "incremental_send": False,
        "diff": False, "import": True, "device_add": False, "device_remove": False,
        "device_replace": False, "degraded_detection": True, "needs_root": True,
        "pool_options": {"size": "replicas of the data and metadata pools (1..OSDs in)",
                         "pg_num": "placement groups of the data pool (metadata: half)",
                         "cluster": "fsid or name of the cluster (when several are known)"},
        "multi_node": True,
    }

    def __init__(self, mount_root: Path, pg_num: int = 8, mds_wait: float = 60.0) -> None:
        super().__init__(mount_root, pg_num, mds_wait)
        self.capabilities = dict(type(self).capabilities)
