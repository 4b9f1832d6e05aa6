"""Pulling a disk for the real btrfs tests (loop devices come from ``sigmavault.testing``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import require_tool


def _sh(*argv: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


@pytest.fixture
def loop_devices(loop_devices):
    """The core's loop devices, for tests that need btrfs-progs too."""
    require_tool("mkfs.btrfs", "btrfs")
    return loop_devices


def fail_device(device: str, mountpoint: str, timeout: float = 20) -> None:
    """Pull a disk: detach its loop device (auto-clear once the pool lets go) and unmount the
    pool, the way a crash with a dead disk leaves it. The daemon may remount it meanwhile."""
    import time
    _sh("losetup", "-d", device, check=True)
    backing = Path(f"/sys/block/{os.path.basename(device)}/loop/backing_file")
    deadline = time.monotonic() + timeout
    while backing.exists():
        _sh("umount", mountpoint)
        if time.monotonic() > deadline:
            raise AssertionError(f"{device} is still attached")
        time.sleep(0.1)


@pytest.fixture
def pull_disk():
    """``pull_disk(device, mountpoint)``: see :func:`fail_device`."""
    return fail_device
