"""Build rows from parsed ZFS output: the storage protocol's dicts (Pool, Volume, Snapshot,
Health, ScrubStatus), and the response rows of the ``/zfs`` routes made from them."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .status import layout_of, leaves
from .units import epoch_to_rfc3339, parse_ratio, parse_size

POOL_STATE = {"ONLINE": "online", "DEGRADED": "degraded", "FAULTED": "faulted",
              "UNAVAIL": "unavailable", "SUSPENDED": "faulted", "OFFLINE": "unavailable",
              "REMOVED": "unavailable"}
DEVICE_STATE = {"ONLINE": "online", "DEGRADED": "online", "FAULTED": "faulted",
                "UNAVAIL": "missing", "OFFLINE": "removed", "REMOVED": "removed",
                "AVAIL": "online", "INUSE": "online",
                "HEALTHY": "online"}  # the vdev state in zpool-status(8)'s -j example

VOLUME_PROPS = ("type", "used", "available", "referenced", "quota", "compression", "compressratio",
                "recordsize", "atime", "readonly", "mountpoint", "mounted", "origin", "creation",
                "usedbysnapshots", "usedbydataset")
ROOT_PROPS = ("mountpoint", "used", "available")   # of a pool's root dataset (``zfs get -Hp``)
SNAPSHOT_PROPS = ("type", "creation", "used", "referenced", "userrefs")


def device_size(path: str | None) -> int:
    """Size of a block device (sysfs) or of a file vdev; 0 when it is missing."""
    if not path:
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    if stat.S_ISBLK(st.st_mode):
        sysfs = Path("/sys/dev/block") / f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" / "size"
        try:
            return int(sysfs.read_text()) * 512
        except (OSError, ValueError):
            return 0
    return st.st_size


def device_dict(leaf: dict[str, Any], role: str) -> dict[str, Any]:
    """A leaf vdev as ``Pool.devices[]``; ``id`` is the zfs name (guid for a missing device)."""
    path = leaf["path"] or leaf["name"]
    state = DEVICE_STATE.get(leaf["state"], "unknown")
    if leaf["note"] and "resilver" in leaf["note"] and leaf["state"] == "ONLINE":
        state = "online"
    return {"path": path, "id": leaf["name"], "state": state, "size": device_size(leaf["path"]),
            "errors": {"read": leaf["read"], "write": leaf["write"], "checksum": leaf["checksum"]},
            "role": role, "zfs_state": leaf["state"], "note": leaf["note"]}


def pool_devices(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Every leaf device of a parsed status, data vdevs first, then log/cache/spare/special."""
    out = [device_dict(v, "data") for v in leaves(status["vdevs"])]
    for section in ("logs", "cache", "spares", "special", "dedup"):
        out.extend(device_dict(v, section.rstrip("s")) for v in leaves(status.get(section, [])))
    return out


def _public_device(dev: dict[str, Any]) -> dict[str, Any]:
    return {k: dev[k] for k in ("path", "id", "state", "size", "errors")}


def _topology(vdevs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": v["name"], "type": v["type"], "state": v["state"], "path": v["path"],
             "errors": {"read": v["read"], "write": v["write"], "checksum": v["checksum"]},
             "note": v["note"], "children": _topology(v["children"])} for v in vdevs]


def pool_dict(row: dict[str, Any], status: dict[str, Any] | None, mountpoint: str | None,
              root: dict[str, int | None] | None = None) -> dict[str, Any]:
    """``zpool list`` row + parsed status + root dataset mountpoint (+ the root dataset's
    ``used`` and ``available``) → Pool.

    ``size``/``used``/``free`` are the root dataset's accounting when known: ``used`` = its
    ``used`` (every dataset and snapshot of the pool), ``free`` = its ``available`` (what can
    still be written, after raidz parity, metadata and the pool's slop reservation),
    ``size`` = their sum — the figures ``zfs list``/``df`` show. ``zpool list``'s raw vdev
    space (parity included, nothing reserved) stays in ``properties.raw_size``/``raw_allocated``
    /``raw_free``; without the dataset figures (root not readable) those are the pool's size."""
    health = row.get("health") or (status or {}).get("state", "UNKNOWN")
    raw_size, raw_used = row.get("size") or 0, row.get("allocated") or 0
    raw_free: int = row["free"] if row.get("free") is not None else max(raw_size - raw_used, 0)
    root = root or {}
    if root.get("used") is not None and root.get("available") is not None:
        used, free = int(root["used"] or 0), int(root["available"] or 0)
        size, source = used + free, "dataset"
    else:
        size, used, free, source = raw_size, raw_used, raw_free, "zpool"
    devices = pool_devices(status) if status else []
    props: dict[str, Any] = {"guid": row.get("guid"), "health": health,
                             "altroot": row.get("altroot"), "capacity_source": source,
                             "raw_size": raw_size, "raw_allocated": raw_used, "raw_free": raw_free}
    if status:
        props.update(
            topology={k: _topology(status.get(k, [])) for k in
                      ("vdevs", "logs", "cache", "spares", "special", "dedup")},
            scan=status["scan"], status=status["status"], action=status["action"],
            data_errors=status["errors"],
            device_roles={d["path"]: d["role"] for d in devices},
            device_states={d["path"]: d["zfs_state"] for d in devices})
    return {"name": row["name"], "backend": "zfs", "state": POOL_STATE.get(health, "unknown"),
            "layout": layout_of(status["vdevs"]) if status else "unknown",
            "mountpoint": mountpoint if mountpoint not in (None, "-", "none", "legacy") else None,
            "size": size, "used": used, "free": free,
            "devices": [_public_device(d) for d in devices], "properties": props}


def health_dict(status: dict[str, Any]) -> dict[str, Any]:
    """Parsed status → Health with one problem per fact a person must act on."""
    problems: list[dict[str, Any]] = []
    state = POOL_STATE.get(status["state"], "unknown")
    if state != "online":
        problems.append({"severity": "critical" if state in ("faulted", "unavailable") else "warning",
                         "message": f"pool is {status['state']}" + (f": {status['status']}" if status["status"] else ""),
                         "device": None})
    elif status["status"]:
        problems.append({"severity": "warning", "message": status["status"], "device": None})
    devices = pool_devices(status)
    for dev in devices:
        errs = dev["errors"]
        if any(errs.values()):
            problems.append({"severity": "warning",
                             "message": f"{dev['path']}: {errs['read']} read, {errs['write']} write, "
                                        f"{errs['checksum']} checksum errors"
                                        + (f" ({dev['note']})" if dev["note"] else ""),
                             "device": dev["path"]})
        if dev["zfs_state"] not in ("ONLINE", "AVAIL", "INUSE", "HEALTHY"):
            problems.append({"severity": "critical" if dev["zfs_state"] in ("FAULTED", "UNAVAIL") else "warning",
                             "message": f"{dev['path']} is {dev['zfs_state']}", "device": dev["path"]})
    if status["errors"] and not status["errors"].startswith("No known data errors"):
        problems.append({"severity": "critical", "message": f"data errors: {status['errors']}",
                         "device": None})
    return {"state": state, "problems": problems,
            "devices": [_public_device(d) for d in devices]}


def scrub_dict(scan: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """Scan → ScrubStatus. A resilver is reported as its own function in ``details``."""
    state = {"none": "idle", "running": "running", "finished": "finished",
             "canceled": "canceled", "paused": "running"}[scan["state"]]
    devices = pool_devices(status)
    checksum = sum(d["errors"]["checksum"] for d in devices)
    repaired_devices = [d["path"] for d in devices if d["note"] and "repaired" in d["note"]]
    return {"state": state, "percent": scan["percent"], "bytes_scrubbed": scan["bytes_issued"]
            or scan["bytes_scanned"], "bytes_total": scan["bytes_total"],
            "errors": scan["errors"], "started": scan["started"], "finished": scan["finished"],
            "details": {"function": scan["function"], "repaired_bytes": scan["repaired"],
                        "eta_seconds": scan["eta"], "elapsed_seconds": scan["elapsed"],
                        "checksum_errors": checksum, "repaired_devices": repaired_devices,
                        "pool_state": status["state"]}}


def _prop(props: dict[str, tuple[str, str]], key: str) -> str | None:
    value = props.get(key, ("-", "-"))[0]
    return None if value in ("-", "") else value


def volume_dict(pool: str, dataset: str, props: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """``zfs get -Hp`` properties of ``pool/<name>`` → Volume."""
    quota = parse_size(_prop(props, "quota") or "0") or None
    compression = _prop(props, "compression")
    mountpoint = _prop(props, "mountpoint")
    return {"name": dataset.split("/", 1)[1], "pool": pool,
            "path": mountpoint if mountpoint not in (None, "none", "legacy") else None,
            "used": parse_size(_prop(props, "used") or "0") or 0, "quota": quota,
            "compression": None if compression in (None, "off") else compression,
            "origin": _prop(props, "origin"),
            "created": epoch_to_rfc3339(_prop(props, "creation")),
            "properties": {
                "dataset": dataset,
                "available": parse_size(_prop(props, "available") or "-"),
                "referenced": parse_size(_prop(props, "referenced") or "-"),
                "usedbysnapshots": parse_size(_prop(props, "usedbysnapshots") or "-"),
                "usedbydataset": parse_size(_prop(props, "usedbydataset") or "-"),
                "compressratio": parse_ratio(_prop(props, "compressratio") or "-"),
                "recordsize": parse_size(_prop(props, "recordsize") or "-"),
                "atime": _prop(props, "atime"), "readonly": _prop(props, "readonly"),
                "mounted": _prop(props, "mounted"),
                "sources": {k: v[1] for k, v in props.items() if v[1] not in ("-", "")},
            }}


def snapshot_dict(pool: str, volume: str, full: str, props: dict[str, tuple[str, str]],
                  path: str | None) -> dict[str, Any]:
    """``zfs get -Hp`` properties of ``pool/volume@name`` → Snapshot."""
    refs = _prop(props, "userrefs")
    return {"name": full.split("@", 1)[1], "pool": pool, "volume": volume,
            "created": epoch_to_rfc3339(_prop(props, "creation")), "writable": False,
            "used": parse_size(_prop(props, "used") or "-"), "path": path,
            "properties": {"referenced": parse_size(_prop(props, "referenced") or "-"),
                           "holds": int(refs) if refs and refs.isdigit() else 0,
                           "dataset": full}}


def pool_status(pool: dict[str, Any]) -> dict[str, Any]:
    """A backend Pool dict → the ``PoolStatus`` of ``/zfs/pools/{pool}/status``."""
    props = pool["properties"]
    topo = props.get("topology", {})
    return {"name": pool["name"], "state": props.get("health", pool["state"]),
            "layout": pool["layout"], "status": props.get("status"), "action": props.get("action"),
            "data_errors": props.get("data_errors"), "scan": props.get("scan"),
            "vdevs": topo.get("vdevs", []), "logs": topo.get("logs", []),
            "cache": topo.get("cache", []), "spares": topo.get("spares", [])}


def volume_properties(vol: dict[str, Any]) -> dict[str, Any]:
    """A backend Volume dict → the ``VolumeProperties`` of ``/zfs/.../properties``."""
    p = vol["properties"]
    return {"dataset": p["dataset"], "quota": vol["quota"], "compression": vol["compression"] or "off",
            "compressratio": p["compressratio"], "recordsize": p["recordsize"], "atime": p["atime"],
            "readonly": p["readonly"], "used": vol["used"], "referenced": p["referenced"],
            "available": p["available"], "usedbysnapshots": p["usedbysnapshots"],
            "mountpoint": vol["path"], "origin": vol["origin"], "sources": p["sources"]}


def snapshot_holds(snap: dict[str, Any]) -> dict[str, Any]:
    """A backend Snapshot dict → the ``SnapshotHolds`` of the holds routes."""
    return {"snapshot": snap["properties"]["dataset"], "holds": snap["properties"]["holds"]}
