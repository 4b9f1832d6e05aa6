"""Replication of snapshots to another SigmaVault node over PhantomMesh (issue 27)."""

__version__ = "0.1.0"
