"""Parse OpenZFS ``zfs diff -H -F`` into the storage protocol's change records."""

from __future__ import annotations

import re
from typing import Any

_CHANGE = {"+": "added", "-": "deleted", "M": "modified", "R": "renamed"}
_TYPE = {"F": "file", "/": "dir", "@": "symlink"}
_ESCAPE = re.compile(r"\\(\d{4})")


def unescape(path: str) -> str:
    """``zfs diff`` prints unusual bytes as ``\\0NNN`` (octal); undo it."""
    raw = _ESCAPE.sub(lambda m: chr(int(m[1], 8)), path)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def parse_diff(text: str, mountpoint: str) -> list[dict[str, Any]]:
    """Lines ``<change>\\t<type>\\t<path>[\\t<new path>]`` with paths under ``mountpoint``.

    Paths become relative to the volume root. The volume root itself (modified whenever an entry
    in it changes) is left out.
    """
    root = mountpoint.rstrip("/") + "/"
    changes: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] not in _CHANGE:
            continue
        change, kind = _CHANGE[parts[0]], _TYPE.get(parts[1], "other")
        paths = [unescape(p) for p in parts[2:]]
        rel = [p[len(root):] if p.startswith(root) else p.lstrip("/") for p in paths]
        if not rel[0] and change == "modified":
            continue
        if change == "renamed" and len(rel) > 1:
            changes.append({"path": rel[1], "change": change, "type": kind, "old_path": rel[0]})
        else:
            changes.append({"path": rel[0], "change": change, "type": kind, "old_path": None})
    return merge_replaced(changes)


def merge_replaced(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A path both deleted and added with the same type was replaced in place: one "modified"."""
    deleted = {(c["path"], c["type"]) for c in changes if c["change"] == "deleted"}
    added = {(c["path"], c["type"]) for c in changes if c["change"] == "added"}
    replaced = deleted & added
    out, seen = [], set()
    for c in changes:
        key = (c["path"], c["type"])
        if key in replaced and c["change"] in ("deleted", "added"):
            if key not in seen:
                seen.add(key)
                out.append({"path": c["path"], "change": "modified", "type": c["type"], "old_path": None})
            continue
        out.append(c)
    return out
