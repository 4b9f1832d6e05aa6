"""A supervised long-running program: started, watched, restarted with backoff, reloaded, stopped.

Protocol servers (smbd, NFS-Ganesha) run in the foreground as our children through
:func:`sigmavault.commands.start_process`. When one dies without being asked to, ``on_exit`` is
called with its exit code (negative: the signal that ended it), the supervisor waits a backoff
delay (doubling from ``backoff_initial`` up to ``backoff_max``, back to the start once a run lasted
``healthy_after`` seconds) and starts it again, then calls ``on_restart``. What is left of its
process group (children it forked) is killed before the restart. Callbacks may be
``async``; an exception in one is logged and does not stop the supervision.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import time
from typing import Any, Awaitable, Callable, Mapping, Sequence

from .commands import Process, run, start_process

log = logging.getLogger("sigmavault.supervisor")

Callback = Callable[..., "Awaitable[Any] | Any"]
ReloadCommand = Callable[[int], Sequence[str]]


def _end_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    """Keep ``argv`` running until :meth:`stop`.

    :param name: how logs and callers name it (``"smbd"``).
    :param on_exit: ``on_exit(returncode)`` after every exit that :meth:`stop` did not ask for.
    :param on_restart: ``on_restart(restarts)`` after every restart (``restarts``: count so far).
    :param reload_signal: what :meth:`reload` sends when there is no ``reload_command``.
    :param reload_command: ``reload_command(pid)`` → an argv that makes the program reload
        (``smbcontrol ... reload-config``); run through :func:`sigmavault.commands.run`.
    The program gets its own session, so :meth:`stop` also ends the children it forked, and dies
    with the thread that started it (the daemon's event loop).
    """

    def __init__(self, argv: Sequence[str | os.PathLike[str]], *, name: str,
                 log_path: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None,
                 on_exit: Callback | None = None, on_restart: Callback | None = None,
                 reload_signal: int = signal.SIGHUP, reload_command: ReloadCommand | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 healthy_after: float = 10.0, stop_timeout: float = 10.0) -> None:
        self.argv = [os.fspath(a) for a in argv]
        self.name = name
        self.log_path, self.env = log_path, env
        self.on_exit, self.on_restart = on_exit, on_restart
        self.reload_signal, self.reload_command = reload_signal, reload_command
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.healthy_after, self.stop_timeout = healthy_after, stop_timeout
        self.restarts = 0
        self._process: Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """The running program's pid (``None`` while it is down)."""
        p = self._process
        return p.pid if p is not None and p.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _spawn(self) -> Process:
        return start_process(self.argv, log_path=self.log_path, env=self.env, new_session=True,
                             die_with_parent=True)

    async def start(self) -> None:
        """Start the program and its watcher; raises ``CommandError`` when it does not exist."""
        if self._watcher is not None:
            raise RuntimeError(f"{self.name} is already supervised")
        self._stopping = False
        self._process = self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name=f"supervise-{self.name}")

    async def _watch(self) -> None:
        delay = self.backoff_initial
        while True:
            process = self._process
            assert process is not None
            code = await process.wait()
            if self._stopping:
                return
            _end_group(process.pid)  # children left by the dead program (its session)
            ran = process.duration or 0.0
            log.warning("%s exited", self.name, extra={"returncode": code, "pid": process.pid,
                                                      "duration": round(ran, 3)})
            await self._call(self.on_exit, code)
            if ran >= self.healthy_after:
                delay = self.backoff_initial
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)
            if self._stopping:
                return
            try:
                self._process = self._spawn()
            except Exception:
                log.exception("%s could not be restarted", self.name)
                continue  # the dead handle answers wait() at once: next round backs off again
            self.restarts += 1
            await self._call(self.on_restart, self.restarts)

    async def _call(self, callback: Callback | None, arg: Any) -> None:
        if callback is None:
            return
        try:
            result = callback(arg)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s: callback %r failed", self.name, callback)

    async def reload(self, timeout: float = 30.0) -> None:
        """Ask the running program to re-read its configuration (no restart, clients stay)."""
        pid = self.pid
        if pid is None:
            raise RuntimeError(f"{self.name} is not running")
        if self.reload_command is not None:
            await run(self.reload_command(pid), timeout=timeout)
        else:
            assert self._process is not None
            os.kill(pid, self.reload_signal)  # the main process only, not its forked children

    async def wait_running(self, timeout: float = 10.0) -> int:
        """The pid once the program runs again (after a crash), or ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while (pid := self.pid) is None:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name} not running after {timeout} s")
            await asyncio.sleep(0.02)
        return pid

    async def stop(self) -> int | None:
        """Stop supervising and end the program (SIGTERM, then SIGKILL); its exit code."""
        self._stopping = True
        watcher, self._watcher = self._watcher, None
        code = None
        if self._process is not None:
            code = await self._process.stop(self.stop_timeout)
        if watcher is not None:
            watcher.cancel()
            try:
                await watcher
            except asyncio.CancelledError:
                pass
        return code
