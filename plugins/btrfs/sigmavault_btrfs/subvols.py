"""Subvolumes in one directory, read straight from the btrfs root tree.

``BTRFS_IOC_TREE_SEARCH_V2`` (struct layouts and constants from python-btrfs) over tree 1:

- ``ROOT_REF`` items ``(parent tree, 156, child id)`` carry ``dirid, sequence, name_len, name``:
  the children of a directory are the refs of the directory's tree whose ``dirid`` is the
  directory's inode number;
- ``ROOT_ITEM`` items ``(child id, 132, offset)`` carry the flags (u64 at byte 208, bit 0 =
  read-only) and the creation time (``otime``: u64 seconds + u32 ns at byte 339; root items
  shorter than 351 bytes predate Linux 3.6 and have none); the key offset is non-zero for
  snapshots (the transaction that made them), zero for subvolumes made empty (or received).

``changed_since`` reruns both searches with ``min_transid``: the kernel then only walks tree
blocks written in or after that transaction, so checking a listing of 10,000 snapshots costs a
few leaves instead of the whole listing. Needs CAP_SYS_ADMIN (root).
"""

from __future__ import annotations

import fcntl
import os
import struct
from typing import Iterator, Mapping, NamedTuple

import btrfs

ROOT_TREE = btrfs.ctree.ROOT_TREE_OBJECTID
ROOT_ITEM = btrfs.ctree.ROOT_ITEM_KEY
ROOT_REF = btrfs.ctree.ROOT_REF_KEY
ROOT_SUBVOL_RDONLY = btrfs.ctree.ROOT_SUBVOL_RDONLY
U64_MAX = btrfs.ctree.ULLONG_MAX

_KEY = btrfs.ioctl.ioctl_search_key            # btrfs_ioctl_search_key
_HEADER = btrfs.ioctl.ioctl_search_header      # transid, objectid, offset, type, len
_BUF_SIZE = struct.Struct("=Q")                # btrfs_ioctl_search_args_v2.buf_size
_RESULTS = _KEY.size + _BUF_SIZE.size
_REF = struct.Struct("=QQH")                   # btrfs_root_ref: dirid, sequence, name_len
_FLAGS = struct.Struct("=Q")
_OTIME = struct.Struct("=Q")
_FLAGS_AT, _OTIME_AT, _ROOT_ITEM_V2 = 208, 339, 351
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


def _search(fd: int, lo: tuple[int, int, int], hi: tuple[int, int, int],
            min_transid: int = 0) -> Iterator[tuple[bytearray, list[tuple[int, int, int, int, int]]]]:
    """Tree-1 items with ``lo <= (objectid, type, offset) <= hi`` in leaves written in or after
    ``min_transid``: one ``(buffer, [(objectid, type, offset, data position, data length)])``
    per ioctl call (batches keep the per-item work in the callers' loops)."""
    buf = bytearray(_RESULTS + BUF_SIZE)
    unpack = _HEADER.unpack_from
    hsize = _HEADER.size
    key = lo
    while True:
        _KEY.pack_into(buf, 0, ROOT_TREE, key[0], hi[0], key[2], hi[2], min_transid, U64_MAX,
                       key[1], hi[1], 0xFFFFFFFF)
        _BUF_SIZE.pack_into(buf, _KEY.size, BUF_SIZE)
        fcntl.ioctl(fd, btrfs.ioctl.IOC_TREE_SEARCH_V2, buf)
        count = _KEY.unpack_from(buf, 0)[9]
        if not count:
            return
        items = []
        pos = _RESULTS
        for _ in range(count):
            _transid, objectid, offset, typ, length = unpack(buf, pos)
            pos += hsize
            items.append((objectid, typ, offset, pos, length))
            pos += length
        yield buf, items
        last = (objectid, typ, offset)
        if last >= hi:
            return
        if offset < U64_MAX:
            key = (objectid, typ, offset + 1)
        elif typ < 255:
            key = (objectid, typ + 1, 0)
        else:
            key = (objectid + 1, 0, 0)


def locate(fd: int) -> Located:
    """The tree and inode number of the directory open as ``fd``."""
    return Located(btrfs.ioctl.ino_lookup(fd).treeid, os.fstat(fd).st_ino)


def _refs(fd: int, where: Located, min_transid: int = 0) -> dict[int, bytes]:
    refs: dict[int, bytes] = {}
    ref = _REF.unpack_from
    dirino = where.dirino
    for buf, items in _search(fd, (where.tree, ROOT_REF, 0), (where.tree, ROOT_REF, U64_MAX),
                              min_transid):
        for _objectid, _typ, child, pos, _length in items:
            dirid, _seq, namelen = ref(buf, pos)
            if dirid == dirino:
                refs[child] = bytes(buf[pos + 18:pos + 18 + namelen])
    return refs


def _children(fd: int, ids: Mapping[int, object], names: Mapping[int, bytes] | None,
              min_transid: int = 0) -> dict[int, Child]:
    """The subvolumes of ``ids`` whose root items are found, named from ``names`` (empty names
    without it). One search over the id range; the items of other ids in between are skipped."""
    out: dict[int, Child] = {}
    if not ids:
        return out
    flags_of, otime_of = _FLAGS.unpack_from, _OTIME.unpack_from
    new = tuple.__new__   # Child(...) without the keyword-handling constructor: 10,000 per listing
    for buf, items in _search(fd, (min(ids), ROOT_ITEM, 0), (max(ids), ROOT_ITEM, U64_MAX),
                              min_transid):
        for objectid, typ, offset, pos, length in items:
            if typ != ROOT_ITEM or objectid not in ids:
                continue
            out[objectid] = new(Child, (
                objectid, names[objectid] if names is not None else b"",
                bool(flags_of(buf, pos + _FLAGS_AT)[0] & ROOT_SUBVOL_RDONLY), offset != 0,
                otime_of(buf, pos + _OTIME_AT)[0] if length >= _ROOT_ITEM_V2 else None))
    return out


def children(fd: int, where: Located) -> dict[int, Child]:
    """Every subvolume linked into the directory, by id."""
    refs = _refs(fd, where)
    return _children(fd, refs, refs)


def changed_since(fd: int, where: Located, known: dict[int, Child], min_transid: int) -> bool:
    """Whether a child of the directory was added, renamed, re-flagged or re-created in a
    transaction ``>= min_transid``, compared with ``known`` (a removal changes the directory's
    size and mtime: callers compare its stat as well)."""
    for sid, name in _refs(fd, where, min_transid).items():
        old = known.get(sid)
        if old is None or old.name != name:
            return True
    return any(child[2:] != known[sid][2:]
               for sid, child in _children(fd, known, None, min_transid).items())
