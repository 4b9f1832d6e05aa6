"""Subvolumes in one directory, read straight from the btrfs root tree.

One ``BTRFS_IOC_TREE_SEARCH_V2`` (struct layouts and constants from python-btrfs) over tree 1,
keys ``(256, 132, 0)`` … ``(LAST_FREE_OBJECTID, 144, max)``: for each subvolume id, in order,

- its ``ROOT_ITEM`` ``(id, 132, offset)``: the flags (u64 at byte 208, bit 0 = read-only) and
  the creation time (``otime``: u64 seconds + u32 ns at byte 339; root items shorter than 351
  bytes predate Linux 3.6 and have none); the key offset is non-zero for snapshots (the
  transaction that made them), zero for subvolumes made empty (or received);
- its ``ROOT_BACKREF`` ``(id, 144, parent tree)``: ``dirid, sequence, name_len, name``. The
  children of a directory are the ids whose backref names the directory's tree and inode.

``changes_since`` runs the same search with ``min_transid``: the kernel then only walks tree
blocks written in or after that transaction, so checking a listing of 10,000 snapshots costs a
few leaves instead of the whole tree. Needs CAP_SYS_ADMIN (root).
"""

from __future__ import annotations

import fcntl
import os
import struct
from typing import NamedTuple

import btrfs

ROOT_TREE = btrfs.ctree.ROOT_TREE_OBJECTID
ROOT_ITEM = btrfs.ctree.ROOT_ITEM_KEY
ROOT_BACKREF = btrfs.ctree.ROOT_BACKREF_KEY
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


class Located(NamedTuple):
    """Where a directory's children are found: its tree (subvolume) and inode number."""
    tree: int
    dirino: int


def locate(fd: int) -> Located:
    """The tree and inode number of the directory open as ``fd``."""
    return Located(btrfs.ioctl.ino_lookup(fd).treeid, os.fstat(fd).st_ino)


def _scan(fd: int, where: Located, min_transid: int = 0
          ) -> tuple[dict[int, tuple[bool, bool, int | None]], dict[int, bytes]]:
    """From the root-tree leaves written in or after ``min_transid``: ``({id: (readonly,
    snapshot, otime)}`` of every root item, ``{id: name}`` of the backrefs into the directory).
    One tight loop over the search buffers (10,000 snapshots: ~20,000 items)."""
    items: dict[int, tuple[bool, bool, int | None]] = {}
    refs: dict[int, bytes] = {}
    header, key_of = _HEADER.unpack_from, _KEY.unpack_from
    flags_of, flags_otime_of, ref_of = (_FLAGS.unpack_from, _FLAGS_OTIME.unpack_from,
                                        _REF.unpack_from)
    tree, dirino = where
    lo, hi = (FIRST_FREE, ROOT_ITEM, 0), (LAST_FREE, ROOT_BACKREF, U64_MAX)
    buf = bytearray(_RESULTS + BUF_SIZE)
    view = memoryview(buf)
    while True:
        _KEY.pack_into(buf, 0, ROOT_TREE, lo[0], hi[0], lo[2], hi[2], min_transid, U64_MAX,
                       lo[1], hi[1], 0xFFFFFFFF)
        _BUF_SIZE.pack_into(buf, _KEY.size, BUF_SIZE)
        fcntl.ioctl(fd, btrfs.ioctl.IOC_TREE_SEARCH_V2, buf)
        count = key_of(buf, 0)[9]
        if not count:
            break
        pos = _RESULTS
        for _ in range(count):
            _transid, objectid, offset, typ, length = header(buf, pos)
            pos += _HEADER.size
            if typ == ROOT_ITEM:
                if length >= _ROOT_ITEM_V2:
                    flags, otime = flags_otime_of(buf, pos + _FLAGS_AT)
                else:
                    flags, otime = flags_of(buf, pos + _FLAGS_AT)[0], None
                items[objectid] = (flags & ROOT_SUBVOL_RDONLY != 0, offset != 0, otime)
            elif typ == ROOT_BACKREF and offset == tree:
                dirid, _sequence, namelen = ref_of(buf, pos)
                if dirid == dirino:
                    refs[objectid] = view[pos + 18:pos + 18 + namelen].tobytes()
            pos += length
        if (objectid, typ, offset) >= hi:
            break
        lo = ((objectid, typ, offset + 1) if offset < U64_MAX else
              (objectid, typ + 1, 0) if typ < 255 else (objectid + 1, 0, 0))
    return items, refs


def children(fd: int, where: Located) -> dict[int, Child]:
    """Every subvolume linked into the directory, by id."""
    items, refs = _scan(fd, where)
    new = tuple.__new__   # Child(...) without the keyword-handling constructor: 10,000 per listing
    return {sid: new(Child, (sid, name, *items[sid])) for sid, name in refs.items()
            if sid in items}


def changes_since(fd: int, where: Located, known: dict[int, Child], min_transid: int
                  ) -> dict[int, Child] | None:
    """The children in ``known`` whose root item changed (read-only flag, otime; e.g.
    ``btrfs property set <snap> ro false``) in a transaction ``>= min_transid``, as they are
    now; None when a child was added or renamed meanwhile (read the directory again). A removal
    is not seen here: it changes the directory's size and mtime, which callers compare."""
    items, refs = _scan(fd, where, min_transid)
    if any(sid not in known or known[sid].name != name for sid, name in refs.items()):
        return None
    new = tuple.__new__
    return {sid: new(Child, (sid, known[sid].name, *item)) for sid, item in items.items()
            if sid in known and item != known[sid][2:]}
