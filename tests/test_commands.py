"""The one subprocess helper: argv only, timeouts kill, cancellation kills, failures explain."""

from __future__ import annotations

import asyncio
import os

import pytest

from sigmavault.commands import CommandError, run


async def test_captures_output_and_exit_code():
    result = await run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (result.stdout, result.stderr, result.returncode, result.ok) == ("out\n", "err\n", 3, False)


async def test_failure_names_the_tool_and_its_last_line():
    with pytest.raises(CommandError) as exc:
        await run(["sh", "-c", "echo first >&2; echo 'no such pool' >&2; exit 1"])
    assert exc.value.message == "sh failed: no such pool"
    assert exc.value.details["returncode"] == 1


async def test_missing_tool_is_501():
    with pytest.raises(CommandError) as exc:
        await run(["sigmavault-no-such-tool"])
    assert (exc.value.status, exc.value.code) == (501, "tool_missing")


async def test_timeout_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "pid"
    with pytest.raises(CommandError) as exc:
        await run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"], timeout=0.5)
    assert (exc.value.status, exc.value.code) == (504, "command_timeout")
    child = int(pidfile.read_text())
    await asyncio.sleep(0.2)
    stat = f"/proc/{child}/stat"
    # gone, or a zombie waiting for init to reap it: either way no longer running
    assert not os.path.exists(stat) or open(stat).read().split(") ", 1)[1][0] == "Z"


async def test_cancellation_kills_and_propagates(tmp_path):
    task = asyncio.ensure_future(run(["sleep", "30"]))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
