"""``zfs send`` to a file and ``zfs receive`` from one.

Both go through ``sigmavault.commands.run`` with the replication stream connected to a file
(``stdout_path`` / ``stdin_path``), so they are logged, time out and die with a cancelled job like
every other command. What this module adds: the stream lands under a temporary name and becomes
``target`` only once it is complete and on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sigmavault.commands import Result, run
from sigmavault.files import atomic_write


async def send_to_file(argv: Sequence[str], target: str, timeout: float = 3600.0) -> int:
    """Run ``argv`` (a ``zfs send``) into ``target`` through a temporary name; returns bytes.

    On failure the temporary file is removed and ``target`` is untouched.
    """
    with atomic_write(target) as f:   # fsync'd and renamed once the stream is complete
        temp = f.temp_path  # type: ignore[attr-defined]  # set by atomic_write (typed as IO)
        await run(argv, stdout_path=temp, timeout=timeout)
    return Path(target).stat().st_size


async def receive_from_file(argv: Sequence[str], source: str, timeout: float = 3600.0) -> Result:
    """Run ``argv`` (a ``zfs receive``) with ``source`` as its standard input."""
    return await run(argv, stdin_path=source, timeout=timeout)
