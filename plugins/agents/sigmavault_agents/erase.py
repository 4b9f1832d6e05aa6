"""PHANTOM: secure erase, overwrite every byte, fsync, then unlink. Dry run unless told otherwise."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .walk import Check, Progress, iter_entries, noop

CHUNK = 1 << 20
COW_FILESYSTEMS = {"btrfs", "zfs", "fuse.zfs", "fuse", "bcachefs", "xfs"}


def fs_type(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (from /proc/self/mounts)."""
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


def plan(targets: list[Path], check: Check = noop) -> dict[str, Any]:
    """What an erase of ``targets`` would do: regular files and bytes, and what it refuses."""
    files: list[tuple[str, int]] = []
    dirs: list[str] = []
    refused: list[dict[str, str]] = []
    for target in targets:
        st = os.lstat(target)
        entries = [(str(target), st)]
        if stat.S_ISDIR(st.st_mode):
            dirs.append(str(target))
            entries = list(iter_entries(target, check))
        for path, est in entries:
            if stat.S_ISDIR(est.st_mode):
                dirs.append(path)
            elif stat.S_ISREG(est.st_mode):
                if est.st_nlink > 1:
                    refused.append({"path": path, "reason": f"has {est.st_nlink} hard links; "
                                    "erasing would destroy the other names' data"})
                else:
                    files.append((path, est.st_size))
            else:
                refused.append({"path": path, "reason": "not a regular file (symlink, device, fifo or socket)"})
    return {"files": files, "dirs": dirs, "refused": refused}


def _overwrite(path: str, size: int, passes: int, check: Check, on_bytes: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        for n in range(passes):
            os.lseek(fd, 0, os.SEEK_SET)
            done = 0
            while done < size:
                check()
                k = min(CHUNK, size - done)
                # last pass zeros; earlier passes random
                os.write(fd, bytes(k) if n == passes - 1 and passes > 1 else os.urandom(k))
                done += k
                on_bytes(k)
            os.fsync(fd)
        os.ftruncate(fd, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def secure_erase(targets: list[Path], *, dry_run: bool = True, passes: int = 1,
                 check: Check = noop, progress: Progress = noop) -> dict[str, Any]:
    """Overwrite then unlink every regular file in ``targets`` (directories recursively), then
    remove the emptied directories. With ``dry_run`` nothing is touched and the plan is returned.

    Copy-on-write filesystems (btrfs, zfs) and SSDs may keep old blocks: the result warns.
    """
    p = plan(targets, check)
    total = sum(s for _, s in p["files"])
    kinds = sorted({fs_type(t) for t in targets})
    warnings = []
    if any(k in COW_FILESYSTEMS for k in kinds):
        warnings.append(f"copy-on-write filesystem ({', '.join(kinds)}): old blocks and snapshots "
                        "may still hold the data; destroy snapshots too")
    result: dict[str, Any] = {
        "dry_run": dry_run, "passes": passes, "files": len(p["files"]), "bytes": total,
        "paths": [f for f, _ in p["files"]][:1000], "refused": p["refused"], "filesystems": kinds,
        "warnings": warnings, "erased_files": 0, "removed_dirs": 0,
    }
    if dry_run:
        return result
    done = 0

    def on_bytes(k: int) -> None:
        nonlocal done
        done += k
        progress(percent=100.0 * done / (total * passes) if total else None,
                 bytes_done=done, bytes_total=total * passes)

    refused_dirs = {os.path.dirname(r["path"]) for r in p["refused"]}
    for path, size in p["files"]:
        _overwrite(path, size, passes, check, on_bytes)
        os.unlink(path)
        result["erased_files"] += 1
    for d in sorted(p["dirs"], key=len, reverse=True):
        if d in refused_dirs:
            continue
        try:
            os.rmdir(d)
            result["removed_dirs"] += 1
        except OSError:
            pass
    return result
