"""Snapshot directories read through ioctls (:mod:`.subvols`) and kept while they are unchanged.

A volume's snapshots are the subvolumes in ``<mount>/.snapshots/<volume>/`` that are snapshots
or read-only (received full streams are read-only but not snapshots; a receive still in progress
is neither and is not listed). Reading 10,000 of them takes ~15 ms. The last read of each
directory is kept with the filesystem generation (``/sys/fs/btrfs/<uuid>/generation``) read
*before* it, and brought up to date by :func:`.subvols.refresh`: every tree block written after
that point carries a newer transid, so a ``min_transid`` search finds every root item and
backref changed since in a few leaves. The kept read is returned as it is (same serial, so the
same ``snapshot_list_token`` and the service's cached pages) when

1. the directory's stat (device, inode, size, mtime, ctime) is unchanged — every link, unlink or
   rename of an entry changes its mtime and ctime, and its size (the sum of the names' lengths)
   — and the backrefs that search sees match the kept names (a rename within one clock tick), and
2. no kept child's root item changed (read-only flag, creation time).

So writes that touch none of these subvolumes (files in the volume, other volumes, commits) keep
the read. A changed root item (``btrfs property set <snap> ro false``) patches a copy of the read
(new serial); a changed directory (snapshots made, deleted or renamed) re-reads only the ids and
names (``ROOT_REF`` items) and takes the root items from the kept read and that search; a child
moved in from elsewhere makes a full read.

Without the sysfs generation nothing is reused (every call reads the directory again).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import subvols

MAX_KEPT = 64


@dataclass
class DirRead:
    """One read of a snapshot directory (``serial`` is unique per read)."""
    serial: int
    stat: tuple[int, ...] | None          # None: the directory does not exist (no snapshots)
    generation: int | None                # checks look for changes from this transid on
    where: subvols.Located | None
    children: dict[int, subvols.Child]
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)   # see :func:`snapshot_dicts`
    rows_for: tuple[str, str, str] | None = None                      # (pool, volume, path)


def generation(uuid: str) -> int | None:
    """The filesystem's current (last started) transaction id, None without sysfs."""
    try:
        return int(Path(f"/sys/fs/btrfs/{uuid}/generation").read_text())
    except (OSError, ValueError):
        return None


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _patched(kept: DirRead, serial: int, stat: tuple[int, ...], gen: int,
             children: dict[int, subvols.Child]) -> DirRead:
    """A new read from ``kept`` brought up to date, with the rows of the children that did not
    change (:func:`.subvols.refresh` keeps those ``Child`` objects)."""
    old = kept.children
    rows = {sid: row for sid, row in kept.rows.items() if children.get(sid) is old[sid]}
    return DirRead(serial, stat, gen, kept.where, children, rows, kept.rows_for)


class SnapshotDirs:
    """The last read of each snapshot directory (at most :data:`MAX_KEPT`). Reads of different
    directories may run in parallel threads; the backend reads one directory at a time (a lock
    per volume), as a kept read is updated in place."""

    def __init__(self) -> None:
        self._reads: dict[str, DirRead] = {}
        self._serials = itertools.count(1)
        self._guard = threading.Lock()

    def read(self, path: str | os.PathLike[str], uuid: str) -> DirRead:
        """The directory's children: the kept read while it is valid (see the module
        docstring), otherwise a new one. Blocking (ioctls): run it in a thread."""
        key = f"{uuid}:{path}"
        with self._guard:
            kept = self._reads.get(key)
        gen = generation(uuid)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            if kept is not None and kept.stat is None and gen is not None:
                kept.generation = gen
                return kept
            return self._keep(key, DirRead(next(self._serials), None, gen, None, {}))
        try:
            stat = _stat_key(os.fstat(fd))
            where = subvols.locate(fd)
            if (kept is not None and gen is not None and kept.generation is not None
                    and kept.where == where):
                children = subvols.refresh(fd, where, kept.children, kept.generation,
                                           relink=kept.stat != stat)
                if children is not None and (children is kept.children
                                             or children == kept.children):
                    kept.stat, kept.generation = stat, gen
                    return self._keep(key, kept)
                if children is not None:
                    return self._keep(key, _patched(kept, next(self._serials), stat, gen,
                                                    children))
            children = subvols.children(fd, where)
        finally:
            os.close(fd)
        return self._keep(key, DirRead(next(self._serials), stat, gen, where, children))

    def _keep(self, key: str, read: DirRead) -> DirRead:
        """Keep ``read`` as the most recently used (when it can be checked later)."""
        with self._guard:
            self._reads.pop(key, None)
            if read.generation is not None:
                self._reads[key] = read
                while len(self._reads) > MAX_KEPT:
                    self._reads.pop(next(iter(self._reads)))
        return read


_UTC: dict[int, str] = {}


def utc_seconds(seconds: int) -> str:
    """``1795800753`` → ``'2026-11-27T17:32:33Z'`` (the format of :mod:`.parsers`)."""
    text = _UTC.get(seconds)
    if text is None:
        if len(_UTC) > 100_000:
            _UTC.clear()
        text = _UTC[seconds] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    return text


def snapshot_dicts(read: DirRead, pool: str, volume: str, path: str) -> list[dict[str, Any]]:
    """The backend's snapshot dicts for the listed children (``created`` is None for pre-3.6
    root items, which have no creation time: the caller asks ``btrfs subvolume show``).

    The dicts are kept with the read and handed out again, as the same objects, for the
    children that did not change since the read it was patched from: callers must not change
    them (the storage service keeps its validated copy of each by identity)."""
    if read.rows_for != (pool, volume, path):
        read.rows, read.rows_for = {}, (pool, volume, path)
    rows, out = read.rows, []
    prefix = os.path.join(path, "")
    utc = _UTC.get
    for sid, raw, readonly, snapshot, otime in read.children.values():
        row = rows.get(sid)
        if row is None:
            if not (snapshot or readonly):
                continue
            name = raw.decode("utf-8", "replace")
            row = rows[sid] = {
                "name": name, "pool": pool, "volume": volume,
                "created": None if otime is None else utc(otime) or utc_seconds(otime),
                "writable": not readonly, "used": None, "path": prefix + name,
                "properties": {"subvolume_id": sid}}
        out.append(row)
    return out
