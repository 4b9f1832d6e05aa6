"""Filesystem helpers beyond ``sigmavault.files``."""

from __future__ import annotations

from pathlib import Path

from sigmavault.files import fsync_dir


def fsync_parent(path: Path) -> None:
    """Make a rename or unlink of ``path`` durable."""
    fsync_dir(path.parent)
