"""The kernel's own numbers, read straight from /proc, to check the plugin against."""

from __future__ import annotations


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out = {}
    for line in open("/proc/meminfo"):
        key, _, rest = line.partition(":")
        parts = rest.split()
        out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def net_dev() -> dict[str, dict[str, int]]:
    """/proc/net/dev: rx/tx bytes and packets per interface."""
    out = {}
    for line in open("/proc/net/dev").readlines()[2:]:
        name, _, rest = line.partition(":")
        f = [int(x) for x in rest.split()]
        out[name.strip()] = {"rx_bytes": f[0], "rx_packets": f[1], "tx_bytes": f[8], "tx_packets": f[9]}
    return out


def cpu_stat() -> dict[str, list[int]]:
    """/proc/stat cpu lines: name -> jiffies (user nice system idle iowait irq softirq steal ...)."""
    out = {}
    for line in open("/proc/stat"):
        if line.startswith("cpu"):
            name, *vals = line.split()
            out[name] = [int(v) for v in vals]
    return out


def cpu_busy_percent(a: list[int], b: list[int]) -> float:
    """Busy share between two /proc/stat cpu lines (guest time is inside user already)."""
    d = [y - x for x, y in zip(a, b)]
    total = sum(d[:8])
    return 100.0 * (total - d[3] - d[4]) / total if total else 0.0


def uptime() -> float:
    return float(open("/proc/uptime").read().split()[0])


def loadavg() -> list[float]:
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def diskstats() -> dict[str, dict[str, int]]:
    """/proc/diskstats: reads, sectors read, writes, sectors written per device."""
    out = {}
    for line in open("/proc/diskstats"):
        f = line.split()
        out[f[2]] = {"reads": int(f[3]), "read_bytes": int(f[5]) * 512, "writes": int(f[7]),
                     "write_bytes": int(f[9]) * 512}
    return out
