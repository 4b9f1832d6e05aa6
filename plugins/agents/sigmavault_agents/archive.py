"""CONDUIT's archive step: a tar stream of a tree, compressed on the fly by any codec object."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .walk import Check, Progress, iter_entries, noop


class _Counting:
    """A write-only file object that hashes and counts what passes through to ``out``."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.bytes = 0
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.sha256.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def levels_default(levels: Any) -> int:
    """The default level of a codec's ``levels`` (object, mapping or ``(min, max, default)``)."""
    if isinstance(levels, dict):
        return int(levels["default"])
    if isinstance(levels, (tuple, list)):
        return int(levels[2])
    return int(levels.default)


def tar_compress(root: Path, out_path: Path, compressor: Callable[[BinaryIO, int, int], BinaryIO],
                 level: int, threads: int = 1, *, check: Check = noop,
                 progress: Progress = noop) -> dict[str, Any]:
    """Write ``root`` as a POSIX tar, compressed, to ``out_path`` (fsync'd); members are relative
    to ``root``. Returns file count, bytes in, compressed bytes and their SHA-256."""
    root = Path(root)
    entries = sorted(iter_entries(root, check))
    total = sum(st.st_size for _, st in entries if stat.S_ISREG(st.st_mode))
    done = files = 0
    with open(out_path, "xb") as raw:
        counter = _Counting(raw)
        stream = compressor(counter, level, threads)  # type: ignore[arg-type]
        try:
            with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path, _ in entries:
                    check()
                    info = tar.gettarinfo(path, arcname=os.path.relpath(path, root))
                    if info.isreg():
                        with open(path, "rb") as f:
                            tar.addfile(info, f)
                        files += 1
                        done += info.size
                        progress(percent=100.0 * done / total if total else None, bytes_done=done,
                                 bytes_total=total)
                    elif info.isdir() or info.issym():
                        tar.addfile(info)
        finally:
            stream.close()
        raw.flush()
        os.fsync(raw.fileno())
    return {"files": files, "bytes_in": total, "bytes_compressed": counter.bytes,
            "sha256_compressed": counter.sha256.hexdigest()}


def sha256_file(path: Path, check: Check = noop) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            check()
    return h.hexdigest()
