"""Replication tests: the core's fixtures come from sigmavault.testing (root conftest)."""
