"""Disk inventory from ``lsblk -J -b -O`` (lsblk reads udev's database where udev runs, sysfs
otherwise): what each disk is and whether something already uses it."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from sigmavault.commands import run

#: filesystem signatures that mean "this disk belongs to something"
_SKIP_NAMES = re.compile(r"^(ram|zram|sr|fd|md\d+p|nbd)\d*")


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value in ("1", "true", "True")
    return bool(value)


def _mounts(dev: dict[str, Any]) -> list[str]:
    points = dev.get("mountpoints") or [dev.get("mountpoint")]
    return [p for p in points if p]


def _walk(dev: dict[str, Any]):
    yield dev
    for child in dev.get("children") or []:
        yield from _walk(child)


def disk_type(dev: dict[str, Any]) -> str:
    name = dev.get("name", "")
    if dev.get("type") == "loop":
        return "loop"
    if name.startswith("nvme") or dev.get("tran") == "nvme":
        return "nvme"
    if re.match(r"^(vd|xvd)[a-z]+$", name) or (dev.get("vendor") or "").strip() in ("QEMU", "VMware"):
        return "virtual"
    if dev.get("type") != "disk":
        return "other"
    return "hdd" if _bool(dev.get("rota")) else "ssd"


def parse_lsblk(text: str, include_loop: bool = False) -> list[dict[str, Any]]:
    """Disks (whole devices) from ``lsblk -J -b -O`` output, without pool ownership yet.

    ``in_use_by`` says what already claims the disk: a mounted filesystem (here or on a
    partition), a filesystem/RAID/LVM signature, a partition table, or a holder (device mapper).
    """
    data = json.loads(text)
    disks = []
    for dev in data.get("blockdevices", []):
        kind = dev.get("type")
        if kind not in ("disk", "loop") or (kind == "loop" and not include_loop):
            continue
        name = dev.get("name") or dev.get("kname")
        if not name or _SKIP_NAMES.match(name):
            continue
        size = int(dev.get("size") or 0)
        if size == 0:
            continue  # an empty loop device or a card reader without a card
        in_use: dict[str, Any] | None = None
        mounts = [m for d in _walk(dev) for m in _mounts(d)]
        fstypes = [d.get("fstype") for d in _walk(dev) if d.get("fstype")]
        if mounts:
            in_use = {"kind": "mounted", "mountpoints": mounts[:8]}
        elif dev.get("children"):
            in_use = {"kind": "partitioned", "fstypes": fstypes}
        elif fstypes:
            in_use = {"kind": "filesystem", "fstype": fstypes[0]}
        elif dev.get("pttype"):
            in_use = {"kind": "partitioned", "fstypes": []}
        if _bool(dev.get("ro")) and in_use is None:
            in_use = {"kind": "read_only"}
        partitions = [{"name": c.get("name"), "path": c.get("path"), "size": int(c.get("size") or 0),
                       "fstype": c.get("fstype"), "mountpoints": _mounts(c)}
                      for c in dev.get("children") or [] if c.get("type") == "part"]
        disks.append({
            "name": name, "path": dev.get("path") or f"/dev/{name}",
            "model": (dev.get("model") or "").strip() or None,
            "serial": (dev.get("serial") or "").strip() or None,
            "vendor": (dev.get("vendor") or "").strip() or None, "wwn": dev.get("wwn"),
            "size": size, "type": disk_type(dev), "rotational": _bool(dev.get("rota")),
            "transport": dev.get("tran"), "removable": _bool(dev.get("rm")),
            "read_only": _bool(dev.get("ro")), "in_use": in_use is not None, "in_use_by": in_use,
            "partitions": partitions, "back_file": dev.get("back-file"),
        })
    return disks


def parse_blkid(text: str) -> dict[str, str]:
    """``blkid -p -o export <dev>`` → its KEY=value pairs."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


async def probe_signature(path: str) -> dict[str, Any] | None:
    """What ``blkid -p`` (a low-level probe, no udev needed) finds on a device: a filesystem,
    RAID/LVM member or partition table → ``in_use_by``; None when the device is blank."""
    result = await run(["blkid", "-p", "-o", "export", "--", path], timeout=30, check=False)
    if result.returncode != 0:
        return None  # 2: nothing found; other codes: cannot read (not root) → trust lsblk
    found = parse_blkid(result.stdout)
    if found.get("PTTYPE"):
        return {"kind": "partitioned", "fstypes": []}
    if found.get("TYPE"):
        return {"kind": "filesystem", "fstype": found["TYPE"], "usage": found.get("USAGE")}
    return None


async def scan(include_loop: bool = False) -> list[dict[str, Any]]:
    """Run lsblk and return the disks (see :func:`parse_lsblk`). Disks that lsblk saw no
    signature on are probed with blkid, since lsblk only knows signatures through udev."""
    result = await run(["lsblk", "-J", "-b", "-O"], timeout=30)
    disks = parse_lsblk(result.stdout, include_loop)
    for disk in disks:
        if not disk["in_use"]:
            found = await probe_signature(disk["path"])
            if found is not None:
                disk["in_use"], disk["in_use_by"] = True, found
    return disks


def real(path: str) -> str:
    return os.path.realpath(path)


def apply_pools(disks: list[dict[str, Any]], owners: dict[str, dict[str, Any]]) -> None:
    """Mark disks that pools use: ``owners`` maps a real device path to ``{"pool", "backend"}``.

    Pool ownership wins over the generic filesystem signature (a btrfs member disk is "in use by
    pool tank", not just "has a btrfs signature").
    """
    for disk in disks:
        owner = owners.get(real(disk["path"]))
        if owner is None:
            for part in disk["partitions"]:
                owner = owners.get(real(part["path"] or ""))
                if owner:
                    break
        if owner is not None:
            disk["in_use"] = True
            disk["in_use_by"] = {"kind": "pool", **owner}
