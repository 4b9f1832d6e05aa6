"""Parse the tabular ``zpool list``/``zfs list``/``zfs get`` outputs of both CLI generations."""

from __future__ import annotations

from typing import Any, Iterable

from .units import parse_percent, parse_ratio, parse_size

POOL_COLUMNS = ("name", "size", "allocated", "free", "health", "altroot", "guid")


def parse_pool_list(text: str, columns: Iterable[str] = POOL_COLUMNS) -> list[dict[str, Any]]:
    """``zpool list -H -o <columns>`` (with ``-p`` on OpenZFS, unit strings on zfs-fuse).

    Sizes become integers; ``capacity`` a float percent; ``dedupratio`` a float.
    """
    cols = list(columns)
    pools = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split("\t")
        row: dict[str, Any] = dict(zip(cols, values))
        for key in ("size", "allocated", "free", "expandsize", "freeing"):
            if key in row:
                row[key] = parse_size(row[key])
        if "capacity" in row:
            row["capacity"] = parse_percent(row["capacity"])
        if "dedupratio" in row:
            row["dedupratio"] = parse_ratio(row["dedupratio"])
        if row.get("altroot") == "-":
            row["altroot"] = None
        pools.append(row)
    return pools


def parse_get(text: str) -> dict[str, dict[str, tuple[str, str]]]:
    """``zfs get -H[p] -o name,property,value,source ...`` → ``{name: {property: (value, source)}}``,
    in the order the tool printed the datasets."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for line in text.splitlines():
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        name, prop, value = parts[0], parts[1], parts[2]
        source = parts[3] if len(parts) > 3 else "-"
        out.setdefault(name, {})[prop] = (value, source)
    return out


def parse_list(text: str, columns: Iterable[str]) -> list[dict[str, str]]:
    """``zfs list -H -o <columns>`` → one dict of raw strings per line."""
    cols = list(columns)
    return [dict(zip(cols, line.split("\t"))) for line in text.splitlines() if line]


def parse_list_as_get(text: str, columns: Iterable[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """``zfs list -H[p] -o name,<props>`` in the shape of :func:`parse_get` (source ``-``), so
    one listing parser serves both ``zfs list`` (OpenZFS) and ``zfs get`` (zfs-fuse)."""
    cols = list(columns)
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for line in text.splitlines():
        if not line:
            continue
        values = line.split("\t")
        out[values[0]] = {c: (v, "-") for c, v in zip(cols[1:], values[1:])}
    return out


def parse_import_list(text: str) -> list[dict[str, Any]]:
    """``zpool import [-d dir]`` (no pool argument): pools that can be imported."""
    pools: list[dict[str, Any]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("pool:"):
            pools.append({"name": stripped[5:].strip(), "id": None, "state": None})
        elif pools and stripped.startswith("id:"):
            pools[-1]["id"] = stripped[3:].strip()
        elif pools and stripped.startswith("state:") and pools[-1]["state"] is None:
            pools[-1]["state"] = stripped[6:].strip()
    return pools
