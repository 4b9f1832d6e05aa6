"""SigmaVault ZFS storage backend: drives the ``zpool``/``zfs`` commands of OpenZFS 2.x or zfs-fuse."""
