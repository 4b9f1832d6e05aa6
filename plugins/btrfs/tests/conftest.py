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


def detach(device: str) -> None:
    """Take a loop device away (what pulling a disk looks like to the pool)."""
    _sh("btrfs", "device", "scan", "--forget", device)
    _sh("losetup", "-d", device, check=True)
    assert not os.path.exists(f"/sys/block/{os.path.basename(device)}/loop/backing_file")
