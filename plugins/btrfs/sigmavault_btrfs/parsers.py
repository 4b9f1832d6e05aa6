"""Parsers for btrfs-progs output (tested on recorded output in ``tests/data``).

Each function takes the text a ``btrfs`` sub-command printed and returns plain data. They accept
the formats of btrfs-progs 4.x/5.x (``scrub status`` before the 5.1 rewrite, ``*** Some devices
missing``) and 6.x (``<missing disk> MISSING``); ``tests/data/SOURCES.md`` lists the recorded
outputs of each version they are tested on.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

_SIZE_UNITS = {"B": 1, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
               "PIB": 1 << 50, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_size(text: str) -> int:
    """``'2.35GiB'`` / ``'419430400'`` / ``'0.00B'`` → bytes."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    unit = (m.group(2) or "B").upper()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown size unit in {text!r}")
    return int(round(float(m.group(1)) * _SIZE_UNITS[unit]))


# --- btrfs filesystem show --raw -------------------------------------------------------------------

_FS_HEAD = re.compile(r"^Label:\s+(?:'(?P<label>.*)'|none)\s+uuid:\s+(?P<uuid>[0-9a-f-]+)")
_FS_DEV = re.compile(r"^\s*devid\s+(?P<devid>\d+)\s+size\s+(?P<size>\S+)\s+used\s+(?P<used>\S+)"
                     r"\s+path\s+(?P<path>.+?)\s*$")


def parse_filesystem_show(text: str) -> list[dict[str, Any]]:
    """``btrfs filesystem show [--raw]`` → one dict per filesystem.

    ``{"label", "uuid", "total_devices", "used", "devices": [{"devid", "size", "used", "path",
    "missing"}], "missing": bool}``. A device is missing when its path is ``<missing disk>`` (6.x)
    or it is absent from the listed devids while ``*** Some devices missing`` is printed (4.x/5.x).
    """
    filesystems: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for line in text.splitlines():
        head = _FS_HEAD.match(line)
        if head:
            cur = {"label": head.group("label"), "uuid": head.group("uuid"), "total_devices": 0,
                   "used": None, "devices": [], "missing": False}
            filesystems.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^\s*Total devices\s+(\d+)\s+FS bytes used\s+(\S+)", line)
        if m:
            cur["total_devices"] = int(m.group(1))
            cur["used"] = parse_size(m.group(2))
            continue
        dev = _FS_DEV.match(line)
        if dev:
            path = dev.group("path")
            missing = "<missing disk>" in path or path.endswith(" MISSING")
            cur["devices"].append({
                "devid": int(dev.group("devid")), "size": parse_size(dev.group("size")),
                "used": parse_size(dev.group("used")),
                "path": None if missing else path.split()[0], "missing": missing})
            continue
        if "Some devices missing" in line:
            cur["missing"] = True
    for fs in filesystems:
        if any(d["missing"] for d in fs["devices"]):
            fs["missing"] = True
        present = len(fs["devices"])
        if fs["missing"] and present < fs["total_devices"]:
            # 4.x/5.x leave missing devids out of the list: add placeholders for them
            known = {d["devid"] for d in fs["devices"]}
            devid = 1
            while present < fs["total_devices"]:
                if devid not in known:
                    fs["devices"].append({"devid": devid, "size": 0, "used": 0, "path": None,
                                          "missing": True})
                    present += 1
                devid += 1
            fs["devices"].sort(key=lambda d: d["devid"])
    return filesystems


# --- btrfs device stats --------------------------------------------------------------------------

_STAT = re.compile(r"^\[(?P<dev>[^\]]+)\]\.(?P<key>\w+)\s+(?P<value>-?\d+)\s*$")


def parse_device_stats(text: str) -> dict[str, dict[str, int]]:
    """``btrfs device stats <mnt>`` → ``{device path | "<missing disk>": {"write": n, "read": n,
    "flush": n, "corruption": n, "generation": n}}``."""
    stats: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        m = _STAT.match(line.strip())
        if m:
            key = m.group("key").removesuffix("_errs").removesuffix("_io")
            stats.setdefault(m.group("dev"), {})[key] = int(m.group("value"))
    return stats


# --- btrfs filesystem usage -b -------------------------------------------------------------------


def parse_filesystem_usage(text: str) -> dict[str, Any]:
    """``btrfs filesystem usage -b <mnt>`` → sizes in bytes and the block-group profiles.

    ``{"size", "allocated", "unallocated", "missing", "used", "free", "free_min", "data_ratio",
    "metadata_ratio", "multiple_profiles": bool, "profiles": {"data": ["RAID1", ...], ...},
    "logical_used"}``: ``size``/``used`` are raw device bytes (every copy of raid1 counted),
    ``free`` btrfs's estimate of what may still be written (data chunk space left plus
    unallocated space divided by the data profile's ratio: raid1 halves it), ``logical_used``
    the sum of the block groups' ``Used`` (data, metadata and system, each copy once; None
    when no block group line was found).
    """
    out: dict[str, Any] = {"profiles": {}, "multiple_profiles": False, "logical_used": None}
    keys = {"Device size": "size", "Device allocated": "allocated",
            "Device unallocated": "unallocated", "Device missing": "missing", "Used": "used",
            "Free (estimated)": "free", "Data ratio": "data_ratio",
            "Metadata ratio": "metadata_ratio"}
    overall = True
    for line in text.splitlines():
        m = re.match(r"^\s{4}([A-Za-z() ]+?):\s+(\S+)", line)
        if overall and m and m.group(1) in keys:
            value = m.group(2)
            key = keys[m.group(1)]
            out[key] = float(value) if key.endswith("ratio") else parse_size(value)
            low = re.search(r"\(min:\s*([^\s)]+)\)", line)
            if key == "free" and low:
                out["free_min"] = parse_size(low.group(1))
            continue
        m = re.match(r"^\s{4}Multiple profiles:\s+(\w+)", line)
        if m:
            out["multiple_profiles"] = m.group(1) == "yes"
            continue
        m = re.match(r"^(Data\+Metadata|Data|Metadata|System),\s*(\w+):", line)
        if m:
            overall = False
            used = re.search(r"Used:\s*([^\s,(]+)", line)
            if used:
                out["logical_used"] = (out["logical_used"] or 0) + parse_size(used.group(1))
            # mixed block groups (small filesystems, mkfs --mixed) hold data and metadata
            for kind in m.group(1).lower().split("+"):
                out["profiles"].setdefault(kind, []).append(m.group(2).lower())
    return out


# --- btrfs scrub status [-R] ---------------------------------------------------------------------

_ERROR_KEYS = ("read_errors", "csum_errors", "verify_errors", "super_errors", "malloc_errors",
               "uncorrectable_errors")


def _parse_started(value: str) -> str | None:
    value = value.strip()
    for fmt in ("%a %b %d %H:%M:%S %Y", "%c"):
        try:
            local = datetime.strptime(value, fmt).astimezone()
            return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return None


def _duration(value: str) -> int:
    parts = [int(p) for p in value.strip().split(":")]
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def parse_scrub_status(text: str) -> dict[str, Any]:
    """``btrfs scrub status [-R] <mnt>`` → ScrubStatus-like dict.

    ``{"state": idle|running|finished|canceled|failed, "started", "duration", "bytes_scrubbed",
    "bytes_total", "percent", "errors", "corrected", "counters": {...}}``. 5.1+ prints ``Status:
    running`` and the raw counters under ``-R`` (else an ``Error summary: csum=N …`` line);
    4.x/5.0 print ``scrub started at … and finished after …`` / ``… running for …`` /
    ``… was aborted after …`` / ``… interrupted after …, not running``.
    """
    counters: dict[str, int] = {}
    state = "idle"
    started = None
    duration = None
    bytes_total = None
    percent = None
    no_stats = False
    summary: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r"^(\w+):\s+(\d+)$", line)
        if m:
            counters[m.group(1)] = int(m.group(2))
            continue
        m = re.match(r"^Status:\s+(\w+)", line)
        if m:
            state = {"running": "running", "finished": "finished", "aborted": "canceled",
                     "interrupted": "canceled"}.get(m.group(1), "failed")
            continue
        m = re.match(r"^Scrub (?:started|resumed):\s+(.+)$", line)
        if m:
            started = _parse_started(m.group(1))
            continue
        m = re.match(r"^Duration:\s+([\d:]+)", line)
        if m:
            duration = _duration(m.group(1))
            continue
        m = re.match(r"^Total to scrub:\s+(\S+)", line)
        if m:
            bytes_total = parse_size(m.group(1))
            continue
        m = re.match(r"^Bytes scrubbed:\s+(\S+)\s+\(([\d.]+)%\)", line)
        if m:
            percent = float(m.group(2))
            continue
        m = re.match(r"^Error summary:\s+(.*)$", line)
        if m:   # without -R: "no errors found" or "csum=3 read=1 ..."
            summary = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
            continue
        # btrfs-progs < 5.1
        m = re.match(r"^scrub (?:started|resumed) at (.+?)(?:,| and) (finished after|was aborted after|"
                     r"interrupted after|running for) ([\d:]+)", line)
        if m:
            started = _parse_started(m.group(1))
            state = {"finished after": "finished", "was aborted after": "canceled",
                     "interrupted after": "canceled", "running for": "running"}[m.group(2)]
            duration = _duration(m.group(3))
            continue
        if line == "no stats available":
            no_stats = True
    if no_stats and state == "idle" and counters.get("last_physical", 0) == 0:
        state = "idle"
    raw_counters = any(k in counters for k in _ERROR_KEYS)
    scrubbed = None
    if "data_bytes_scrubbed" in counters or "tree_bytes_scrubbed" in counters:
        scrubbed = counters.get("data_bytes_scrubbed", 0) + counters.get("tree_bytes_scrubbed", 0)
    return {
        "state": state, "started": started, "duration": duration, "bytes_scrubbed": scrubbed,
        "bytes_total": bytes_total, "percent": percent,
        "errors": (sum(counters.get(k, 0) for k in _ERROR_KEYS) if raw_counters
                   else sum(summary.values())),
        "corrected": counters.get("corrected_errors", counters.get("Corrected", 0)),
        "no_stats": no_stats,
        "counters": counters,
    }


# --- btrfs subvolume list ------------------------------------------------------------------------

_SUBVOL = re.compile(
    r"^ID (\d+) gen (\d+)(?: cgen \d+)? top level (\d+)(?: otime (-|\S+ \S+))?"
    r"(?:\s+parent_uuid (\S+))?(?:\s+received_uuid (\S+))?(?:\s+uuid (\S+))? path (.*)$", re.M)


def _otime_converter() -> Callable[[str], str | None]:
    local_tz = datetime.now().astimezone().tzinfo
    cache: dict[str, str | None] = {}

    def convert(value: str) -> str | None:
        if value not in cache:
            try:
                cache[value] = (datetime.fromisoformat(value).replace(tzinfo=local_tz)
                                .astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            except ValueError:
                cache[value] = None
        return cache[value]
    return convert


def parse_subvolume_list(text: str) -> list[dict[str, Any]]:
    """``btrfs subvolume list [-s] [-c] [-q] [-u] [-R] <mnt>`` → ``[{"id", "gen", "top_level",
    "otime" (RFC 3339 UTC or None), "parent_uuid", "uuid", "path"}]``; absent columns are None.

    One multi-line regex over the whole text: listings of 10,000 snapshots parse in ~15 ms.
    """
    otime = _otime_converter()
    return [{"id": int(sid), "gen": int(gen), "top_level": int(top),
             "otime": otime(ot) if ot and ot != "-" else None,
             "parent_uuid": pu if pu and pu != "-" else None, "uuid": uu or None, "path": path}
            for sid, gen, top, ot, pu, _ru, uu, path in _SUBVOL.findall(text)]


# --- btrfs qgroup show --raw -re -----------------------------------------------------------------


def parse_qgroup_show(text: str) -> dict[int, dict[str, int | None]]:
    """``btrfs qgroup show --raw -re <mnt>`` → ``{subvolume id: {"referenced", "exclusive",
    "max_referenced", "max_exclusive"}}`` for level-0 qgroups (``none`` → None)."""
    out: dict[int, dict[str, int | None]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or not re.fullmatch(r"0/\d+", parts[0]):
            continue

        def num(v: str) -> int | None:
            return None if v == "none" else int(v)

        out[int(parts[0].split("/")[1])] = {
            "referenced": num(parts[1]), "exclusive": num(parts[2]),
            "max_referenced": num(parts[3]), "max_exclusive": num(parts[4])}
    return out


# --- btrfs property get / balance status / replace status ------------------------------------------


def parse_property(text: str, name: str) -> str | None:
    """``btrfs property get <path> <name>`` → the value, None when unset (empty output)."""
    for line in text.splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1].strip() or None
    return None


def parse_balance_status(text: str) -> dict[str, Any]:
    """``btrfs balance status <mnt>`` → ``{"running": bool, "paused": bool, "done": n | None,
    "total": n | None, "percent_left": float | None}``."""
    running = "is running" in text
    paused = "is paused" in text
    m = re.search(r"(\d+) out of about (\d+) chunks balanced \((\d+) considered\),\s+([\d.]+)% left",
                  text)
    return {"running": running, "paused": paused,
            "done": int(m.group(1)) if m else None, "total": int(m.group(2)) if m else None,
            "percent_left": float(m.group(4)) if m else None}


def parse_replace_status(text: str) -> dict[str, Any]:
    """``btrfs replace status -1 <mnt>`` → ``{"state": never|running|finished|canceled,
    "percent": float | None, "write_errors": int, "read_errors": int}``."""
    text = text.strip()
    errors = re.search(r"(\d+) write errs, (\d+) uncorr\. read errs", text)
    out: dict[str, Any] = {"state": "never", "percent": None,
                           "write_errors": int(errors.group(1)) if errors else 0,
                           "read_errors": int(errors.group(2)) if errors else 0}
    if text.startswith("Never started"):
        return out
    m = re.match(r"([\d.]+)% done", text)
    if m:
        out.update(state="running", percent=float(m.group(1)))
    elif "finished on" in text:
        out.update(state="finished", percent=100.0)
    elif "canceled" in text.lower() or "interrupted" in text.lower():
        out.update(state="canceled")
    return out


# --- btrfs receive --dump (of a `btrfs send --no-data -p old new` stream) ---------------------------

_TEMP_NAME = re.compile(r"(?:^|/)o\d+-\d+-\d+$")
_DUMP_LINE = re.compile(r"^(?P<op>\w+)\s+(?P<path>(?:\\.|\S)+)(?:\s+(?P<rest>.*))?$")
_CREATE_OPS = {"mkfile": "file", "mkdir": "dir", "symlink": "symlink", "mknod": "other",
               "mkfifo": "other", "mksock": "other"}
_MODIFY_OPS = {"write", "update_extent", "truncate", "clone", "chmod", "chown", "set_xattr",
               "remove_xattr", "fallocate", "fileattr", "encoded_write"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _dest(rest: str | None) -> str | None:
    m = re.search(r"dest=((?:\\.|\S)+)", rest or "")
    return _unescape(m.group(1)) if m else None


def parse_receive_dump(text: str) -> list[dict[str, Any]]:
    """Changes from the dump of an incremental ``--no-data`` send stream.

    Returns ``[{"path", "change": added|modified|deleted|renamed, "type", "old_path"}]`` sorted
    by path; paths are relative to the subvolume root. A path deleted and created again (a file
    replaced by a new one) is ``modified``; ``link`` + ``unlink`` of the old name is ``renamed``.
    ``utimes`` alone (directory mtimes) is not a change.
    """
    root = ""
    pending: dict[str, str] = {}        # temp name -> type
    created: dict[str, str] = {}        # path -> type
    deleted: dict[str, str] = {}        # path -> type
    modified: dict[str, str] = {}
    renamed: dict[str, str] = {}        # new path -> old path
    links: dict[str, str] = {}          # old path -> new path (hard link made before unlink)

    def rel(path: str) -> str:
        path = _unescape(path)
        if path.startswith("./"):
            path = path[2:]
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) + 1:]
        return path.rstrip("/")

    for line in text.splitlines():
        m = _DUMP_LINE.match(line.strip())
        if not m:
            continue
        op, raw, rest = m.group("op"), m.group("path"), m.group("rest")
        if op in ("snapshot", "subvol"):
            root = _unescape(raw)[2:] if raw.startswith("./") else _unescape(raw)
            continue
        path = rel(raw)
        if not path:
            continue
        if op in _CREATE_OPS:
            if _TEMP_NAME.search(path):
                pending[path] = _CREATE_OPS[op]
            else:
                created[path] = _CREATE_OPS[op]
        elif op == "rename":
            dest = rel(_dest(rest) or "")
            if path in pending:
                created[dest] = pending.pop(path)
            elif path in created:
                created[dest] = created.pop(path)
            else:
                renamed[dest] = renamed.pop(path, path)
        elif op == "link":
            target = _dest(rest)
            if target is not None:
                links[target.rstrip("/")] = path
        elif op in ("unlink", "rmdir"):
            if path in links:
                renamed[links.pop(path)] = path
            elif path in created:
                created.pop(path)
            else:
                deleted[path] = "dir" if op == "rmdir" else "file"
        elif op in _MODIFY_OPS and path not in created and not _TEMP_NAME.search(path):
            modified[path] = "file" if op != "chmod" else modified.get(path, "file")
    changes: dict[str, dict[str, Any]] = {}
    for path, kind in deleted.items():
        changes[path] = {"path": path, "change": "deleted", "type": kind, "old_path": None}
    for path, kind in created.items():
        change = "modified" if path in deleted else "added"
        changes[path] = {"path": path, "change": change, "type": kind, "old_path": None}
    for new, old in renamed.items():
        changes[new] = {"path": new, "change": "renamed", "type": "file", "old_path": old}
    for path, kind in modified.items():
        changes.setdefault(path, {"path": path, "change": "modified", "type": kind,
                                  "old_path": None})
    return [changes[p] for p in sorted(changes)]


# --- compsize -b (btrfs-compsize) ------------------------------------------------------------------

_COMPSIZE_ROW = re.compile(r"^(?P<type>\w+)\s+(?P<perc>\d+)%\s+(?P<disk>\d+)\s+(?P<unc>\d+)"
                           r"\s+(?P<ref>\d+)\s*$")


def parse_compsize(text: str) -> dict[str, Any] | None:
    """``compsize -b <path>`` → ``{"files", "disk_usage", "uncompressed", "referenced",
    "types": {"none" | "zstd" | "lzo" | "zlib" | "prealloc": {"disk_usage", "uncompressed",
    "referenced"}}}`` in bytes (the ``TOTAL`` row at the top level); None when compsize found no
    file with data extents (``No files.``)."""
    out: dict[str, Any] = {"files": None, "types": {}}
    m = re.search(r"^Processed (\d+) files?", text, re.M)
    if m:
        out["files"] = int(m.group(1))
    for line in text.splitlines():
        row = _COMPSIZE_ROW.match(line.strip())
        if not row:
            continue
        sizes = {"disk_usage": int(row.group("disk")), "uncompressed": int(row.group("unc")),
                 "referenced": int(row.group("ref"))}
        if row.group("type") == "TOTAL":
            out.update(sizes)
        else:
            out["types"][row.group("type")] = sizes
    return out if "disk_usage" in out else None


# --- btrfs subvolume show --------------------------------------------------------------------------


def parse_subvolume_show(text: str) -> dict[str, Any]:
    """``btrfs subvolume show <path>`` → ``{"name", "uuid", "parent_uuid", "received_uuid",
    "created" (RFC 3339 UTC), "id", "readonly"}``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s+([A-Za-z ()]+):\s*(.*)$", line)
        if m and m.group(1).strip() not in fields:
            fields[m.group(1).strip()] = m.group(2).strip()
    created = None
    raw = fields.get("Creation time", "")
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S"):
        try:
            dt = datetime.strptime(raw, fmt)
            if dt.tzinfo is None:
                dt = dt.astimezone()
            created = dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            break
        except ValueError:
            continue

    def opt(key: str) -> str | None:
        value = fields.get(key)
        return None if value in (None, "", "-") else value

    return {"name": fields.get("Name"), "uuid": opt("UUID"), "parent_uuid": opt("Parent UUID"),
            "received_uuid": opt("Received UUID"), "created": created,
            "id": int(fields["Subvolume ID"]) if fields.get("Subvolume ID", "").isdigit() else None,
            "readonly": "readonly" in fields.get("Flags", "")}
