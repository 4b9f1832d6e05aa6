"""GUARDIAN: permission audit, world-writable entries, setuid/setgid files, unexpected owners."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterable

from .walk import Check, Progress, iter_entries, noop


def permission_audit(root: Path, allowed_uids: Iterable[int] | None = None, limit: int = 1000, *,
                     check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """Findings for every entry below ``root`` (``root`` included).

    ``allowed_uids`` defaults to root (0) and the owner of ``root`` itself. World-writable
    directories with the sticky bit (like ``/tmp``) are not findings; symlinks are ignored
    (their mode bits mean nothing).
    """
    root = Path(root)
    root_st = os.lstat(root)
    allowed = set(allowed_uids) if allowed_uids is not None else {0, root_st.st_uid}
    findings: list[dict[str, Any]] = []
    counts = {"world_writable": 0, "setuid": 0, "setgid": 0, "unexpected_owner": 0}
    scanned = 0

    def examine(path: str, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            return
        kinds = []
        if mode & stat.S_IWOTH and not (stat.S_ISDIR(mode) and mode & stat.S_ISVTX):
            kinds.append("world_writable")
        if stat.S_ISREG(mode) and mode & stat.S_ISUID:
            kinds.append("setuid")
        if stat.S_ISREG(mode) and mode & stat.S_ISGID and mode & stat.S_IXGRP:
            kinds.append("setgid")
        if st.st_uid not in allowed:
            kinds.append("unexpected_owner")
        for kind in kinds:
            counts[kind] += 1
            if len(findings) < limit:
                findings.append({"path": path, "kind": kind, "mode": oct(stat.S_IMODE(mode)),
                                 "uid": st.st_uid, "gid": st.st_gid,
                                 "type": "dir" if stat.S_ISDIR(mode) else "file"})

    examine(str(root), root_st)
    for path, st in iter_entries(root, check):
        scanned += 1
        examine(path, st)
        if scanned % 2000 == 0:
            progress(description=f"{scanned} entries audited")
    return {"root": str(root), "entries": scanned + 1, "allowed_uids": sorted(allowed),
            "counts": counts, "findings": findings, "truncated": sum(counts.values()) > len(findings)}
