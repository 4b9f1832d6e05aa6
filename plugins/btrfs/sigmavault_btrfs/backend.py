"""The ``btrfs`` storage backend (protocol: docs/plugins/storage-backends.md).

:class:`BtrfsBackend` is composed of one mixin per resource over :class:`.base.BtrfsBase`
(pools, devices with scrub and balance, volumes, snapshots, replication). It names the
protocols of :mod:`sigmavault.backends` it implements as bases, so the type checker verifies
every method against :class:`~sigmavault.backends.StorageBackend` and each capability protocol
it claims in ``capabilities``.
"""

from __future__ import annotations

from typing import Any

from sigmavault import backends

from .base import COMPRESSION, MIGRATIONS, MIN_DEVICES, RAID_LEVELS, is_read_only
from .devices import DeviceOps
from .replication import ReplicationOps

__all__ = ["BtrfsBackend", "MIGRATIONS", "is_read_only"]


class BtrfsBackend(DeviceOps, ReplicationOps,
                   backends.StorageBackend, backends.Snapshots, backends.SnapshotListToken,
                   backends.Rollback, backends.Clone, backends.Scrub, backends.Balance,
                   backends.SendReceive, backends.Diff, backends.Import, backends.DeviceAdd,
                   backends.DeviceRemove, backends.DeviceReplace):
    """btrfs filesystems on whole disks: one pool per filesystem, volumes = subvolumes."""

    name = "btrfs"
    description = "btrfs filesystems on whole disks: raid profiles, subvolumes, snapshots, scrub"
    capabilities: dict[str, Any] = {
        "raid_levels": RAID_LEVELS, "min_devices": MIN_DEVICES, "needs_devices": True,
        "snapshots": True, "writable_snapshots": True, "rollback": True,
        "rollback_keeps_newer": True, "clone": True, "scrub": True, "balance": True,
        "quotas": True, "compression": COMPRESSION, "send_receive": True,
        "incremental_send": True, "diff": True, "import": True, "device_add": True,
        "device_remove": True, "device_replace": True, "degraded_detection": True,
        "needs_root": True,
    }
