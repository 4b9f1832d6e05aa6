"""``zfs send`` to a file and ``zfs receive`` from one.

``sigmavault.commands.run`` captures stdout as text, which cannot carry a binary replication
stream, so these two calls connect the process to a file directly — still an argv list, never a
shell, with a timeout and the process killed on cancellation. (A core ``run(..., stdout_path=,
stdin_path=)`` would replace this module.)
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Sequence

from sigmavault.commands import CommandError, Result


async def _run_with_files(argv: Sequence[str], *, stdin_path: str | None, stdout_path: str | None,
                          timeout: float) -> Result:
    loop = asyncio.get_running_loop()
    started = loop.time()
    stdin = open(stdin_path, "rb") if stdin_path else None
    stdout = open(stdout_path, "wb") if stdout_path else None
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=stdin or asyncio.subprocess.DEVNULL,
                stdout=stdout or asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except FileNotFoundError:
            raise CommandError(None, f"{argv[0]} is not installed on this machine", status=501,
                               code="tool_missing", argv=argv) from None
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise CommandError(None, f"{argv[0]} did not finish within {timeout:g} s", status=504,
                               code="command_timeout", argv=argv) from None
        if stdout:
            stdout.flush()
            os.fsync(stdout.fileno())
    finally:
        for f in (stdin, stdout):
            if f:
                f.close()
    result = Result(list(argv), proc.returncode or 0, "", err.decode(errors="replace"),
                    loop.time() - started)
    if not result.ok:
        lines = result.stderr.strip().splitlines()
        raise CommandError(result, f"{argv[0]} failed: {lines[-1] if lines else result.returncode}")
    return result


async def send_to_file(argv: Sequence[str], target: str, timeout: float = 3600.0) -> int:
    """Run ``argv`` (a ``zfs send``) into ``target`` through a temporary name; returns bytes.

    On failure the temporary file is removed and ``target`` is untouched.
    """
    dest = Path(target)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        await _run_with_files(argv, stdin_path=None, stdout_path=str(tmp), timeout=timeout)
        os.replace(tmp, dest)
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest.stat().st_size


async def receive_from_file(argv: Sequence[str], source: str, timeout: float = 3600.0) -> Result:
    """Run ``argv`` (a ``zfs receive``) with ``source`` as its standard input."""
    return await _run_with_files(argv, stdin_path=source, stdout_path=None, timeout=timeout)
