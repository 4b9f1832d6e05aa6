"""Turn two raw samples into the metrics the API serves: percentages and per-second rates.

Everything returned is JSON-ready and matches :class:`sigmavault_system.models.Metrics`.
"""

from __future__ import annotations

from typing import Any

from .collectors import RawSample


def _r(x: float, nd: int = 2) -> float:
    return round(x, nd)


def cpu_split(prev: Any, cur: Any) -> dict[str, float]:
    """Busy/user/system/iowait/idle shares (0-100) of the time between two ``cpu_times``.

    Like the kernel's own accounting, guest time is already inside user/nice and is not counted
    twice; "busy" is everything but idle and iowait.
    """
    d = {f: max(0.0, getattr(cur, f) - getattr(prev, f)) for f in cur._fields}
    total = sum(d.values()) - d.get("guest", 0.0) - d.get("guest_nice", 0.0)
    if total <= 0:
        return {"percent": 0.0, "user": 0.0, "system": 0.0, "iowait": 0.0, "idle": 100.0}
    idle = d.get("idle", 0.0)
    iowait = d.get("iowait", 0.0)
    pct = lambda v: _r(min(100.0, 100.0 * v / total))  # noqa: E731
    return {
        "percent": pct(total - idle - iowait),
        "user": pct(d.get("user", 0.0) + d.get("nice", 0.0)),
        "system": pct(d.get("system", 0.0) + d.get("irq", 0.0) + d.get("softirq", 0.0)),
        "iowait": pct(iowait),
        "idle": pct(idle),
    }


def _per_s(cur: float, prev: float, dt: float) -> float:
    # Counters that went backwards (interface re-created, device reset) restart from zero.
    return _r(max(0.0, cur - prev) / dt) if dt > 0 else 0.0


def net_rates(prev: dict[str, Any], cur: dict[str, Any], dt: float) -> list[dict[str, Any]]:
    out = []
    for nic, c in sorted(cur.items()):
        p = prev.get(nic, c)
        out.append({
            "interface": nic,
            "rx_bytes_per_s": _per_s(c.bytes_recv, p.bytes_recv, dt),
            "tx_bytes_per_s": _per_s(c.bytes_sent, p.bytes_sent, dt),
            "rx_packets_per_s": _per_s(c.packets_recv, p.packets_recv, dt),
            "tx_packets_per_s": _per_s(c.packets_sent, p.packets_sent, dt),
            "rx_errors_per_s": _per_s(c.errin, p.errin, dt),
            "tx_errors_per_s": _per_s(c.errout, p.errout, dt),
            "rx_drops_per_s": _per_s(c.dropin, p.dropin, dt),
            "tx_drops_per_s": _per_s(c.dropout, p.dropout, dt),
            "rx_bytes_total": c.bytes_recv,
            "tx_bytes_total": c.bytes_sent,
        })
    return out


def disk_rates(prev: dict[str, Any], cur: dict[str, Any], dt: float) -> list[dict[str, Any]]:
    out = []
    for dev, c in sorted(cur.items()):
        p = prev.get(dev, c)
        reads = max(0, c.read_count - p.read_count)
        writes = max(0, c.write_count - p.write_count)
        busy = getattr(c, "busy_time", None)
        out.append({
            "device": dev,
            "read_bytes_per_s": _per_s(c.read_bytes, p.read_bytes, dt),
            "write_bytes_per_s": _per_s(c.write_bytes, p.write_bytes, dt),
            "reads_per_s": _per_s(c.read_count, p.read_count, dt),
            "writes_per_s": _per_s(c.write_count, p.write_count, dt),
            "read_latency_ms": _r(max(0, c.read_time - p.read_time) / reads, 3) if reads else None,
            "write_latency_ms": _r(max(0, c.write_time - p.write_time) / writes, 3) if writes else None,
            "busy_percent": (_r(min(100.0, max(0, busy - p.busy_time) / (dt * 10.0)))
                             if busy is not None and dt > 0 else None),
        })
    return out


def memory(vm: Any) -> dict[str, Any]:
    return {"total": vm.total, "available": vm.available, "used": vm.used, "free": vm.free,
            "percent": vm.percent, "buffers": getattr(vm, "buffers", 0),
            "cached": getattr(vm, "cached", 0), "shared": getattr(vm, "shared", 0),
            "active": getattr(vm, "active", 0), "inactive": getattr(vm, "inactive", 0)}


def swap(sw: Any) -> dict[str, Any]:
    return {"total": sw.total, "used": sw.used, "free": sw.free, "percent": sw.percent}


def temperatures(temps: dict[str, list[Any]]) -> list[dict[str, Any]]:
    out = []
    for chip, sensors in sorted(temps.items()):
        for i, s in enumerate(sensors):
            out.append({"chip": chip, "label": s.label or f"temp{i + 1}", "celsius": s.current,
                        "high": s.high, "critical": s.critical})
    return out


def compute(prev: RawSample, cur: RawSample) -> dict[str, Any]:
    """The metrics of ``cur``, with rates over the time since ``prev``."""
    dt = cur.mono - prev.mono
    per_core = []
    for i, (p, c) in enumerate(zip(prev.cpu_per_core, cur.cpu_per_core)):
        per_core.append({"core": i, **cpu_split(p, c)})
    return {
        "ts": _r(cur.ts, 3),
        "interval": _r(dt, 3),
        "cpu": {**cpu_split(prev.cpu_total, cur.cpu_total), "count": len(cur.cpu_per_core),
                "per_core": per_core},
        "memory": memory(cur.memory),
        "swap": swap(cur.swap),
        "load": [_r(x) for x in cur.load],
        "network": net_rates(prev.net, cur.net, dt),
        "disks": disk_rates(prev.disks, cur.disks, dt),
        "temperatures": temperatures(cur.temperatures),
        "filesystems": [{"mountpoint": f.mountpoint, "device": f.device, "fstype": f.fstype,
                         "total": f.total, "used": f.used, "free": f.free, "percent": f.percent}
                        for f in cur.filesystems],
    }
