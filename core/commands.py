"""The one way plugins run external programs: an argv list, a timeout, cancellation, a log line.

Never a shell string. ``run`` waits for a command; ``start_process`` starts a long-running daemon.
Both log through the ``sigmavault.commands`` logger in one format: every finished (or killed)
command and every daemon's exit is one record with ``argv``, ``duration`` (seconds) and
``returncode`` (negative: killed by that signal; ``None``: the program does not exist), and a
daemon's start is one record with ``argv`` and ``pid``. A finished command is logged at DEBUG
(``log_level = "DEBUG"`` shows every command line); a timeout, cancellation or missing program is a
WARNING, a daemon's start and exit INFO (WARNING when it exits by itself with an error).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Mapping, Sequence

from .errors import APIError

log = logging.getLogger("sigmavault.commands")
PR_SET_PDEATHSIG = 1


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
        details: dict[str, Any] = {"argv": list(result.argv if result else argv)}
        if result is not None:
            details.update(returncode=result.returncode, stderr=result.stderr[-2000:])
        super().__init__(status, code, message, details)
        self.result = result


def _argv(argv: Sequence[str | os.PathLike[str]]) -> list[str]:
    out = [os.fspath(a) for a in argv]
    if not out or not all(isinstance(a, str) for a in out):
        raise ValueError("argv must be a non-empty list of strings")
    return out


def _ended(message: str, argv: list[str], duration: float, returncode: int | None,
           level: int = logging.INFO, **more: Any) -> None:
    """The one record for a command or daemon that is over."""
    log.log(level, message, extra={"argv": argv, "duration": round(duration, 3),
                                   "returncode": returncode, **more})


def _missing(argv: list[str], started: float) -> CommandError:
    _ended("command not found", argv, time.monotonic() - started, None, logging.WARNING)
    return CommandError(None, f"{argv[0]} is not installed on this machine", status=501,
                        code="tool_missing", argv=argv)


async def run(argv: Sequence[str | os.PathLike[str]], *, timeout: float = 60.0, check: bool = True,
              input: bytes | None = None, env: Mapping[str, str] | None = None,
              cwd: str | os.PathLike[str] | None = None,
              stdin_path: str | os.PathLike[str] | None = None,
              stdout_path: str | os.PathLike[str] | None = None) -> Result:
    """Run ``argv`` and capture its output.

    :param timeout: seconds before the process group is killed and ``CommandError`` (504) is raised.
    :param check: raise ``CommandError`` when the exit code is not 0.
    :param input: bytes written to the command's standard input.
    :param stdin_path: a file read as standard input instead (binary streams: ``zfs receive``).
    :param stdout_path: a file (created or truncated) that takes standard output instead of
        ``Result.stdout``, which is then empty (binary streams: ``zfs send``). Not synced to disk.
    Cancelling the calling task kills the process group and re-raises the cancellation.
    """
    argv = _argv(argv)
    if input is not None and stdin_path is not None:
        raise ValueError("pass input or stdin_path, not both")
    files: list[IO[bytes]] = []
    stdin: Any = asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL
    stdout: Any = asyncio.subprocess.PIPE
    try:
        if stdin_path is not None:
            stdin = open(stdin_path, "rb")
            files.append(stdin)
        if stdout_path is not None:
            stdout = open(stdout_path, "wb")
            files.append(stdout)
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=stdin, stdout=stdout, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **env} if env else None, cwd=cwd, start_new_session=True)
        except FileNotFoundError:
            raise _missing(argv, started) from None
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation at shutdown
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate(input)
        except (TimeoutError, asyncio.CancelledError) as exc:
            _kill(proc)
            await proc.wait()
            cancelled = isinstance(exc, asyncio.CancelledError)
            _ended("command cancelled" if cancelled else "command timed out", argv,
                   time.monotonic() - started, proc.returncode, logging.WARNING)
            if cancelled:
                raise
            raise CommandError(None, f"{argv[0]} did not finish within {timeout:g} s", status=504,
                               code="command_timeout", argv=argv) from None
    finally:
        for f in files:
            f.close()
    result = Result(argv, proc.returncode or 0, (out or b"").decode(errors="replace"),
                    err.decode(errors="replace"), time.monotonic() - started)
    # a command line is a detail (status polls run them every few seconds), not an event: DEBUG
    _ended("command finished", argv, result.duration, result.returncode, logging.DEBUG)
    if check and not result.ok:
        first = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise CommandError(result, f"{argv[0]} failed: {first[-1] if first else 'exit ' + str(result.returncode)}")
    return result


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Process:
    """A long-running program started by :func:`start_process`.

    A thread waits for it, so the handle works from any event loop (or none), and logs its exit
    once, whether it exits by itself or through :meth:`stop`.
    """

    def __init__(self, popen: subprocess.Popen, argv: list[str], group: bool):
        self.argv, self.pid, self._popen, self._group = argv, popen.pid, popen, group
        self.started = time.monotonic()
        self.duration: float | None = None
        self._stopping = False
        self._exited = threading.Event()
        threading.Thread(target=self._reap, name=f"reap-{self.pid}", daemon=True).start()

    def _reap(self) -> None:
        code = self._popen.wait()
        self.duration = time.monotonic() - self.started
        _ended("process exited", self.argv, self.duration, code,
               logging.INFO if code == 0 or self._stopping else logging.WARNING,
               pid=self.pid, stopped=self._stopping)
        self._exited.set()

    @property
    def returncode(self) -> int | None:
        """The exit code once the process is gone (negative: the signal that ended it)."""
        return self._popen.returncode if self._exited.is_set() else None

    def send_signal(self, sig: int) -> None:
        """Signal the process (its whole group when started with ``new_session``)."""
        if self._exited.is_set():
            return
        try:
            if self._group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    async def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds (``None``: as long as it takes) for the exit code;
        ``None`` when the process still runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while not self._exited.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        return self._popen.returncode

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` s; the exit code."""
        if not self._exited.is_set():
            self._stopping = True
            self.send_signal(signal.SIGTERM)
            if await self.wait(timeout) is None:
                self.send_signal(signal.SIGKILL)
                await self.wait()
        return self._popen.returncode


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_process(argv: Sequence[str | os.PathLike[str]], *,
                  log_path: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
                  new_session: bool = False, die_with_parent: bool = False) -> Process:
    """Start a daemon that runs in the foreground as our child, and log its start (argv, pid).

    :param log_path: standard output and error are appended there (default: discarded).
    :param new_session: own session and process group; :meth:`Process.stop` then signals the group.
    :param die_with_parent: the child gets SIGTERM when the thread that started it ends (the
        event loop's thread: when this daemon dies, even by SIGKILL).
    Raises ``CommandError`` (501) when the program does not exist.
    """
    argv = _argv(argv)
    out: Any = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL
    started = time.monotonic()
    try:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **env} if env else None, cwd=cwd, start_new_session=new_session,
            preexec_fn=_die_with_parent if die_with_parent else None)
    except FileNotFoundError:
        raise _missing(argv, started) from None
    finally:
        if log_path is not None:
            out.close()
    log.info("process started", extra={"argv": argv, "pid": popen.pid})
    return Process(popen, argv, new_session)
