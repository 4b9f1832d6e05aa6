"""SigmaVault Ceph storage backend (CephFS through ceph-fuse)."""
