"""One-way tree synchronisation (rsync-like) used by MIRROR for backends without native
incremental send: copies what differs by type, size or mtime, removes what vanished.

Files are written under a temporary name and renamed into place, so a file the target shares
with one of its hard-link snapshots is replaced, never modified in place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from .common import Entry, scan_tree


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _same(a: Entry, b: Entry) -> bool:
    if a.type != b.type:
        return False
    if a.type == "file":
        return a.size == b.size and a.mtime_ns == b.mtime_ns
    if a.type == "symlink":
        return a.link == b.link
    return True


def sync_tree(src: Path, dst: Path, check: Callable[[], None] | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Make ``dst`` hold exactly ``src``'s files; returns what was copied and deleted."""
    a, b = scan_tree(src, check), scan_tree(dst, check)
    deleted = 0
    for rel in sorted(b.keys() - a.keys(), reverse=True):   # children before parents
        if (dst / rel).exists() or (dst / rel).is_symlink():
            _remove(dst / rel)
            deleted += 1
    todo = [rel for rel in sorted(a) if rel not in b or not _same(a[rel], b[rel])]
    total = sum(a[r].size for r in todo)
    done = copied = 0
    for rel in todo:
        if check:
            check()
        e, target = a[rel], dst / rel
        if rel in b and b[rel].type != e.type:
            _remove(target)
        if e.type == "dir":
            target.mkdir(mode=0o755, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".mirror-{os.getpid()}-{target.name}"[:250])
        try:
            if e.type == "symlink":
                os.symlink(e.link or "", tmp)
            elif e.type == "file":
                shutil.copy2(src / rel, tmp)
            else:
                continue   # devices, fifos and sockets are not replicated
            os.replace(tmp, target)
        finally:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
        copied += 1
        done += e.size
        if progress:
            progress(done, total)
    for rel in sorted((r for r in a if a[r].type == "dir"), reverse=True):
        os.utime(dst / rel, ns=(a[rel].mtime_ns, a[rel].mtime_ns))
    return {"files_copied": copied, "bytes_copied": done, "deleted": deleted,
            "unchanged": len(a) - len(todo)}
