"""Parse ``zpool status``: pool state, vdev tree with error counters, scrub/resilver progress.

Two inputs: the text layout shared by zfs-fuse and OpenZFS (``config:`` table, tab + 2 spaces per
level), and OpenZFS ≥ 2.3's ``zpool status -j --json-int``. Both give the same dicts:

``{"name", "state", "status", "action", "errors", "scan": Scan, "vdevs": [Vdev],
   "logs": [Vdev], "cache": [Vdev], "spares": [Vdev], "special": [Vdev], "dedup": [Vdev]}``

``Vdev = {"name", "path", "type", "state", "read", "write", "checksum", "note", "children"}``
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from .units import ctime_to_rfc3339, parse_count, parse_duration, parse_size

SECTIONS = {"logs": "logs", "log": "logs", "cache": "cache", "caches": "cache", "l2cache": "cache",
            "spares": "spares", "spare": "spares", "special": "special", "dedup": "dedup"}
# ``draid2:11d:15c:2s-0`` is a dRAID vdev (type draid2); ``draid2-0-1`` one of its distributed spares
_GROUP_RE = re.compile(r"^(mirror|raidz[123]?|replacing|spare|draid[123]?)(?::[\w:]*)?-\d+$")
_DSPARE_RE = re.compile(r"^draid\d-\d+-\d+$")
_KEY_RE = re.compile(r"^\s*([a-z]+):\s?(.*)$")


def vdev_type(name: str, path: str | None = None) -> str:
    """``mirror-0`` → mirror, ``raidz1-0`` → raidz1 (``raidz-0`` → raidz1), a leaf → disk/file."""
    m = _GROUP_RE.match(name)
    if m:
        kind = m[1]
        return {"raidz": "raidz1", "draid": "draid1"}.get(kind, kind)
    if _DSPARE_RE.match(name):
        return "draid_spare"
    target = path or name
    if target.startswith("/") and not target.startswith("/dev/"):
        return "file"
    return "disk"


def leaf_path(name: str) -> str | None:
    """Absolute path of a leaf vdev: zfs-fuse prints ``loop0`` for ``/dev/loop0``; a bare guid
    (a missing device) and a dRAID distributed spare have no path."""
    if name.startswith("/"):
        return name
    if name.isdigit() or _DSPARE_RE.match(name):
        return None
    return "/dev/" + name


def _split_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.strip().startswith("pool:") and _KEY_RE.match(line):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return blocks


def parse_status(text: str) -> list[dict[str, Any]]:
    """Every pool in a text ``zpool status`` output."""
    return [_parse_block(block) for block in _split_blocks(text)]


def _parse_block(lines: list[str]) -> dict[str, Any]:
    fields: dict[str, list[str]] = {}
    scans: list[list[str]] = []
    config: list[str] = []
    key = None
    in_config = False
    for line in lines:
        if in_config:
            if line.startswith("errors:"):
                in_config = False
            else:
                config.append(line)
                continue
        m = _KEY_RE.match(line)
        if m and not line.startswith("\t"):
            key = m[1]
            if key == "config":
                in_config = True
                continue
            fields[key] = [m[2].strip()]
            if key in ("scan", "scrub"):
                scans.append(fields[key])
        elif key and line.startswith(("\t", "    ")) and line.strip():
            fields[key].append(line.strip())
    pool: dict[str, Any] = {
        "name": " ".join(fields.get("pool", [""])).strip(),
        "state": " ".join(fields.get("state", ["UNKNOWN"])).strip(),
        "status": " ".join(fields.get("status", [])) or None,
        "action": " ".join(fields.get("action", [])) or None,
        "errors": " ".join(fields.get("errors", [])) or None,
        "scan": _current_scan([parse_scan("\n".join(lines)) for lines in scans]),
    }
    pool.update(_parse_config(config, pool["name"]))
    return pool


def _current_scan(scans: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenZFS prints a ``scan:`` line for the last scrub and another for a dRAID sequential
    resilver: the running one counts, else the one that finished last."""
    if not scans:
        return empty_scan()
    running = [s for s in scans if s["state"] in ("running", "paused")]
    if running:
        return running[0]
    return max(scans, key=lambda s: s["finished"] or "")


def _parse_config(lines: list[str], pool_name: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"vdevs": [], "logs": [], "cache": [], "spares": [],
                                            "special": [], "dedup": []}
    section = "vdevs"
    stack: list[tuple[int, dict[str, Any]]] = []
    header_seen = False
    base = 0  # indent of the NAME header: a tab from zpool, spaces when a terminal copy expanded it
    for raw in lines:
        if not raw.strip():
            continue
        body = raw[1:] if raw.startswith("\t") else raw
        parts = body.split()
        indent = len(body) - len(body.lstrip(" "))
        if not header_seen:
            if parts[:2] == ["NAME", "STATE"]:
                header_seen = True
                base = indent
            continue
        depth = (indent - base) // 2
        name = parts[0]
        if depth == 0:
            stack = []
            if name in SECTIONS and len(parts) == 1:
                section = SECTIONS[name]
            elif name == pool_name:
                section = "vdevs"
            continue
        node = _vdev_from_parts(parts)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1]["children"].append(node)
        else:
            out[section].append(node)
        stack.append((depth, node))
    return out


def _vdev_from_parts(parts: list[str]) -> dict[str, Any]:
    name = parts[0]
    state = parts[1] if len(parts) > 1 else "UNKNOWN"
    counters = [0, 0, 0]
    rest = parts[2:]
    if len(rest) >= 3 and all(_is_count(p) for p in rest[:3]):
        counters = [parse_count(p) for p in rest[:3]]
        rest = rest[3:]
    grouped = _GROUP_RE.match(name) is not None
    path = None if grouped else leaf_path(name)
    note = " ".join(rest) or None
    if note and path is None and not grouped:
        m = re.search(r"was (/\S+)", note)
        path = m[1] if m else None
    return {"name": name, "path": path, "type": vdev_type(name, path), "state": state,
            "read": counters[0], "write": counters[1], "checksum": counters[2],
            "note": note, "children": []}


def _is_count(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?[KMGTPE]?", text) is not None


# --- scrub / resilver -----------------------------------------------------------------------

_FUSE_DONE = re.compile(r"(scrub|resilver) (completed|stopped) after (\S+) with (\d+) errors on (.+)")
_FUSE_RUN = re.compile(r"(scrub|resilver) in progress for (\S+), ([\d.]+)% done, (\S+) to go")
# "(draid1:2d:10c:5s-0)" names the vdev of a sequential (dRAID) resilver
_VDEV = r"(?: \([^)]*\))?"
_OZ_DONE = re.compile(r"(?:scrub repaired|(resilver)ed" + _VDEV + r") (\S+) in (.+?) with (\d+) errors on (.+)")
_OZ_RUN = re.compile(r"(scrub|resilver)" + _VDEV + r" in progress since (.+)")
_OZ_CANCEL = re.compile(r"(scrub|resilver)" + _VDEV + r" canceled on (.+)")
_OZ_PAUSED = re.compile(r"scrub paused since (.+)")


def empty_scan() -> dict[str, Any]:
    return {"function": None, "state": "none", "percent": None, "bytes_scanned": None,
            "bytes_issued": None, "bytes_total": None, "repaired": None, "errors": 0,
            "started": None, "finished": None, "elapsed": None, "eta": None}


def parse_scan(text: str) -> dict[str, Any]:
    """The ``scan:`` (OpenZFS) or ``scrub:`` (zfs-fuse) paragraph → Scan dict.

    ``state`` ∈ none | running | finished | canceled | paused; ``function`` ∈ scrub | resilver.
    """
    scan = empty_scan()
    text = " ".join(text.split())
    if not text or text.startswith("none requested"):
        return scan
    if m := _FUSE_DONE.search(text):
        scan.update(function=m[1], state="finished" if m[2] == "completed" else "canceled",
                    elapsed=parse_duration(m[3]), errors=int(m[4]),
                    finished=ctime_to_rfc3339(m[5]),
                    percent=100.0 if m[2] == "completed" else None)
        scan["started"] = _minus(scan["finished"], scan["elapsed"])
    elif m := _FUSE_RUN.search(text):
        scan.update(function=m[1], state="running", elapsed=parse_duration(m[2]),
                    percent=float(m[3]), eta=parse_duration(m[4]))
    elif m := _OZ_DONE.search(text):
        scan.update(function="resilver" if m[1] else "scrub", state="finished",
                    repaired=parse_size(m[2]), elapsed=parse_duration(m[3]), errors=int(m[4]),
                    finished=ctime_to_rfc3339(m[5]), percent=100.0)
        scan["started"] = _minus(scan["finished"], scan["elapsed"])
    elif m := _OZ_CANCEL.search(text):
        scan.update(function=m[1], state="canceled", finished=ctime_to_rfc3339(m[2]))
    elif m := _OZ_PAUSED.search(text):
        scan.update(function="scrub", state="paused", started=ctime_to_rfc3339(m[1][:24]))
    elif m := _OZ_RUN.search(text):
        scan.update(function=m[1], state="running")
        _parse_oz_progress(text, scan)
    return scan


def _minus(stamp: str | None, seconds: int | None) -> str | None:
    if stamp is None or seconds is None:
        return None
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") - timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_oz_progress(text: str, scan: dict[str, Any]) -> None:
    if m := re.search(r"since (\w{3} \w{3} +\d+ [\d:]+ \d{4})", text):
        scan["started"] = ctime_to_rfc3339(m[1])
    # 0.8-2.1: "11.0T scanned at 2.78G/s, 1.12T issued at 290M/s, 20.1T total"
    # dRAID rebuild: "334T scanned at 2.13G/s, 306T issued 1.95G/s, 359T total"
    # later 2.x: "266T / 749T scanned at 3.30G/s, 260T / 749T issued at 3.23G/s"
    # 0.7: "9.12T scanned out of 9.48T at 1.90M/s, 55h33m to go"
    total = None
    if m := re.search(r"(\S+)(?: / (\S+))? scanned(?: out of (\S+))?", text):
        scan["bytes_scanned"] = parse_size(m[1])
        total = m[2] or m[3]
    if m := re.search(r"(\S+)(?: / (\S+))? issued\b", text):
        scan["bytes_issued"] = parse_size(m[1])
        total = total or m[2]
    if m := re.search(r"(\S+) total\b", text):
        total = total or m[1]
    if total is not None:
        scan["bytes_total"] = parse_size(total)
    if m := re.search(r"(\S+) (?:repaired|resilvered), ([\d.]+)% done", text):
        scan.update(repaired=parse_size(m[1]), percent=float(m[2]))
    elif m := re.search(r"([\d.]+)% done", text):
        scan["percent"] = float(m[1])
    if m := re.search(r"([\d: ]+(?:days? )?[\d:]+|\d+h\d+m) to go", text):
        scan["eta"] = parse_duration(m[1].strip())


# --- OpenZFS 2.3+: zpool status -j --json-int ------------------------------------------------

_JSON_SECTIONS = {"logs": "logs", "l2cache": "cache", "spares": "spares", "special": "special",
                  "dedup": "dedup"}


def parse_status_json(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """``zpool status -j --json-int`` (OpenZFS ≥ 2.3) → the same dicts as :func:`parse_status`."""
    pools = []
    for name, entry in (doc.get("pools") or {}).items():
        root = (entry.get("vdevs") or {}).get(name) or {}
        pool = {"name": entry.get("name", name), "state": entry.get("state", "UNKNOWN"),
                "status": _json_text(entry.get("status")), "action": _json_text(entry.get("action")),
                "errors": _json_errors(entry), "scan": _json_scan(entry.get("scan_stats"))}
        pool["vdevs"] = [_json_vdev(v) for v in (root.get("vdevs") or {}).values()]
        for key, section in _JSON_SECTIONS.items():
            pool[section] = [_json_vdev(v) for v in (entry.get(key) or {}).values()]
        pools.append(pool)
    return pools


def _json_text(value: Any) -> str | None:
    """``status``/``action`` keep the text form's line breaks ("An\\n\\tattempt"); a healthy pool's
    status is "OK", where the text form prints no ``status:`` line."""
    if not value or value == "OK":
        return None
    return re.sub(r"\s*\n\s*", " ", str(value)).strip()


def _json_errors(entry: dict[str, Any]) -> str | None:
    count = entry.get("error_count")
    if count is None:
        return None
    return "No known data errors" if int(count) == 0 else f"{int(count)} data errors"


def _num(value: Any) -> int:
    if value in (None, "", "-"):
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    return parse_count(str(value))


def _json_vdev(v: dict[str, Any]) -> dict[str, Any]:
    name = v.get("name", "")
    kind = v.get("vdev_type", "")
    path = v.get("path")
    children = [_json_vdev(c) for c in (v.get("vdevs") or {}).values()]
    if kind in ("disk", "file"):
        vtype = kind
    elif kind == "raidz":
        vtype = vdev_type(name) if _GROUP_RE.match(name) else f"raidz{v.get('nparity', 1)}"
    else:
        vtype = kind or vdev_type(name, path)
    return {"name": name, "path": path if kind in ("disk", "file") else None, "type": vtype,
            "state": v.get("state", "UNKNOWN"), "read": _num(v.get("read_errors")),
            "write": _num(v.get("write_errors")), "checksum": _num(v.get("checksum_errors")),
            "note": v.get("aux_state") or None, "children": children}


def _json_time(value: Any) -> str | None:
    if value in (None, "", "-", 0, "0"):
        return None
    if isinstance(value, int) or str(value).isdigit():
        from .units import epoch_to_rfc3339
        return epoch_to_rfc3339(int(value))
    return ctime_to_rfc3339(str(value))


def _json_scan(stats: dict[str, Any] | None) -> dict[str, Any]:
    scan = empty_scan()
    if not stats:
        return scan
    state = {"SCANNING": "running", "FINISHED": "finished", "CANCELED": "canceled"}.get(
        str(stats.get("state", "")).upper(), "none")
    total = _num(stats.get("to_examine")) or None
    scanned = _num(stats.get("examined"))
    issued = _num(stats.get("issued"))
    scan.update(function=str(stats.get("function", "")).lower() or None, state=state,
                bytes_scanned=scanned, bytes_issued=issued, bytes_total=total,
                repaired=_num(stats.get("processed")), errors=_num(stats.get("errors")),
                started=_json_time(stats.get("start_time")),
                finished=_json_time(stats.get("end_time")) if state != "running" else None)
    if state == "finished":
        scan["percent"] = 100.0
    elif state == "running" and total:
        scan["percent"] = round(100.0 * (issued or scanned) / total, 2)
    return scan


# --- helpers over the tree -------------------------------------------------------------------

def leaves(vdevs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every leaf vdev (a device) under ``vdevs``, depth first."""
    out = []
    for v in vdevs:
        if v["children"]:
            out.extend(leaves(v["children"]))
        else:
            out.append(v)
    return out


def layout_of(vdevs: list[dict[str, Any]]) -> str:
    """Data layout from the top-level vdevs: stripe, mirror, raidz1-3, or mixed."""
    kinds = {("stripe" if v["type"] in ("disk", "file") else v["type"]) for v in vdevs}
    if not kinds:
        return "unknown"
    return kinds.pop() if len(kinds) == 1 else "mixed"
