"""Usable capacity and fault tolerance of candidate pool layouts (pure computation).

btrfs allocates chunks on the devices with the most free space, so capacity is simulated chunk
by chunk (exact for unequal disks); zfs vdevs are limited by their smallest member."""

from __future__ import annotations

from typing import Any

# copies kept, devices one chunk spans at least, failures survived
BTRFS = {"single": (1, 1, 0), "dup": (2, 1, 0), "raid0": (1, 2, 0), "raid1": (2, 2, 1),
         "raid1c3": (3, 3, 2), "raid1c4": (4, 4, 3), "raid10": (2, 4, 1),
         "raid5": (1, 3, 1), "raid6": (1, 4, 2)}
ZFS_PARITY = {"raidz1": 1, "raidz2": 2, "raidz3": 3}


def btrfs_usable(sizes: list[int], layout: str, unit: int | None = None) -> int:
    copies, min_span, _ = BTRFS[layout]
    if layout == "dup":
        return sum(s // 2 for s in sizes)
    free = list(sizes)
    unit = unit or max(min(sizes) // 512, 1 << 20)
    usable = 0
    while True:
        order = sorted(range(len(free)), key=lambda i: free[i], reverse=True)
        avail = [i for i in order if free[i] >= unit]
        if layout in ("single",):
            span = avail[:1]
        elif layout in ("raid1", "raid1c3", "raid1c4"):
            span = avail[:copies]
        elif layout == "raid10":
            span = avail[:len(avail) - len(avail) % 2]
        else:   # raid0, raid5, raid6 stripe over every device with room
            span = avail
        if len(span) < max(min_span, copies if layout.startswith("raid1") else 1):
            return usable
        for i in span:
            free[i] -= unit
        data_devices = {"raid5": len(span) - 1, "raid6": len(span) - 2,
                        "raid10": len(span) // 2}.get(layout, len(span) // copies)
        usable += unit * data_devices


def candidates(disks: list[dict[str, Any]], backends: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every layout each device backend offers for ``disks`` ([{name, size}])."""
    sizes = [int(d["size"]) for d in disks]
    n, raw = len(sizes), sum(sizes)
    out: list[dict[str, Any]] = []
    for b in backends:
        caps = b.get("capabilities", {})
        if not caps.get("needs_devices"):
            continue
        mins = caps.get("min_devices", {})
        for layout in caps.get("raid_levels", []):
            if n < int(mins.get(layout, 1)) or n == 0:
                continue
            if b["name"] == "btrfs" and layout in BTRFS:
                usable, tolerates = btrfs_usable(sizes, layout), BTRFS[layout][2]
                note = None
            elif b["name"] == "zfs" and layout == "stripe":
                usable, tolerates, note = raw, 0, None
            elif b["name"] == "zfs" and layout == "mirror":
                usable, tolerates, note = min(sizes), n - 1, f"one {n}-way mirror vdev"
                if n >= 4 and n % 2 == 0:
                    out.append(_cand(b["name"], "mirror", disks, (n // 2) * min(sizes), 1, raw,
                                     f"{n // 2} two-way mirror vdevs (survives one failure per pair)"))
            elif b["name"] == "zfs" and layout in ZFS_PARITY:
                parity = ZFS_PARITY[layout]
                if n < parity + 2:
                    continue
                usable, tolerates, note = (n - parity) * min(sizes), parity, None
            else:
                continue
            out.append(_cand(b["name"], layout, disks, usable, tolerates, raw, note))
    return sorted(out, key=lambda c: (-c["failures_tolerated"], -c["usable"], c["backend"], c["layout"]))


def _cand(backend: str, layout: str, disks: list[dict[str, Any]], usable: int, tolerates: int,
          raw: int, note: str | None) -> dict[str, Any]:
    return {"backend": backend, "layout": layout, "devices": [d.get("path") or d["name"] for d in disks],
            "raw": raw, "usable": usable, "efficiency": round(usable / raw, 4) if raw else 0.0,
            "failures_tolerated": tolerates, "note": note}
