"""VELOCITY: sequential write then read throughput of a directory, fsync'd, page cache dropped."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from .walk import Check, Progress, noop

MIB = 1024 * 1024


def throughput(directory: Path, size_mib: int, block_kib: int = 1024, *, check: Check = noop,
               progress: Progress = noop) -> dict[str, Any]:
    """Write ``size_mib`` MiB of random-ish data to a temporary file in ``directory``, fsync it,
    evict it from the page cache, read it back, delete it; report MB/s for both directions.

    The data is a random block repeated, so compression or dedup in the filesystem can skew the
    figures on ZFS/BTRFS with compression on; the result says which block size was used.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    block = os.urandom(block_kib * 1024)
    total = size_mib * MIB
    path = directory / f".velocity-{uuid.uuid4().hex}.tmp"
    written = 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            started = time.perf_counter()
            while written < total:
                check()
                n = os.write(fd, block[: min(len(block), total - written)])
                written += n
                progress(percent=50.0 * written / total, bytes_done=written, bytes_total=2 * total)
            os.fsync(fd)
            write_s = time.perf_counter() - started
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        read = 0
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            started = time.perf_counter()
            while True:
                check()
                chunk = os.read(fd, len(block))
                if not chunk:
                    break
                read += len(chunk)
                progress(percent=50.0 + 50.0 * read / total, bytes_done=total + read,
                         bytes_total=2 * total)
            read_s = time.perf_counter() - started
        finally:
            os.close(fd)
    finally:
        path.unlink(missing_ok=True)
    if read != written:
        raise OSError(f"read back {read} bytes of {written} written")
    return {
        "directory": str(directory), "bytes": written, "block_bytes": len(block),
        "write_seconds": round(write_s, 6), "read_seconds": round(read_s, 6),
        "write_mb_s": round(written / 1e6 / max(write_s, 1e-9), 2),
        "read_mb_s": round(read / 1e6 / max(read_s, 1e-9), 2),
    }
