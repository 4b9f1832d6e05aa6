"""Directory-tree operations of the ``dir`` backend: copies, read-only marking, removal, diff."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

from sigmavault.backends import kind_of
from sigmavault.commands import run

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


async def reflink_supported(directory: Path) -> bool:
    """True when ``cp --reflink=always`` works inside ``directory`` (btrfs, xfs with reflink)."""
    probe = directory / f".reflink-probe-{uuid.uuid4().hex}"
    copy = probe.with_name(probe.name + ".copy")
    try:
        probe.write_bytes(b"probe")
        result = await run(["cp", "--reflink=always", "--", str(probe), str(copy)], check=False,
                           timeout=30)
        return result.ok
    finally:
        probe.unlink(missing_ok=True)
        copy.unlink(missing_ok=True)


async def copy_tree(src: Path, dst: Path, mode: str, timeout: float) -> None:
    """Copy directory ``src`` to the new path ``dst``.

    ``mode``: ``reflink`` (shared extents, independent files), ``hardlink`` (a hard-link tree:
    files share inodes with ``src``) or ``copy`` (reflink where the filesystem can, else bytes).
    """
    flags = {"reflink": ["-a", "--reflink=always"], "hardlink": ["-a", "-l"],
             "copy": ["-a", "--reflink=auto"]}[mode]
    await run(["cp", *flags, "--no-target-directory", "--", str(src), str(dst)], timeout=timeout)


def make_read_only(root: Path, files_too: bool) -> dict[str, int]:
    """Drop write bits on every directory (and file, when files are not shared hard links).

    Returns the write bits dropped, by path relative to ``root`` (``"."`` for ``root``), so that
    copies restored from the tree can be given them back (:func:`restore_write_bits`)."""
    dropped: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if files_too:
            for name in filenames:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    if st.st_mode & WRITE_BITS:
                        dropped[name if rel_dir == "." else f"{rel_dir}/{name}"] = \
                            st.st_mode & WRITE_BITS
                    os.chmod(p, st.st_mode & ~WRITE_BITS)
        mode = os.stat(dirpath).st_mode
        if mode & WRITE_BITS:
            dropped[rel_dir] = mode & WRITE_BITS
        os.chmod(dirpath, mode & ~WRITE_BITS)
    return dropped


def restore_write_bits(root: Path, dropped: dict[str, int] | None, prefix: str) -> None:
    """Give the directories and regular files of ``root`` (a copy of the snapshot entry at
    ``prefix``, relative to the snapshot root) the write bits the snapshot dropped from the
    originals. Without a record (``None``) the owner gets write permission back; with one, an
    entry it does not name was read-only already and stays so. Owners and times are untouched."""
    prefix = prefix.strip("/")

    def fix(path: str, rel: str) -> None:
        st = os.lstat(path)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return
        bits = stat.S_IWUSR if dropped is None else dropped.get(rel, 0)
        if bits and (st.st_mode & bits) != bits:
            os.chmod(path, st.st_mode | bits)

    if not root.is_dir() or root.is_symlink():
        fix(str(root), prefix)
        return
    for dirpath, _dirs, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        base = prefix if rel_dir == "." else (f"{prefix}/{rel_dir}" if prefix else rel_dir)
        for name in filenames:
            fix(os.path.join(dirpath, name), f"{base}/{name}" if base else name)
        fix(dirpath, base or ".")


def make_dirs_writable(root: Path) -> None:
    """Give the owner back write permission on every directory (after copying a snapshot)."""
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IWUSR)


def make_files_writable(root: Path) -> None:
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                os.chmod(p, st.st_mode | stat.S_IWUSR)


def remove_tree(root: Path) -> None:
    """Remove ``root`` even where its directories were made read-only."""
    if not root.exists() and not root.is_symlink():
        return
    if root.is_symlink() or not root.is_dir():
        root.unlink()
        return
    for dirpath, _dirs, _files in os.walk(root):
        try:
            os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        except OSError:
            pass
    shutil.rmtree(root)


def _index(root: Path) -> dict[str, os.stat_result]:
    out: dict[str, os.stat_result] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            out[rel] = os.lstat(os.path.join(dirpath, name))
    return out


def diff_trees(old: Path, new: Path) -> list[dict[str, Any]]:
    """Changes from tree ``old`` to tree ``new``: added, modified, deleted and (where the inode
    survived, as in hard-link snapshots) renamed entries, sorted by path."""
    a, b = _index(old), _index(new)
    changes: list[dict[str, Any]] = []
    deleted = {p: st for p, st in a.items() if p not in b}
    added = {p: st for p, st in b.items() if p not in a}
    by_inode = {(st.st_ino, kind_of(st.st_mode)): p for p, st in deleted.items()
                if not stat.S_ISDIR(st.st_mode)}
    same_fs = os.stat(old).st_dev == os.stat(new).st_dev
    for path, st in sorted(added.items()):
        origin = by_inode.pop((st.st_ino, kind_of(st.st_mode)), None) if same_fs else None
        if origin is not None:
            deleted.pop(origin, None)
            changes.append({"path": path, "change": "renamed", "type": kind_of(st.st_mode),
                            "old_path": origin})
        else:
            changes.append({"path": path, "change": "added", "type": kind_of(st.st_mode),
                            "old_path": None})
    for path, st in deleted.items():
        changes.append({"path": path, "change": "deleted", "type": kind_of(st.st_mode),
                        "old_path": None})
    for path in a.keys() & b.keys():
        sa, sb = a[path], b[path]
        if kind_of(sa.st_mode) != kind_of(sb.st_mode):
            changes.append({"path": path, "change": "modified", "type": kind_of(sb.st_mode),
                            "old_path": None})
        elif not stat.S_ISDIR(sb.st_mode) and (
                sa.st_size != sb.st_size or sa.st_mtime_ns != sb.st_mtime_ns
                or (same_fs and sa.st_ino != sb.st_ino and stat.S_ISLNK(sb.st_mode))):
            changes.append({"path": path, "change": "modified", "type": kind_of(sb.st_mode),
                            "old_path": None})
    changes.sort(key=lambda c: c["path"])
    return changes
