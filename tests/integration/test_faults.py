"""Fault tests against a real daemon: SIGKILL during a compression job, an encryption job and a
btrfs scrub; a backend command that hangs; a full disk under a compression job.

After each crash the daemon is restarted on the same data dir and must show: the job ABORTED with
``interrupted: true``, no file at the target path unless it is complete and valid, and an intact
SQLite database (``PRAGMA integrity_check``).
"""

from __future__ import annotations

import asyncio
import lzma
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from sigmavault.files import TEMP_MARK
from sigmavault.testing import Daemon, api_call, require, require_root, require_tool, wait_job

pytestmark = pytest.mark.root


def config(area: Path, **storage: Any) -> str:
    st = {"monitor_interval": 0, "smart_interval": 0, "scrub_poll_interval": 0.2, **storage}
    lines = [f'[compression]\nallowed_roots = ["{area}"]\n',
             f'[encryption]\nallowed_roots = ["{area}"]\nscrypt_log_n = 10\n',
             f'[agents]\nallowed_roots = ["{area}"]\n', "[storage]"]
    for k, v in st.items():
        lines.append(f"{k} = {str(v).lower() if isinstance(v, bool) else v}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def area(tmp_path: Path) -> Path:
    a = tmp_path / "area"
    a.mkdir()
    return a


async def wait_running(session: Any, job_id: str, timeout: float = 30,
                       progress: bool = True) -> dict[str, Any]:
    """Poll until the job is RUNNING (and has made progress) so that a kill lands mid-job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await api_call(session, "GET", f"/jobs/{job_id}", 200)
        assert job["state"] in ("WAITING", "RUNNING"), f"job ended before the kill: {job}"
        if job["state"] == "RUNNING" and (not progress or job["progress"]["bytes_done"]
                                          or job["progress"]["percent"]):
            return job
        await asyncio.sleep(0.05)
    pytest.fail(f"job {job_id} never made progress")


def db_intact(d: Daemon) -> None:
    conn = sqlite3.connect(d.data_dir / "sigmavault.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


async def crash_and_restart(d: Daemon, job_id: str) -> dict[str, Any]:
    """SIGKILL the daemon, start it again, return the job as the new daemon reports it."""
    d.kill()
    d.start(timeout=60)
    async with d.session() as s:
        job = await api_call(s, "GET", f"/jobs/{job_id}", 200)
    assert job["state"] == "ABORTED" and job["interrupted"] is True, job
    assert "interrupted" in (job["error"] or "")
    db_intact(d)
    return job


def strays(folder: Path, allowed: set[str]) -> list[str]:
    """Entries that are neither expected nor a hidden temporary name of the core's atomic_write."""
    return [p.name for p in folder.iterdir() if p.name not in allowed and TEMP_MARK not in p.name]


# --- kill -9 during jobs ---------------------------------------------------------------------


async def test_kill_during_compression_job(sv_daemon, area: Path) -> None:
    d = sv_daemon(config(area))
    src = area / "big.bin"
    data = os.urandom(24 << 20)  # incompressible: xz -9 needs seconds for it
    src.write_bytes(data)
    target = area / "big.bin.xz"
    async with d.session() as s:
        job = await api_call(s, "POST", "/compression/jobs", 202, json={
            "operation": "compress", "source": str(src), "target": str(target), "codec": "xz",
            "level": 9, "threads": 1})
        await wait_running(s, job["id"])
    await crash_and_restart(d, job["id"])
    assert src.read_bytes() == data, "the source changed"
    if target.exists():  # only acceptable when complete
        assert lzma.decompress(target.read_bytes()) == data
    assert strays(area, {src.name, target.name}) == []
    # the compression plugin sweeps the temporaries of jobs a crash interrupted at start-up
    assert [p.name for p in area.iterdir() if TEMP_MARK in p.name] == []
    # the daemon works again: the same job now runs to the end
    async with d.session() as s:
        job = await api_call(s, "POST", "/compression/jobs", 202, json={
            "operation": "compress", "source": str(src), "target": str(target), "codec": "zstd",
            "level": 1, "overwrite": True})
        assert (await wait_job(s, job["id"], timeout=60))["state"] == "SUCCESS"
    assert target.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"


async def test_kill_during_encryption_job(sv_daemon, area: Path) -> None:
    require_tool("age")
    d = sv_daemon(config(area))
    src = area / "big.img"
    with open(src, "wb") as f:  # sparse: large without costing disk space for the source
        f.truncate(1536 << 20)
        f.seek(0)
        f.write(os.urandom(1 << 20))
    target = area / "big.img.age"
    identity = area.parent / "id.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in identity.read_text().splitlines()
                     if line.startswith("# public key"))
    async with d.session() as s:
        job = await api_call(s, "POST", "/encryption/jobs/encrypt", 202, json={
            "source": {"path": str(src)}, "target": {"path": str(target)}, "recipients": [recipient]})
        await wait_running(s, job["id"])
    await crash_and_restart(d, job["id"])
    if target.exists():  # only acceptable when complete: the age CLI must open it
        out = subprocess.run(["age", "-d", "-i", str(identity), str(target)], capture_output=True)
        assert out.returncode == 0 and len(out.stdout) == src.stat().st_size
    assert strays(area, {src.name, target.name}) == []
    # the encryption plugin sweeps the temporaries of jobs a crash interrupted at start-up
    assert [p.name for p in area.iterdir() if TEMP_MARK in p.name] == []


# --- a btrfs pool on loop devices: kill during a scrub, a hanging backend command ----------------


def _sh(*argv: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


def scrub_speed_limit(mountpoint: str, bytes_per_s: int) -> None:
    """Throttle the kernel's scrub of this filesystem so that a kill lands mid-scrub."""
    uuid = _sh("findmnt", "-n", "-o", "UUID", mountpoint, check=True).stdout.strip()
    limits = list(Path(f"/sys/fs/btrfs/{uuid}/devinfo").glob("*/scrub_speed_max"))
    require(bool(limits), "kernel without scrub_speed_max (btrfs sysfs)")
    for p in limits:
        p.write_text(str(bytes_per_s))


async def test_kill_during_scrub(loop_devices, sv_daemon, area: Path) -> None:
    (dev,) = loop_devices(1, 512 << 20)
    d = sv_daemon(config(area, include_loop_devices=True))
    async with d.session() as s:
        pool = await api_call(s, "POST", "/storage/pools", 201, json={
            "name": "faulty", "backend": "btrfs", "topology": {"layout": "single"}, "devices": [dev]})
        try:
            await api_call(s, "POST", "/storage/pools/faulty/volumes", 201, json={"name": "v"})
            vol = Path(pool["mountpoint"]) / "v"
            payload = os.urandom(1 << 20)
            for i in range(48):
                (vol / f"f{i}").write_bytes(payload)
            os.sync()
            scrub_speed_limit(pool["mountpoint"], 8 << 20)  # ~6 s for the data
            job = await api_call(s, "POST", "/storage/pools/faulty/scrub", 202)
            await wait_running(s, job["id"], progress=False)
            await asyncio.sleep(1)
            assert (await api_call(s, "GET", f"/jobs/{job['id']}", 200))["state"] == "RUNNING"
            await crash_and_restart(d, job["id"])
            async with d.session() as s2:
                # the kernel's scrub outlives the daemon; once it ends a new one runs to the end
                scrub_speed_limit(pool["mountpoint"], 0)
                deadline = time.monotonic() + 30
                while True:
                    st = await api_call(s2, "GET", "/storage/pools/faulty/scrub", 200)
                    if st.get("state") in ("finished", "canceled") or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
                job2 = await api_call(s2, "POST", "/storage/pools/faulty/scrub", 202)
                done = await wait_job(s2, job2["id"], timeout=60)
                assert done["state"] == "SUCCESS", done
                health = await api_call(s2, "GET", "/storage/pools/faulty/health", 200)
                assert health["state"] == "online", health
                assert all((vol / f"f{i}").read_bytes() == payload for i in range(48))
        finally:
            async with d.session() as s3:
                await api_call(s3, "DELETE", "/storage/pools/faulty", params={"confirm": "faulty"})


def fake_tool(folder: Path, name: str) -> Path:
    """A program called ``name`` that never answers (the way a wedged disk makes smartctl hang)."""
    folder.mkdir(exist_ok=True)
    p = folder / name
    p.write_text('#!/bin/sh\necho $$ >> "$(dirname "$0")/pids"\nexec sleep 600\n')
    p.chmod(0o755)
    return folder


async def test_hanging_backend_command_times_out(loop_devices, sv_daemon, area: Path, tmp_path: Path) -> None:
    (dev,) = loop_devices(1, 16 << 20)
    bin_dir = fake_tool(tmp_path / "bin", "smartctl")
    d = sv_daemon(config(area, include_loop_devices=True, smart_timeout=2),
                    env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    disk = os.path.basename(dev)
    async with d.session() as s:
        started = time.monotonic()
        body = await api_call(s, "GET", f"/storage/disks/{disk}/smart", 504)
        elapsed = time.monotonic() - started
        assert body["error"]["code"] == "command_timeout", body
        assert "smartctl" in body["error"]["message"] and "2 s" in body["error"]["message"], body
        assert elapsed < 15, elapsed
        # the same hang inside a job: FAILED with the same clear message, lock released
        job = await api_call(s, "POST", f"/storage/disks/{disk}/smart/test", 202, json={"type": "short"})
        done = await wait_job(s, job["id"], timeout=60)
        assert done["state"] == "FAILED" and "did not finish within 2 s" in done["error"], done
        assert (await api_call(s, "GET", "/health", 200))
    # every hung smartctl was killed (and reaped): none is left behind
    pids = [int(x) for x in (bin_dir / "pids").read_text().split()]
    assert len(pids) >= 2
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []


# --- a full disk under a compression job ---------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB ext4 on a loop device, mounted under the test's tmp dir."""
    require_root()
    require_tool("mkfs.ext4", "mount", "umount")
    img, mnt = tmp_path / "small.img", tmp_path / "small"
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    _sh("mkfs.ext4", "-q", "-F", "-m", "0", str(img), check=True)
    mnt.mkdir()
    _sh("mount", "-o", "loop", str(img), str(mnt), check=True)
    try:
        yield mnt
    finally:
        for _ in range(50):  # a process may still be closing files on it
            if _sh("umount", str(mnt)).returncode == 0 or not os.path.ismount(mnt):
                break
            time.sleep(0.1)
        else:
            _sh("umount", "-l", str(mnt))
        img.unlink(missing_ok=True)


async def test_full_disk_fails_cleanly(small_fs: Path, sv_daemon, area: Path) -> None:
    d = sv_daemon(config(area).replace(f'[compression]\nallowed_roots = ["{area}"]',
                                         f'[compression]\nallowed_roots = ["{area}", "{small_fs}"]'))
    src = area / "random.bin"
    src.write_bytes(os.urandom(32 << 20))  # incompressible, twice the filesystem's size
    target = small_fs / "random.bin.zst"
    async with d.session() as s:
        job = await api_call(s, "POST", "/compression/jobs", 202, json={
            "operation": "compress", "source": str(src), "target": str(target), "codec": "zstd",
            "level": 1})
        done = await wait_job(s, job["id"], timeout=60)
    assert done["state"] == "FAILED", done
    assert "No space left on device" in done["error"], done["error"]
    assert not target.exists()
    assert [p.name for p in small_fs.iterdir() if p.name != "lost+found"] == [], "partial output left"
    db_intact(d)
