"""Subvolumes in one directory, read straight from the btrfs root tree.

One ``BTRFS_IOC_TREE_SEARCH_V2`` (struct layouts and constants from python-btrfs) over tree 1,
keys ``(256, 132, 0)`` … ``(LAST_FREE_OBJECTID, 144, max)``: for each subvolume id, in order,

- its ``ROOT_ITEM`` ``(id, 132, offset)``: the flags (u64 at byte 208, bit 0 = read-only) and
  the creation time (``otime``: u64 seconds + u32 ns at byte 339; root items shorter than 351
  bytes predate Linux 3.6 and have none); the key offset is non-zero for snapshots (the
  transaction that made them), zero for subvolumes made empty (or received);
- its ``ROOT_BACKREF`` ``(id, 144, parent tree)``: ``dirid, sequence, name_len, name``. The
  children of a directory are the ids whose backref names the directory's tree and inode.

Both are read with one ``struct`` unpack per subvolume where they come one after the other (as
the tree orders them), otherwise item by item.

``refresh`` runs the same search with ``min_transid``: the kernel then only walks tree blocks
written in or after that transaction, so bringing a listing of 10,000 snapshots up to date costs
a few leaves instead of the whole tree; when the directory's entries changed, the ids and names
come from the ``ROOT_REF`` items ``(parent tree, 156, id)`` (same data as the backrefs) alone.
Needs CAP_SYS_ADMIN (root).
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from typing import NamedTuple

import btrfs

ROOT_TREE = btrfs.ctree.ROOT_TREE_OBJECTID
ROOT_ITEM = btrfs.ctree.ROOT_ITEM_KEY
ROOT_BACKREF = btrfs.ctree.ROOT_BACKREF_KEY
ROOT_REF = btrfs.ctree.ROOT_REF_KEY
FIRST_FREE = btrfs.ctree.FIRST_FREE_OBJECTID
LAST_FREE = btrfs.ctree.LAST_FREE_OBJECTID
ROOT_SUBVOL_RDONLY = btrfs.ctree.ROOT_SUBVOL_RDONLY
U64_MAX = btrfs.ctree.ULLONG_MAX

_KEY = btrfs.ioctl.ioctl_search_key            # btrfs_ioctl_search_key
_HEADER = btrfs.ioctl.ioctl_search_header      # transid, objectid, offset, type, len
_BUF_SIZE = struct.Struct("=Q")                # btrfs_ioctl_search_args_v2.buf_size
_RESULTS = _KEY.size + _BUF_SIZE.size
_REF = struct.Struct("=QQH")                   # btrfs_root_ref: dirid, sequence, name_len
_FLAGS = struct.Struct("=Q")                  # btrfs_root_item.flags, at byte 208
_FLAGS_OTIME = struct.Struct("=Q123xQ")        # flags, then otime.sec at byte 339
_FLAGS_AT, _ROOT_ITEM_V2 = 208, 351
BUF_SIZE = 1 << 20


class Child(NamedTuple):
    """One subvolume linked into the directory."""
    id: int
    name: bytes
    readonly: bool
    snapshot: bool               # made by a snapshot ioctl (root item key offset != 0)
    otime: int | None            # creation time, seconds since the epoch (None: pre-3.6 item)


Item = tuple[bool, bool, "int | None"]     # a root item's (readonly, snapshot, otime)


class Located(NamedTuple):
    """Where a directory's children are found: its tree (subvolume) and inode number."""
    tree: int
    dirino: int


def locate(fd: int) -> Located:
    """The tree and inode number of the directory open as ``fd``."""
    return Located(btrfs.ioctl.ino_lookup(fd).treeid, os.fstat(fd).st_ino)


_buffers = threading.local()


def _buffer() -> bytearray:
    """This thread's search buffer (allocating and zeroing 1 MiB per search costs more than the
    few leaves a ``min_transid`` search reads)."""
    buf = getattr(_buffers, "buf", None)
    if buf is None or len(buf) != _RESULTS + BUF_SIZE:
        buf = _buffers.buf = bytearray(_RESULTS + BUF_SIZE)
    return buf


def _pair_struct(item_len: int) -> struct.Struct:
    """A root item of ``item_len`` bytes and the item after it, header to name length (what
    :func:`_scan` reads of a subvolume's ``ROOT_ITEM`` and ``ROOT_BACKREF``) in one unpack:
    objectid, offset, type, length, flags, otime; objectid, offset, type, length, dirid,
    name_len."""
    header = "8xQQII"     # btrfs_ioctl_search_header (=3Q2L) without its transid
    root_item = (f"{_FLAGS_AT}x{_FLAGS_OTIME.format.lstrip('=')}"
                 f"{item_len - _FLAGS_AT - _FLAGS_OTIME.size}x")
    return struct.Struct(f"={header}{root_item}{header}Q8xH")   # btrfs_root_ref w/o sequence


def _scan(fd: int, where: Located, lo: tuple[int, int, int], hi: tuple[int, int, int],
          min_transid: int = 0
          ) -> tuple[dict[int, Child], dict[int, Item], dict[int, bytes]]:
    """Root-tree items from ``lo`` to ``hi`` in leaves written in or after ``min_transid``:
    ``(paired, items, refs)``. ``paired`` are the children whose root item came right before
    their backref into the directory (how the tree orders them: one unpack per subvolume);
    ``items`` the other root items, ``refs`` the other refs and backrefs into the directory
    (``{id: name}``), e.g. split between two search buffers. 10,000 snapshots: ~20,000 items."""
    paired: dict[int, Child] = {}
    items: dict[int, Item] = {}
    refs: dict[int, bytes] = {}
    header, key_of = _HEADER.unpack_from, _KEY.unpack_from
    flags_of, flags_otime_of, ref_of = (_FLAGS.unpack_from, _FLAGS_OTIME.unpack_from,
                                        _REF.unpack_from)
    new, rdonly = tuple.__new__, ROOT_SUBVOL_RDONLY
    tree, dirino = where
    buf = _buffer()
    view = memoryview(buf)
    item_len, pair, pair_end = 0, None, 0
    while True:
        _KEY.pack_into(buf, 0, ROOT_TREE, lo[0], hi[0], lo[2], hi[2], min_transid, U64_MAX,
                       lo[1], hi[1], 0xFFFFFFFF)
        _BUF_SIZE.pack_into(buf, _KEY.size, BUF_SIZE)
        fcntl.ioctl(fd, btrfs.ioctl.IOC_TREE_SEARCH_V2, buf)
        count = key_of(buf, 0)[9]
        if not count:
            break
        pos, i = _RESULTS, 0
        while i < count:
            if pair is not None and i + 1 < count and pos <= pair_end:
                (objectid, offset, typ, length, flags, otime,
                 objectid2, offset2, typ2, length2, dirid, namelen) = pair(buf, pos)
                if (typ == ROOT_ITEM and length == item_len and typ2 == ROOT_BACKREF
                        and objectid2 == objectid):
                    if offset2 == tree and dirid == dirino:
                        at = pos + 2 * _HEADER.size + length + _REF.size
                        paired[objectid] = new(Child, (objectid, view[at:at + namelen].tobytes(),
                                                       flags & rdonly != 0, offset != 0, otime))
                    pos += 2 * _HEADER.size + length + length2
                    i += 2
                    objectid, typ, offset = objectid2, typ2, offset2
                    continue
            _transid, objectid, offset, typ, length = header(buf, pos)
            pos += _HEADER.size
            i += 1
            if typ == ROOT_ITEM:
                if length >= _ROOT_ITEM_V2:
                    flags, otime = flags_otime_of(buf, pos + _FLAGS_AT)
                    if length != item_len:
                        pairs = _pair_struct(length)
                        item_len, pair, pair_end = length, pairs.unpack_from, len(buf) - pairs.size
                else:
                    flags, otime = flags_of(buf, pos + _FLAGS_AT)[0], None
                items[objectid] = (flags & rdonly != 0, offset != 0, otime)
            elif (typ == ROOT_BACKREF and offset == tree) or (typ == ROOT_REF and objectid == tree):
                dirid, _sequence, namelen = ref_of(buf, pos)
                if dirid == dirino:
                    refs[objectid if typ == ROOT_BACKREF else offset] = (
                        view[pos + _REF.size:pos + _REF.size + namelen].tobytes())
            pos += length
        if (objectid, typ, offset) >= hi:
            break
        lo = ((objectid, typ, offset + 1) if offset < U64_MAX else
              (objectid, typ + 1, 0) if typ < 255 else (objectid + 1, 0, 0))
    return paired, items, refs


_SUBVOLUMES = (FIRST_FREE, ROOT_ITEM, 0), (LAST_FREE, ROOT_BACKREF, U64_MAX)


def children(fd: int, where: Located) -> dict[int, Child]:
    """Every subvolume linked into the directory, by id: one search over every subvolume's root
    item and backref."""
    paired, items, refs = _scan(fd, where, *_SUBVOLUMES)
    if not refs:
        return paired
    new = tuple.__new__   # Child(...) without the keyword-handling constructor
    paired.update({sid: new(Child, (sid, name, *items[sid])) for sid, name in refs.items()
                   if sid in items})
    return dict(sorted(paired.items()))


def refresh(fd: int, where: Located, known: dict[int, Child], min_transid: int,
            relink: bool) -> dict[int, Child] | None:
    """``known`` (the children as of transaction ``min_transid``) brought up to date.

    Root items changed since (read-only flag; ``btrfs property set <snap> ro false``) come from
    a ``min_transid`` search of every subvolume: a few leaves. Without ``relink`` (the directory
    did not change: nothing was linked, unlinked or renamed in it) the backrefs that search sees
    must match ``known``; with it, or when they do not, the ids and names come from the
    directory tree's ``ROOT_REF`` items (small: ~1/10 of a full read). Returns ``known`` itself
    when nothing changed; None when a child appeared whose root item is not at hand (moved in
    from elsewhere): read everything with :func:`children`.
    """
    paired, items, backrefs = _scan(fd, where, *_SUBVOLUMES, min_transid)
    for sid, child in paired.items():
        items[sid], backrefs[sid] = child[2:], child.name
    new = tuple.__new__
    if not relink and all(sid in known and known[sid].name == name
                          for sid, name in backrefs.items()):
        changed = {sid: new(Child, (sid, known[sid].name, *item)) for sid, item in items.items()
                   if sid in known and item != known[sid][2:]}
        return {**known, **changed} if changed else known
    _, _, names = _scan(fd, where, (where.tree, ROOT_REF, 0), (where.tree, ROOT_REF, U64_MAX))
    out: dict[int, Child] = {}
    for sid, name in names.items():
        item = items.get(sid)
        old = known.get(sid)
        if item is None:
            if old is None:
                return None
            if old.name == name:
                out[sid] = old
                continue
            item = old[2:]
        out[sid] = new(Child, (sid, name, *item))
    return out


# --- qgroup figures: the quota tree ----------------------------------------------------------------

QUOTA_TREE = btrfs.ctree.QUOTA_TREE_OBJECTID
QGROUP_STATUS = btrfs.ctree.QGROUP_STATUS_KEY
QGROUP_INFO = btrfs.ctree.QGROUP_INFO_KEY
LEVEL0_MAX = (1 << btrfs.ctree.QGROUP_LEVEL_SHIFT) - 1
QGROUP_STATUS_ON, QGROUP_STATUS_RESCAN, QGROUP_STATUS_INCONSISTENT = 1, 2, 4
_INFO_ITEM = struct.Struct("=8xQ8xQ8x")       # btrfs_qgroup_info_item: gen, rfer, rfer_cmpr, excl, excl_cmpr
_STATUS_FLAGS = struct.Struct("=16xQ")       # btrfs_qgroup_status_item: version, generation, flags


QGROUP_LIMIT = btrfs.ctree.QGROUP_LIMIT_KEY
LIMIT_MAX_RFER, LIMIT_MAX_EXCL = 1, 2
_LIMIT_ITEM = struct.Struct("=QQQ")          # btrfs_qgroup_limit_item: flags, max_rfer, max_excl


class Qgroups(NamedTuple):
    """What the quota tree says (as of its last commit): ``flags`` of its status item (None when
    a ``min_transid`` search did not meet it), ``{subvolume id: (referenced, exclusive)}`` of
    the level-0 qgroups found and, when asked for, their limits ``{id: (max_referenced,
    max_exclusive)}`` (None = no limit)."""
    flags: int | None
    usage: dict[int, tuple[int, int]]
    limits: dict[int, tuple[int | None, int | None]]


def qgroups(fd: int, min_transid: int = 0, limits: bool = False) -> Qgroups | None:
    """The status item and level-0 ``QGROUP_INFO`` (and with ``limits`` ``QGROUP_LIMIT``) items
    of the quota tree in one search (only the leaves written in or after ``min_transid``); None
    when quotas are off (no quota tree). 10,000 snapshots: 10,000 info items of 40 bytes, ~45
    leaves, ~5 ms — ``btrfs qgroup show`` takes ~0.8 s for the same."""
    buf = _buffer()
    header, key_of, info_of = _HEADER.unpack_from, _KEY.unpack_from, _INFO_ITEM.unpack_from
    last = QGROUP_LIMIT if limits else QGROUP_INFO
    lo = (0, QGROUP_STATUS, 0)
    flags: int | None = None
    usage: dict[int, tuple[int, int]] = {}
    limit: dict[int, tuple[int | None, int | None]] = {}
    while True:
        _KEY.pack_into(buf, 0, QUOTA_TREE, 0, 0, lo[2], U64_MAX, min_transid, U64_MAX,
                       lo[1], last, 0xFFFFFFFF)
        _BUF_SIZE.pack_into(buf, _KEY.size, BUF_SIZE)
        try:
            fcntl.ioctl(fd, btrfs.ioctl.IOC_TREE_SEARCH_V2, buf)
        except FileNotFoundError:   # ENOENT: no quota tree, quotas are off
            return None
        count = key_of(buf, 0)[9]
        if not count:
            break
        pos = _RESULTS
        typ = offset = 0
        for _ in range(count):
            _transid, _objectid, offset, typ, length = header(buf, pos)
            pos += _HEADER.size
            if offset <= LEVEL0_MAX:
                if typ == QGROUP_INFO and length >= _INFO_ITEM.size:
                    usage[offset] = info_of(buf, pos)
                elif typ == QGROUP_LIMIT and length >= _LIMIT_ITEM.size:
                    lflags, rfer, excl = _LIMIT_ITEM.unpack_from(buf, pos)
                    limit[offset] = (rfer if lflags & LIMIT_MAX_RFER else None,
                                     excl if lflags & LIMIT_MAX_EXCL else None)
                elif typ == QGROUP_STATUS and length >= _STATUS_FLAGS.size:
                    flags = _STATUS_FLAGS.unpack_from(buf, pos)[0]
            pos += length
        if (typ, offset) >= (last, U64_MAX):
            break
        lo = (0, typ, offset + 1) if offset < U64_MAX else (0, typ + 1, 0)
    return Qgroups(flags, usage, limit)
