"""SigmaVault BTRFS storage backend."""
