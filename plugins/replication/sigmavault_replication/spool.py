"""A prepared stream on the source's disk that the upload reads while it is still being written.

``storage.snapshot.send`` writes the stream under a temporary name beside ``target`` and renames
it once complete. Given a directory of its own, :meth:`Spool.follow` opens that temporary file as
soon as it appears and follows it as it grows (SHA-256 on the way), so the upload starts with the
first bytes instead of after the last; the file stays on disk, so a cut link or a restart still
resumes from the target's offset. Memory stays bounded: bytes go from the page cache straight
into chunk requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, Awaitable, Callable

POLL = 0.05          # seconds between two looks at the growing file
BLOCK = 1 << 20


class Spool:
    """``available`` bytes of ``path`` can be read; ``complete`` once the writer has finished
    (then ``sha256`` is the whole stream's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.available = 0
        self.complete = False
        self.sha256: str | None = None
        self.info: dict[str, Any] = {}
        self.error: BaseException | None = None
        self._fd: int | None = None
        self._changed = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None

    @classmethod
    def prepared(cls, path: Path, sha256: str) -> "Spool":
        """A stream prepared earlier (a resumed run)."""
        spool = cls(path)
        spool._fd = os.open(path, os.O_RDONLY)
        spool.available, spool.complete, spool.sha256 = os.fstat(spool._fd).st_size, True, sha256
        return spool

    @classmethod
    def follow(cls, path: Path, write: Callable[[], Awaitable[dict[str, Any]]],
               on_complete: Callable[["Spool"], None]) -> "Spool":
        """Start ``write()`` (which writes the stream into ``path``, alone in its directory, through
        a temporary name there) and follow its output. ``info`` gets what ``write()`` returns;
        ``on_complete(spool)`` runs once the whole stream is on disk."""
        spool = cls(path)
        spool._producer = asyncio.ensure_future(spool._produce(write, on_complete))
        return spool

    def read(self, offset: int, length: int) -> bytes:
        assert self._fd is not None and offset + length <= self.available
        return os.pread(self._fd, length, offset)

    async def wait(self) -> None:
        """Until more bytes are available or the stream is complete; raises the writer's error."""
        if self.error is not None:
            raise self.error
        if not self.complete:
            await self._changed.wait()
            if self.error is not None:
                raise self.error

    async def finished(self) -> None:
        """Until the stream is complete (raises the writer's error)."""
        while not self.complete:
            await self.wait()

    async def close(self) -> None:
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _notify(self) -> None:
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    async def _produce(self, write: Callable[[], Awaitable[dict[str, Any]]],
                       on_complete: Callable[["Spool"], None]) -> None:
        writer = asyncio.ensure_future(write())
        digest = hashlib.sha256()
        try:
            while True:
                if self._fd is None:
                    self._fd = _open_first(self.path.parent)
                if self._fd is not None:
                    size = os.fstat(self._fd).st_size
                    if size > self.available:
                        await asyncio.to_thread(_hash, self._fd, digest, self.available, size)
                        self.available = size
                        self._notify()
                if writer.done():
                    self.info = writer.result()
                    break
                await asyncio.wait([writer], timeout=POLL)
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY)
            size = os.fstat(self._fd).st_size
            await asyncio.to_thread(_hash, self._fd, digest, self.available, size)
            self.available, self.sha256, self.complete = size, digest.hexdigest(), True
            on_complete(self)
        except BaseException as exc:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self.error = exc if isinstance(exc, Exception) else asyncio.CancelledError()
            raise
        finally:
            self._notify()


def _open_first(directory: Path) -> int | None:
    """The file the writer is writing (the only one in ``directory``), once there is one."""
    for name in os.listdir(directory):
        try:
            return os.open(directory / name, os.O_RDONLY)
        except FileNotFoundError:      # renamed or removed just now: look again
            return None
    return None


def _hash(fd: int, digest: Any, start: int, end: int) -> None:
    while start < end:
        block = os.pread(fd, min(BLOCK, end - start), start)
        if not block:
            raise OSError(f"the stream file ended at {start} of {end} bytes")
        digest.update(block)
        start += len(block)


def discard(path: Path, outbox: Path) -> None:
    """Remove a spool file, and its own directory when it has one inside ``outbox``."""
    if path.parent != outbox and path.parent.parent == outbox:
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
