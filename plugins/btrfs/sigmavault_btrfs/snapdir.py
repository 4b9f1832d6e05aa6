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

With quotas on, each read also carries the qgroup figures (referenced, exclusive) of its
children from the quota tree (:func:`.subvols.qgroups`), brought up to date the same way (a
``min_transid`` search from the generation of the last check); a child whose figures moved gets
a new row and the read a new serial, so the listing token moves exactly when a ``used`` does.
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
    # qgroup figures {id: (referenced, exclusive)} of the quota tree as of ``usage_generation``
    # (None: quotas off, inconsistent or rescanning; the rows then carry used=None)
    usage: dict[int, tuple[int, int]] | None = None
    usage_generation: int | None = None
    usage_flags: int | None = None


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
    return DirRead(serial, stat, gen, kept.where, children, rows, kept.rows_for, kept.usage,
                   kept.usage_generation, kept.usage_flags)


class SnapshotDirs:
    """The last read of each snapshot directory (at most :data:`MAX_KEPT`). Reads of different
    directories may run in parallel threads; the backend reads one directory at a time (a lock
    per volume), as a kept read is updated in place."""

    def __init__(self) -> None:
        self._reads: dict[str, DirRead] = {}
        self._serials = itertools.count(1)
        self._guard = threading.Lock()

    def read(self, path: str | os.PathLike[str], uuid: str) -> DirRead:
        """The directory's children, with the qgroup figures of each when quotas are on (see
        :meth:`_with_usage`). Blocking (ioctls): run it in a thread."""
        gen = generation(uuid)   # before both searches: later commits are found next time
        read = self._read_children(path, uuid)
        return self._keep(f"{uuid}:{path}", self._with_usage(read, path, gen))

    def _with_usage(self, read: DirRead, path: str | os.PathLike[str], gen: int | None
                    ) -> DirRead:
        """``read`` with the qgroup figures of its children brought up to date: a search of the
        quota tree, from ``read.usage_generation`` on when the read has figures (a few leaves:
        the items of the qgroups changed since), else all of it. When a child's figures moved,
        a copy with a new serial and without that child's row (``snapshot_dicts`` builds it again)
        replaces the read; otherwise the read itself is returned. Quotas off, inconsistent or
        rescanning: no figures (``used`` None)."""
        if read.stat is None or gen is None:
            return read
        known = read.usage
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return read
        try:
            found = subvols.qgroups(fd, read.usage_generation if known is not None
                                    and read.usage_generation is not None else 0)
        finally:
            os.close(fd)
        flags = None if found is None else (
            found.flags if found.flags is not None else read.usage_flags)
        usable = (found is not None and flags is not None and flags & subvols.QGROUP_STATUS_ON
                  and not flags & (subvols.QGROUP_STATUS_RESCAN
                                   | subvols.QGROUP_STATUS_INCONSISTENT))
        children = read.children
        if not usable or found is None:
            if known is None:
                read.usage_flags = flags
                return read
            usage, changed = None, set(children)
        elif known is None:
            usage = {sid: fig for sid, fig in found.usage.items() if sid in children}
            changed = set(children)
        else:
            changed = {sid for sid, fig in found.usage.items()
                       if sid in children and known.get(sid) != fig}
            if not changed:
                read.usage_generation, read.usage_flags = gen, flags
                return read
            usage = {**known, **{sid: found.usage[sid] for sid in changed}}
        rows = {sid: row for sid, row in read.rows.items() if sid not in changed}
        return DirRead(next(self._serials), read.stat, read.generation, read.where,
                       children, rows, read.rows_for, usage, gen, flags)

    def _read_children(self, path: str | os.PathLike[str], uuid: str) -> DirRead:
        """The directory's children: the kept read while it is valid (see the module
        docstring), otherwise a new one."""
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
    usage = read.usage or {}
    for sid, raw, readonly, snapshot, otime in read.children.values():
        row = rows.get(sid)
        if row is None:
            if not (snapshot or readonly):
                continue
            name = raw.decode("utf-8", "replace")
            figures = usage.get(sid)
            row = rows[sid] = {
                "name": name, "pool": pool, "volume": volume,
                "created": None if otime is None else utc(otime) or utc_seconds(otime),
                "writable": not readonly, "used": None if figures is None else figures[1],
                "path": prefix + name,
                "properties": {"subvolume_id": sid} if figures is None else
                {"subvolume_id": sid, "referenced": figures[0]}}
        out.append(row)
    return out
