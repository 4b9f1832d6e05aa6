"""The one way plugins run external programs: an argv list, a timeout, cancellation, a log line.

Never a shell string. Every call is logged with argv, duration and exit code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from .errors import APIError

log = logging.getLogger("sigmavault.commands")


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandError(APIError):
    """A command failed or timed out; answered as a 4xx/5xx with its stderr in the details."""

    def __init__(self, result: Result | None, message: str, status: int = 500,
                 code: str = "command_failed", argv: Sequence[str] = ()):
        details = {"argv": list(result.argv if result else argv)}
        if result is not None:
            details.update(returncode=result.returncode, stderr=result.stderr[-2000:])
        super().__init__(status, code, message, details)
        self.result = result


async def run(argv: Sequence[str], *, timeout: float = 60.0, check: bool = True,
              input: bytes | None = None, env: Mapping[str, str] | None = None,
              cwd: str | None = None) -> Result:
    """Run ``argv`` and capture its output.

    :param timeout: seconds before the process is killed and ``CommandError`` (504) is raised.
    :param check: raise ``CommandError`` when the exit code is not 0.
    Cancelling the calling task kills the process.
    """
    argv = [os.fspath(a) for a in argv]
    if not argv or not isinstance(argv[0], str):
        raise ValueError("argv must be a non-empty list of strings")
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env} if env else None, cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        log.warning("command not found", extra={"argv": argv})
        raise CommandError(None, f"{argv[0]} is not installed on this machine", status=501,
                           code="tool_missing", argv=argv) from None
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation at shutdown
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(input)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill(proc)
        await proc.wait()
        duration = time.monotonic() - started
        log.warning("command killed", extra={"argv": argv, "duration": round(duration, 3)})
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise CommandError(None, f"{argv[0]} did not finish within {timeout:g} s", status=504,
                           code="command_timeout", argv=argv) from None
    result = Result(argv, proc.returncode or 0, out.decode(errors="replace"),
                    err.decode(errors="replace"), time.monotonic() - started)
    log.info("command", extra={"argv": argv, "duration": round(result.duration, 3),
                               "returncode": result.returncode})
    if check and not result.ok:
        first = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise CommandError(result, f"{argv[0]} failed: {first[-1] if first else 'exit ' + str(result.returncode)}")
    return result


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
