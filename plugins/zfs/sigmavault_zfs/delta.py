"""Snapshot diff where ``zfs diff`` does not exist (zfs-fuse, pool version 23).

Walks two mounted trees (snapshot views or the live volume). ZFS object numbers (``st_ino``) are
kept across snapshots and clones, so the same inode under another path is a rename, the same
path with another inode is a delete + add, and the same inode with other size/mtime/ctime is a
modification — the rules ``zfs diff`` itself follows.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from sigmavault.backends import kind_of

Entry = tuple[int, str, int, int, int]  # inode, type, size, mtime_ns, ctime_ns


def scan_tree(root: str, check: Callable[[], None] | None = None) -> dict[str, Entry]:
    """``relative path → entry`` for everything under ``root`` (symlinks not followed)."""
    out: dict[str, Entry] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        if check:
            check()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                for de in it:
                    if not rel and de.name == ".zfs":
                        continue
                    path = f"{rel}/{de.name}" if rel else de.name
                    st = de.stat(follow_symlinks=False)
                    kind = kind_of(st.st_mode)
                    out[path] = (st.st_ino, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                    if kind == "dir":
                        stack.append(path)
        except FileNotFoundError:
            continue
    return out


def compare_trees(old: dict[str, Entry], new: dict[str, Entry]) -> list[dict[str, Any]]:
    """Change records (as the storage protocol's ``diff``) from two scans."""
    changes: list[dict[str, Any]] = []
    old_by_ino = {e[0]: p for p, e in old.items()}
    new_by_ino = {e[0]: p for p, e in new.items()}
    for path, entry in new.items():
        ino, kind = entry[0], entry[1]
        before = old.get(path)
        if before is not None and before[0] == ino:
            if before[1:] != entry[1:] and (kind != "dir" or before[3] != entry[3]):
                changes.append({"path": path, "change": "modified", "type": kind, "old_path": None})
            continue
        old_path = old_by_ino.get(ino)
        if old_path is not None and new_by_ino.get(ino) == path and old_path not in new:
            changes.append({"path": path, "change": "renamed", "type": kind, "old_path": old_path})
            continue
        if before is not None and before[1] == kind:
            # replaced in place (write to a temp name + rename over): the path's content changed
            changes.append({"path": path, "change": "modified", "type": kind, "old_path": None})
            continue
        if before is not None:
            changes.append({"path": path, "change": "deleted", "type": before[1], "old_path": None})
        changes.append({"path": path, "change": "added", "type": kind, "old_path": None})
    renamed_from = {c["old_path"] for c in changes if c["change"] == "renamed"}
    for path, entry in old.items():
        if path not in new and path not in renamed_from:
            changes.append({"path": path, "change": "deleted", "type": entry[1], "old_path": None})
    changes.sort(key=lambda c: (c["path"], c["change"]))
    return changes
