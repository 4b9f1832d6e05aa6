"""The supervisor with a real tiny program: killed → restarted with callbacks, reloaded, stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from sigmavault.commands import CommandError
from sigmavault.supervisor import Supervisor
from sigmavault.testing import require_tool

# Prints "reloaded" on SIGHUP: shows that reload() reached the program without restarting it.
HUP_PRINTER = ("import signal,sys,time\n"
               "signal.signal(signal.SIGHUP, lambda *a: print('reloaded', flush=True))\n"
               "print('up', flush=True)\n"
               "while True: time.sleep(1)\n")


async def _until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_sigkill_restarts_and_calls_back() -> None:
    require_tool("sleep")
    exits: list[int | None] = []
    restarts: list[int] = []

    async def on_restart(n: int) -> None:  # async callbacks are awaited
        restarts.append(n)

    sup = Supervisor(["sleep", "600"], name="sleeper", on_exit=exits.append,
                     on_restart=on_restart, backoff_initial=0.05)
    await sup.start()
    try:
        first = await sup.wait_running()
        os.kill(first, signal.SIGKILL)
        await _until(lambda: restarts == [1])
        assert exits == [-signal.SIGKILL]
        second = await sup.wait_running()
        assert second != first
        os.kill(second, signal.SIGKILL)
        await _until(lambda: restarts == [1, 2])
        assert exits == [-signal.SIGKILL, -signal.SIGKILL]
    finally:
        code = await sup.stop()
    assert code == -signal.SIGTERM
    assert not sup.running
    await asyncio.sleep(0.2)
    assert restarts == [1, 2] and len(exits) == 2  # stop() is not an unexpected exit


async def test_backoff_grows_while_the_program_keeps_dying() -> None:
    require_tool("false")
    exits: list[int | None] = []
    sup = Supervisor(["false"], name="failing", on_exit=exits.append, backoff_initial=0.1,
                     backoff_max=0.4)
    await sup.start()
    await asyncio.sleep(1.0)  # deaths at ~0, 0.1, 0.3, 0.7: four, not ten
    await sup.stop()
    assert 3 <= len(exits) <= 5, exits
    assert set(exits) == {1}


async def test_reload_signals_without_restart(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    restarts: list[int] = []
    sup = Supervisor([sys.executable, "-c", HUP_PRINTER], name="hup", log_path=out,
                     on_restart=restarts.append)
    await sup.start()
    try:
        pid = await sup.wait_running()
        await _until(lambda: out.exists() and "up" in out.read_text())
        await sup.reload()
        await _until(lambda: "reloaded" in out.read_text())
        assert sup.pid == pid and restarts == []
    finally:
        await sup.stop()


async def test_reload_by_command(tmp_path: Path) -> None:
    require_tool("kill")
    out = tmp_path / "out.log"
    sup = Supervisor([sys.executable, "-c", HUP_PRINTER], name="hup", log_path=out,
                     reload_command=lambda pid: ["kill", "-HUP", str(pid)])
    await sup.start()
    try:
        await _until(lambda: out.exists() and "up" in out.read_text())
        await sup.reload()
        await _until(lambda: "reloaded" in out.read_text())
    finally:
        await sup.stop()


async def test_missing_program_and_reload_when_down() -> None:
    sup = Supervisor(["/nonexistent/sigmavault-daemon"], name="ghost")
    with pytest.raises(CommandError) as err:
        await sup.start()
    assert err.value.code == "tool_missing"
    with pytest.raises(RuntimeError):
        await sup.reload()


async def test_children_of_a_dead_program_are_ended(tmp_path: Path) -> None:
    require_tool("sh", "sleep")
    pids = tmp_path / "child.pid"
    restarts: list[int] = []
    # a parent that forks a long-lived child, like smbd does
    sup = Supervisor(["sh", "-c", f"sleep 600 & echo $! > {pids}; wait"], name="forker",
                     on_restart=restarts.append, backoff_initial=0.05)
    await sup.start()
    try:
        await _until(lambda: pids.exists() and pids.read_text().strip() != "")
        child = int(pids.read_text())
        os.kill(await sup.wait_running(), signal.SIGKILL)
        await _until(lambda: restarts == [1])
        await _until(lambda: not Path(f"/proc/{child}").exists() or
                     Path(f"/proc/{child}/stat").read_text().split()[2] == "Z")
    finally:
        await sup.stop()
