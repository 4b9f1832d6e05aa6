"""The one subprocess helper: argv only, timeouts kill, cancellation kills, failures explain."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from sigmavault.commands import CommandError, run, start_process


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


def _records(caplog) -> list:
    return [r for r in caplog.records if r.name == "sigmavault.commands"]


def _running(pid: int) -> bool:
    stat = f"/proc/{pid}/stat"
    try:
        return open(stat).read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


async def test_one_log_record_per_command_with_argv_duration_and_exit_code(caplog):
    caplog.set_level(logging.DEBUG, logger="sigmavault.commands")
    await run(["true"])
    await run(["sh", "-c", "exit 3"], check=False)
    with pytest.raises(CommandError):
        await run(["sleep", "30"], timeout=0.3)
    with pytest.raises(CommandError):
        await run(["sigmavault-no-such-tool"])
    records = _records(caplog)
    assert [(r.argv, r.returncode) for r in records] == [
        (["true"], 0), (["sh", "-c", "exit 3"], 3), (["sleep", "30"], -signal.SIGKILL),
        (["sigmavault-no-such-tool"], None)]
    assert [r.getMessage() for r in records] == [
        "command finished", "command finished", "command timed out", "command not found"]
    assert all(isinstance(r.duration, float) for r in records)
    assert 0.25 <= records[2].duration < 5
    # command lines are details (DEBUG); what went wrong is a WARNING
    assert [r.levelno for r in records] == [logging.DEBUG, logging.DEBUG, logging.WARNING, logging.WARNING]


async def test_cancellation_is_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="sigmavault.commands")
    task = asyncio.ensure_future(run(["sleep", "30"]))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (record,) = _records(caplog)
    assert (record.getMessage(), record.argv, record.returncode) == (
        "command cancelled", ["sleep", "30"], -signal.SIGKILL)


async def test_binary_streams_to_and_from_files(tmp_path):
    data = os.urandom(3 * 1024 * 1024) + b"\x00\xff\n"
    src, dst = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(data)
    result = await run(["cat"], stdin_path=src, stdout_path=dst)
    assert dst.read_bytes() == data and result.stdout == ""
    with pytest.raises(CommandError) as exc:
        await run(["sh", "-c", "echo partial; echo 'disk full' >&2; exit 1"], stdout_path=dst)
    assert exc.value.message == "sh failed: disk full" and dst.read_bytes() == b"partial\n"
    with pytest.raises(ValueError):
        await run(["cat"], input=b"x", stdin_path=src)


async def test_a_stream_that_outlives_its_timeout_is_killed(tmp_path):
    with pytest.raises(CommandError) as exc:
        await run(["sh", "-c", "while :; do echo x; sleep 0.01; done"],
                  stdout_path=tmp_path / "out", timeout=0.3)
    assert exc.value.code == "command_timeout"
    size = (tmp_path / "out").stat().st_size
    await asyncio.sleep(0.2)
    assert size > 0 and (tmp_path / "out").stat().st_size == size


async def test_start_process_logs_start_and_stop(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="sigmavault.commands")
    proc = start_process(["sh", "-c", "echo hello; exec sleep 30"], log_path=tmp_path / "d.log")
    for _ in range(250):
        if (tmp_path / "d.log").read_text() == "hello\n":
            break
        await asyncio.sleep(0.02)
    assert (tmp_path / "d.log").read_text() == "hello\n"
    assert proc.returncode is None and await proc.wait(0.2) is None
    assert await proc.stop() == -signal.SIGTERM
    assert not _running(proc.pid) and proc.returncode == -signal.SIGTERM
    started, exited = _records(caplog)
    assert (started.getMessage(), started.argv, started.pid) == ("process started", proc.argv, proc.pid)
    assert (exited.getMessage(), exited.argv, exited.pid, exited.returncode, exited.stopped) == (
        "process exited", proc.argv, proc.pid, -signal.SIGTERM, True)
    assert 0.2 <= exited.duration < 5
    assert await proc.stop() == -signal.SIGTERM and len(_records(caplog)) == 2


async def test_a_daemon_that_exits_by_itself_is_logged_with_its_code(caplog):
    caplog.set_level(logging.INFO, logger="sigmavault.commands")
    proc = start_process(["sh", "-c", "sleep 0.1; exit 4"])
    assert await proc.wait(5) == 4
    exited = _records(caplog)[-1]
    assert (exited.returncode, exited.stopped, exited.levelno) == (4, False, logging.WARNING)


async def test_stop_kills_what_ignores_sigterm_and_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    proc = start_process(["sh", "-c", f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait"],
                         new_session=True)
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.02)
    child = int(pidfile.read_text())
    assert await proc.stop(timeout=0.5) == -signal.SIGKILL
    await asyncio.sleep(0.1)
    assert not _running(child)


def test_start_process_missing_tool_is_501():
    with pytest.raises(CommandError) as exc:
        start_process(["sigmavault-no-such-daemon"])
    assert (exc.value.status, exc.value.code) == (501, "tool_missing")


def test_die_with_parent(tmp_path):
    """A daemon started with die_with_parent goes when the process that started it is SIGKILLed."""
    pidfile = tmp_path / "pid"
    script = ("import sys, time\nfrom sigmavault.commands import start_process\n"
              "p = start_process(['sleep', '30'], die_with_parent=True)\n"
              f"open({str(pidfile)!r}, 'w').write(str(p.pid))\ntime.sleep(30)\n")
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(200):
            if pidfile.exists() and pidfile.read_text():
                break
            time.sleep(0.02)
        child = int(pidfile.read_text())
        assert _running(child)
    finally:
        parent.kill()
        parent.wait()
    for _ in range(100):
        if not _running(child):
            break
        time.sleep(0.02)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the daemon outlived the process that started it")
