"""Crash-safe output files: never a half-written file at the target path."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

TEMP_MARK = ".sigmavault-tmp-"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def temp_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}{TEMP_MARK}{secrets.token_hex(4)}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(target: Path | str, mode: str = "wb", overwrite: bool = True,
                 perms: int | None = None) -> Iterator[IO]:
    """Write to a temporary name beside ``target``, fsync, then rename over it.

    ``perms`` (e.g. ``0o600`` for secrets) is applied before any byte is written; the yielded
    file's ``temp_path`` names the temporary file. On any exception the temporary file is
    removed and ``target`` is untouched.
    """
    target = Path(target)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} already exists")
    tmp = temp_path_for(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if perms is None else perms)
    if perms is not None:
        os.fchmod(fd, perms)  # the umask may have narrowed the mode given to open
    else:
        os.fchmod(fd, 0o666 & ~_umask())
    f = os.fdopen(fd, mode)
    f.temp_path = tmp  # type: ignore[attr-defined]  # to verify the output before the rename
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        f.close()
        tmp.unlink(missing_ok=True)
        raise


def sweep_temporaries(root: Path | str) -> int:
    """Remove temporary files ``atomic_write`` left under ``root`` (a crash mid-write); return
    how many. Call it from ``job_interrupted`` for the directories the job was writing to."""
    root = Path(root)
    if not root.is_dir():
        return 0
    removed = 0
    for path in root.rglob(f"*{TEMP_MARK}*"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed += 1
    return removed
