"""``zfs send`` to a file and ``zfs receive`` from one.

Both go through ``sigmavault.commands.run`` with the replication stream connected to a file
(``stdout_path`` / ``stdin_path``), so they are logged, time out and die with a cancelled job like
every other command. What this module adds: the stream lands under a temporary name and becomes
``target`` only once it is complete and on disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from sigmavault.commands import Result, run


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def send_to_file(argv: Sequence[str], target: str, timeout: float = 3600.0) -> int:
    """Run ``argv`` (a ``zfs send``) into ``target`` through a temporary name; returns bytes.

    On failure the temporary file is removed and ``target`` is untouched.
    """
    dest = Path(target)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        await run(argv, stdout_path=tmp, timeout=timeout)
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest.stat().st_size


async def receive_from_file(argv: Sequence[str], source: str, timeout: float = 3600.0) -> Result:
    """Run ``argv`` (a ``zfs receive``) with ``source`` as its standard input."""
    return await run(argv, stdin_path=source, timeout=timeout)
