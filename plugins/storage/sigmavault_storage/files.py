"""The file browser: one page of a directory inside a volume or a snapshot.

Paths are relative to the volume (or snapshot) root and resolved with
``sigmavault.validation.inside``: ``..`` and symlinks never lead out of it. Entries are
directories first, then by name (case-insensitive). A directory's sorted names are kept while
its inode and modification time are unchanged, so paging through 100,000 entries reads the
directory once and ``lstat``s only the entries of each page.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from sigmavault import operation
from sigmavault.backends import kind_of
from sigmavault.errors import APIError, bad_request, not_found
from sigmavault.validation import inside

from .pools import ROUTES
from .snapshots import S, SnapshotService
from .volumes import V, VolumeService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

LISTINGS_KEPT = 32
SETTLED_NS = 2_000_000_000


class FileQuery(BaseModel):
    path: str = Field("", max_length=4096,
                      description="directory relative to the volume (or snapshot) root; "
                      "empty: the root")
    limit: int = Field(200, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class FileEntry(BaseModel):
    name: str
    path: str = Field(..., description="relative to the volume (or snapshot) root")
    type: Literal["file", "dir", "symlink", "other"]
    size: int
    mtime: str = Field(..., description="RFC 3339, UTC")
    mode: str = Field(..., description="permission bits in octal, e.g. 0644")


class FilePage(BaseModel):
    path: str = Field(..., description="the listed directory, relative ('' = the root)")
    parent: str | None = Field(..., description="its parent directory (null at the root)")
    items: list[FileEntry]
    total: int
    limit: int
    offset: int


def _display(name: str) -> str:
    """A name as JSON can carry it (undecodable bytes shown as U+FFFD)."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _scan(directory: Path) -> list[str]:
    """Names in ``directory``, directories first, then by name (case-insensitive)."""
    dirs: list[str] = []
    others: list[str] = []
    with os.scandir(directory) as it:
        for entry in it:
            try:
                (dirs if entry.is_dir(follow_symlinks=False) else others).append(entry.name)
            except OSError:
                others.append(entry.name)
    dirs.sort(key=lambda n: (n.casefold(), n))
    others.sort(key=lambda n: (n.casefold(), n))
    return dirs + others


class FileService:
    route_defaults = ROUTES

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app
        self._names: OrderedDict[tuple[str, int, int, int], list[str]] = OrderedDict()

    def _sorted_names(self, directory: Path, st: os.stat_result) -> list[str]:
        key = (str(directory), st.st_dev, st.st_ino, st.st_mtime_ns)
        names = self._names.get(key)
        if names is None:
            names = _scan(directory)
            # the directory may have changed while it was read, or within the same clock tick as
            # its modification time (timestamps are coarse): cache only a settled, stable listing
            after = os.stat(directory)
            if ((after.st_ino, after.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
                    and time.time_ns() - st.st_mtime_ns > SETTLED_NS):
                self._names[key] = names
                while len(self._names) > LISTINGS_KEPT:
                    self._names.popitem(last=False)
        else:
            self._names.move_to_end(key)
        return names

    def _page(self, root: Path, path: str, limit: int, offset: int) -> dict[str, Any]:
        if "\x00" in path:
            raise bad_request("paths cannot contain NUL bytes", code="bad_path")
        rel = path.strip("/")
        directory = inside(root, rel or ".")
        root = root.resolve()
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            raise not_found("folder", rel or "/") from None
        if not stat.S_ISDIR(st.st_mode):
            raise APIError(400, "not_a_directory", f"{rel} is not a folder", {"path": rel})
        shown = directory.relative_to(root).as_posix()
        shown = "" if shown == "." else shown
        names = self._sorted_names(directory, st)
        items = []
        for name in names[offset:offset + limit]:
            try:
                est = os.lstat(directory / name)
            except FileNotFoundError:   # removed since the listing was read
                continue
            items.append({
                "name": _display(name),
                "path": _display(f"{shown}/{name}" if shown else name),
                "type": kind_of(est.st_mode),
                "size": est.st_size,
                "mtime": datetime.fromtimestamp(est.st_mtime, timezone.utc).isoformat(),
                "mode": f"{stat.S_IMODE(est.st_mode):04o}",
            })
        parent = None if not shown else ("" if "/" not in shown else shown.rsplit("/", 1)[0])
        return {"path": _display(shown), "parent": parent, "items": items, "total": len(names),
                "limit": limit, "offset": offset}

    @operation("storage.files.list", get=V + "/files", query=FileQuery, response=FilePage,
               summary="List a folder of the volume (folders first, then by name; paged)")
    async def list_files(self, pool: str, volume: str, path: str = "", limit: int = 200,
                         offset: int = 0) -> dict[str, Any]:
        root = Path(await self.app.services[VolumeService].volume_path(pool, volume))
        return await asyncio.to_thread(self._page, root, path, limit, offset)

    @operation("storage.snapshot.files.list", get=S + "/files", query=FileQuery,
               response=FilePage,
               summary="List a folder of a snapshot (folders first, then by name; paged)")
    async def list_snapshot_files(self, pool: str, volume: str, snapshot: str, path: str = "",
                                  limit: int = 200, offset: int = 0) -> dict[str, Any]:
        root = Path(await self.app.services[SnapshotService].snapshot_path(pool, volume, snapshot))
        return await asyncio.to_thread(self._page, root, path, limit, offset)
