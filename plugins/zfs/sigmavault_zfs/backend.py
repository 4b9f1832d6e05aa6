"""The ``zfs`` storage backend (see docs/plugins/storage-backends.md for the protocol).

:class:`ZfsBackend` is composed of one mixin per resource over :class:`.base.ZfsBase` (pools,
devices, scrub, volumes, snapshots, replication). It names the protocols of
:mod:`sigmavault.backends` it implements as bases, so the type checker verifies every method
against :class:`~sigmavault.backends.StorageBackend` and each capability protocol it claims in
``capabilities``.
"""

from __future__ import annotations

from typing import Any

from sigmavault import backends

from .base import COMPRESSION, LAYOUTS, MIN_DEVICES
from .devices import DeviceOps
from .replication import ReplicationOps
from .scrub import ScrubOps
from .zfs_tool import ZfsCli


class ZfsBackend(DeviceOps, ScrubOps, ReplicationOps,
                 backends.StorageBackend, backends.Snapshots, backends.SnapshotListToken,
                 backends.Rollback, backends.Clone, backends.Scrub, backends.SendReceive,
                 backends.Diff, backends.Import, backends.DeviceAdd, backends.DeviceRemove,
                 backends.DeviceReplace):
    """Pools, datasets-as-volumes, snapshots, scrub, replication and diff through the ZFS CLI."""

    name = "zfs"
    description = "ZFS pools and datasets (OpenZFS 2.x or zfs-fuse)"

    # copied for each instance: available() narrows or widens "compression" to what the CLI has
    capabilities: dict[str, Any] = {
        "raid_levels": list(LAYOUTS), "min_devices": dict(MIN_DEVICES), "needs_devices": True,
        "snapshots": True, "writable_snapshots": False, "rollback": True,
        "rollback_keeps_newer": False, "clone": True, "scrub": True, "balance": False,
        "quotas": True, "compression": COMPRESSION, "send_receive": True,
        "incremental_send": True, "diff": True, "import": True, "device_add": True,
        "device_remove": True, "device_replace": True, "degraded_detection": True,
        "needs_root": True, "holds": True,
        "volume_properties": ["quota", "compression", "recordsize", "atime", "readonly"],
        "vdev_classes": ["log", "cache", "spares"],
    }

    def __init__(self, cli: ZfsCli | None = None) -> None:
        super().__init__(cli)
        self.capabilities = dict(type(self).capabilities)
