"""Loop devices on sparse files for the real btrfs tests; everything is torn down afterwards."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sigmavault.testing import require_root, require_tool


def _sh(*argv: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


def _mounts_under(root: Path, devices: set[str]) -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4].encode().decode("unicode_escape")
            source = fields[fields.index("-") + 2]
            if source in devices or mnt.startswith(str(root)):
                points.append(mnt)
    return sorted(set(points), key=len, reverse=True)


def cleanup_loops(root: Path, files: list[Path]) -> None:
    devices = set()
    for f in files:
        out = _sh("losetup", "-j", str(f), "-n", "-O", "NAME").stdout.split()
        devices.update(out)
    for mnt in _mounts_under(root, devices):
        if _sh("umount", mnt).returncode:
            _sh("umount", "-l", mnt)
    for dev in sorted(devices):
        _sh("btrfs", "device", "scan", "--forget", dev)
        _sh("losetup", "-d", dev)
    for f in files:
        f.unlink(missing_ok=True)


@pytest.fixture
def loop_devices(tmp_path):
    """``make(n, size=256 MiB) -> ["/dev/loopN", ...]`` backed by sparse files in tmp_path."""
    require_root()
    require_tool("losetup", "mkfs.btrfs", "btrfs", "wipefs")
    files: list[Path] = []

    def make(n: int, size: int = 256 << 20) -> list[str]:
        out = []
        for _ in range(n):
            f = tmp_path / f"disk{len(files)}.img"
            with open(f, "wb") as fh:
                fh.truncate(size)
            files.append(f)
            out.append(_sh("losetup", "-f", "--show", str(f), check=True).stdout.strip())
        return out

    try:
        yield make
    finally:
        cleanup_loops(tmp_path, files)


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
