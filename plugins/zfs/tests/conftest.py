"""Real ZFS for the tests: the zfs-fuse daemon (started here only if nothing answers, and then
stopped again), loop devices on sparse files, and pools destroyed after each test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from sigmavault.commands import run
from sigmavault.testing import require, require_root, require_tool
from sigmavault_zfs import daemon


@pytest.fixture(scope="session")
def zfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[daemon.DaemonHandle]:
    """A ZFS that answers ``zpool``; stopped at the end only if this fixture started it."""
    require_root()
    require_tool("zpool", "zfs", "losetup")
    pidfile = tmp_path_factory.mktemp("zfs-fuse") / "zfs-fuse.pid"
    try:
        handle = asyncio.run(daemon.ensure_running(str(pidfile)))
    except RuntimeError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"ZFS is needed in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    yield handle
    asyncio.run(daemon.stop(handle))


def unique(stem: str = "t") -> str:
    """A pool/volume name no other test uses."""
    return f"svt{stem}{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def loop_devices(tmp_path: Path, zfs_daemon: daemon.DaemonHandle
                       ) -> AsyncIterator[Callable[..., Awaitable[list[str]]]]:
    """``await loop_devices(n)`` → n loop devices on sparse 128 MiB files.

    Teardown destroys every pool that uses one of them (even exported ones are only labels on the
    files), then detaches the devices.
    """
    made: list[tuple[str, Path]] = []

    async def make(n: int, size: int = 128 << 20) -> list[str]:
        out = []
        for _ in range(n):
            backing = tmp_path / f"vdev{len(made)}.img"
            with open(backing, "wb") as f:
                f.truncate(size)
            dev = (await run(["losetup", "-f", "--show", str(backing)])).stdout.strip()
            made.append((dev, backing))
            out.append(dev)
        return out

    make.backing = lambda dev: dict(made)[dev]  # type: ignore[attr-defined]
    try:
        yield make
    finally:
        devs = {d for d, _ in made}
        listing = await run(["zpool", "list", "-H", "-o", "name"], check=False)
        for name in listing.stdout.split():
            status = await run(["zpool", "status", name], check=False)
            used = {("/dev/" + w) if not w.startswith("/") else w for w in status.stdout.split()}
            if used & devs:
                for attempt in range(10):  # zfs-fuse says "pool is busy" for a moment after unmounts
                    if (await run(["zpool", "destroy", "-f", name], check=False, timeout=120)).ok:
                        break
                    await asyncio.sleep(0.3 * (attempt + 1))
        for dev, _ in made:
            await run(["losetup", "-d", dev], check=False)


@pytest.fixture
def backend(tmp_path: Path, zfs_daemon: daemon.DaemonHandle) -> Any:
    """A ZfsBackend mounting pools under the test's temporary directory."""
    from sigmavault_zfs.backend import ZfsBackend

    b = ZfsBackend()
    b.mount_root = str(tmp_path / "mnt")
    return b


@pytest.fixture
def zfs_cpu_limited(zfs_daemon: daemon.DaemonHandle) -> Callable[[int], Any]:
    """``with zfs_cpu_limited(10): …`` — see :func:`_cpu_limited`."""
    return _cpu_limited


@contextlib.contextmanager
def _cpu_limited(percent: int) -> Iterator[None]:
    """Run the zfs-fuse daemon on ``percent`` % of one CPU meanwhile (a cgroup v1 CPU quota on
    all its threads): an idle machine scrubs 96 MiB in less than one status poll, a slow NAS does
    not, and progress is what the test looks at."""
    cpu = Path("/sys/fs/cgroup/cpu")
    require((cpu / "cpu.cfs_quota_us").is_file(), "cgroup v1 cpu controller (cpu.cfs_quota_us)")
    pids = [int(p) for p in subprocess.run(["pgrep", "-x", "zfs-fuse"], capture_output=True,
                                           text=True).stdout.split()]
    assert pids, "zfs-fuse is not running"
    group = cpu / f"sigmavault-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    threads = [t.name for pid in pids for t in Path(f"/proc/{pid}/task").iterdir()]
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(1000 * percent))
        for tid in threads:
            (group / "tasks").write_text(tid)
        yield
    finally:
        for tid in (group / "tasks").read_text().split():
            with contextlib.suppress(OSError):   # a thread that ended meanwhile
                (cpu / "tasks").write_text(tid)
        group.rmdir()
