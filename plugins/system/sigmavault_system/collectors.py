"""Read the kernel's raw counters and gauges once, through psutil (no rates here: see ``rates``).

A :class:`RawSample` is what one tick of the sampler reads; two consecutive raw samples give the
rates served by the API (``rates.compute``).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass(frozen=True)
class FsUsage:
    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


@dataclass
class RawSample:
    """Counters and gauges read at one instant (``mono`` is the monotonic clock, ``ts`` wall time)."""

    ts: float
    mono: float
    cpu_total: Any  # psutil scputimes
    cpu_per_core: list[Any]
    memory: Any  # psutil svmem
    swap: Any  # psutil sswap
    load: tuple[float, float, float]
    net: dict[str, Any]  # nic -> snetio
    disks: dict[str, Any]  # device -> sdiskio
    temperatures: dict[str, list[Any]]  # chip -> [shwtemp]
    filesystems: list[FsUsage] = field(default_factory=list)


# Pseudo and virtual filesystems whose fill level means nothing for a NAS.
_SKIP_FSTYPES = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2", "securityfs", "pstore",
    "debugfs", "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc",
    "bpf", "nsfs", "rpc_pipefs", "squashfs", "overlay", "ramfs", "efivarfs", "nfsd",
})


def read_filesystems(fs_include_remote: bool = False) -> list[FsUsage]:
    """Usage of every mounted real filesystem, once per filesystem (bind mounts are folded).

    ``fuse.*`` filesystems (zfs-fuse datasets) are kept; network filesystems are read only when
    ``fs_include_remote`` because ``statvfs`` on a dead server can hang.
    """
    seen: set[int] = set()
    out: list[FsUsage] = []
    parts = sorted(psutil.disk_partitions(all=True), key=lambda p: len(p.mountpoint))
    for p in parts:
        if p.fstype in _SKIP_FSTYPES:
            continue
        if not fs_include_remote and (p.fstype.startswith("nfs") or p.fstype in {"cifs", "smb3",
                                                                                  "sshfs", "fuse.sshfs"}):
            continue
        try:
            dev = os.stat(p.mountpoint).st_dev
            if dev in seen:
                continue
            usage = psutil.disk_usage(p.mountpoint)
        except OSError:
            continue  # vanished between listing and stat, or permission denied
        if usage.total == 0:
            continue
        seen.add(dev)
        out.append(FsUsage(p.mountpoint, p.device, p.fstype, usage.total, usage.used, usage.free,
                           usage.percent))
    return out


def read_sample(*, disk_exclude: re.Pattern[str] | None = None,
                net_exclude: re.Pattern[str] | None = None,
                with_filesystems: bool = True) -> RawSample:
    """Read every counter the metrics need, as close to one instant as the kernel allows."""
    mono = time.monotonic()
    net = psutil.net_io_counters(pernic=True, nowrap=True)
    disks = psutil.disk_io_counters(perdisk=True, nowrap=True) or {}
    if disk_exclude is not None:
        disks = {k: v for k, v in disks.items() if not disk_exclude.search(k)}
    if net_exclude is not None:
        net = {k: v for k, v in net.items() if not net_exclude.search(k)}
    try:
        temps = psutil.sensors_temperatures()
    except (AttributeError, OSError):
        temps = {}
    return RawSample(
        ts=time.time(), mono=mono,
        cpu_total=psutil.cpu_times(percpu=False),
        cpu_per_core=psutil.cpu_times(percpu=True),
        memory=psutil.virtual_memory(),
        swap=psutil.swap_memory(),
        load=os.getloadavg(),
        net=net, disks=disks, temperatures=temps,
        filesystems=read_filesystems() if with_filesystems else [],
    )
