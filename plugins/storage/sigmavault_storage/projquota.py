"""Project quotas for the ``dir`` backend.

Every volume directory gets a project id (the ``FS_IOC_FSSETXATTR`` ioctl: id + ``PROJINHERIT``, so
new files and directories inherit it). Limits and usage go through the filesystem's own tools:
``xfs_quota`` on XFS, ``setquota``/``repquota`` (quota package) on ext4. Quotas are enforced only
on XFS or ext4 (with the ``project`` and ``quota`` features) mounted with ``prjquota``; that is read
from the mount table, which is parsed again whenever the kernel reports a mount or unmount, so a
remount is noticed without a restart.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import shutil
import stat
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigmavault.commands import run

# struct fsxattr {__u32 xflags, extsize, nextents, projid, cowextsize; unsigned char pad[8];}
_FSXATTR = struct.Struct("=IIIII8s")
FS_IOC_FSGETXATTR = 0x801C581F   # _IOR('X', 31, struct fsxattr)
FS_IOC_FSSETXATTR = 0x401C5820   # _IOW('X', 32, struct fsxattr)
FS_XFLAG_PROJINHERIT = 0x00000200
QUOTA_FILESYSTEMS = ("xfs", "ext4")
TOOLS = {"xfs": ("xfs_quota", "xfsprogs"), "ext4": ("setquota", "quota")}
FIRST_ID = 100_000          # above the small ids admins hand out in /etc/projid
MAX_ID = 0xFFFF_FFFE        # 32-bit project ids (XFS v5 and ext4); -1 is reserved


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    source: str
    options: frozenset[str]


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


class _MountTable:
    """The parsed /proc/self/mountinfo, re-read only after the kernel flags a change (the file is
    pollable: a mount or unmount raises POLLPRI on an open descriptor, see proc(5))."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._file: Any = None
        self._poll = select.poll()
        self._mounts: list[Mount] = []

    def mounts(self) -> list[Mount]:
        with self._lock:
            if self._file is None:
                self._file = open("/proc/self/mountinfo")
                self._poll.register(self._file, select.POLLPRI | select.POLLERR)
                self._mounts = self._read()
            elif self._poll.poll(0):
                self._mounts = self._read()
            return self._mounts

    def _read(self) -> list[Mount]:
        self._file.seek(0)
        out = []
        for line in self._file.read().splitlines():
            fields = line.split()
            sep = fields.index("-")
            opts = frozenset(fields[5].split(",")) | frozenset(fields[sep + 3].split(","))
            out.append(Mount(_unescape(fields[4]), fields[sep + 1], _unescape(fields[sep + 2]),
                             opts))
        return out


_TABLE = _MountTable()


def mount_of(path: Path | str) -> Mount:
    """The mount that holds ``path`` (the last-mounted of the longest matching mount points)."""
    real = os.path.realpath(path)
    best: Mount | None = None
    for m in _TABLE.mounts():
        if (real == m.point or real.startswith(m.point.rstrip("/") + "/")) and (
                best is None or len(m.point) >= len(best.point)):
            best = m
    if best is None:  # pragma: no cover - "/" is always mounted
        raise FileNotFoundError(f"no mount holds {real}")
    return best


def support(path: Path | str) -> str | None:
    """None when quotas can be enforced under ``path``; otherwise why not, in words."""
    m = mount_of(path)
    if m.fstype not in QUOTA_FILESYSTEMS:
        return (f"the filesystem at {m.point} is {m.fstype}; project quotas need XFS or ext4 "
                f"mounted with prjquota")
    if "prjquota" not in m.options:
        if "pqnoenforce" in m.options:
            return f"the filesystem at {m.point} counts project usage but does not enforce it (pqnoenforce)"
        return f"the filesystem at {m.point} ({m.fstype}) is not mounted with prjquota"
    tool, package = TOOLS[m.fstype]
    if shutil.which(tool) is None:
        return f"{tool} is not installed (Debian package {package})"
    return None


# --- project ids ---------------------------------------------------------------------------------


def _open(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)


def _get(fd: int) -> tuple[int, int]:
    buf = bytearray(_FSXATTR.size)
    fcntl.ioctl(fd, FS_IOC_FSGETXATTR, buf, True)
    xflags, _ext, _n, projid, _cow, _pad = _FSXATTR.unpack(buf)
    return projid, xflags


def _set(fd: int, projid: int, inherit: bool) -> None:
    buf = bytearray(_FSXATTR.size)
    fcntl.ioctl(fd, FS_IOC_FSGETXATTR, buf, True)
    fields = list(_FSXATTR.unpack(buf))
    fields[0] = fields[0] | FS_XFLAG_PROJINHERIT if inherit else fields[0] & ~FS_XFLAG_PROJINHERIT
    fields[3] = projid
    fcntl.ioctl(fd, FS_IOC_FSSETXATTR, _FSXATTR.pack(*fields))


def get_project(path: Path | str) -> tuple[int, bool]:
    """(project id, PROJINHERIT set) of one file or directory."""
    fd = _open(os.fspath(path))
    try:
        projid, xflags = _get(fd)
        return projid, bool(xflags & FS_XFLAG_PROJINHERIT)
    finally:
        os.close(fd)


def try_set_project_tree(root: Path | str, projid: int) -> bool:
    """:func:`set_project_tree`; False when the filesystem keeps no project ids (ext4 without the
    ``project`` feature, tmpfs, btrfs ...) or this process may not set them (not root)."""
    try:
        set_project_tree(root, projid)
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS,
                         errno.EPERM):
            return False
        raise


def set_project_tree(root: Path | str, projid: int) -> None:
    """Give ``root`` and every directory and regular file below it ``projid``; directories get
    PROJINHERIT. Symlinks, devices and sockets keep theirs (the ioctl needs an open file)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        _set_one(dirpath, projid, True)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                _set_one(path, projid, False)


def _set_one(path: str, projid: int, inherit: bool) -> None:
    fd = _open(path)
    try:
        _set(fd, projid, inherit)
    finally:
        os.close(fd)


# --- limits and usage ----------------------------------------------------------------------------


async def set_limit(mount: Mount, projid: int, limit: int | None) -> None:
    """Hard block limit of project ``projid`` in bytes (rounded up to KiB); None removes it."""
    kib = 0 if limit is None else -(-limit // 1024)
    if mount.fstype == "xfs":
        await run(["xfs_quota", "-x", "-c", f"limit -p bsoft=0 bhard={kib}k {projid}",
                   mount.point], timeout=60)
    else:
        await run(["setquota", "-P", str(projid), "0", str(kib), "0", "0", mount.point],
                  timeout=60)


def parse_xfs_report(text: str) -> dict[int, tuple[int, int]]:
    """``xfs_quota -x -c "report -p -b -N -n"`` → {projid: (used KiB, hard KiB)}."""
    out: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].startswith("#") and parts[0][1:].isdigit():
            out[int(parts[0][1:])] = (int(parts[1]), int(parts[3]))
    return out


def parse_repquota(text: str) -> dict[int, tuple[int, int]]:
    """``repquota -P -n`` → {projid: (used KiB, hard KiB)}; the flags column (``--``, ``+-``)
    follows the id."""
    out: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if (len(parts) >= 5 and parts[0].startswith("#") and parts[0][1:].isdigit()
                and set(parts[1]) <= {"-", "+"}):
            out[int(parts[0][1:])] = (int(parts[2].rstrip("*")), int(parts[4]))
    return out


async def report(mount: Mount) -> dict[int, tuple[int, int]]:
    """{projid: (used bytes, hard limit bytes or 0)} for every project the filesystem knows."""
    if mount.fstype == "xfs":
        result = await run(["xfs_quota", "-x", "-c", "report -p -b -N -n", mount.point],
                           timeout=60)
        table = parse_xfs_report(result.stdout)
    else:
        result = await run(["repquota", "-P", "-n", mount.point], timeout=60)
        table = parse_repquota(result.stdout)
    return {pid: (used << 10, hard << 10) for pid, (used, hard) in table.items()}
