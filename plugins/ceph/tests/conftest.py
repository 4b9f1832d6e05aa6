"""One Ceph cluster for every test of this directory, bootstrapped by the plugin's own
``sigmavault_ceph.bootstrap`` (2 BlueStore OSDs on sparse files, 2 MDS daemons) and torn down
at the end: daemons stopped, ceph-fuse mounts gone, files removed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sigmavault.testing import load_module, require_root, require_tool

OSDS = load_module(Path(__file__).with_name("cephtest.py")).OSDS


@pytest.fixture(scope="session")
def ceph_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running cluster (``LocalCluster``): ``.conf``, ``.admin_keyring``, ``.cli()``."""
    require_root()
    require_tool("ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph-fuse",
                 "ceph-authtool", "monmaptool", "rsync")
    from sigmavault_ceph.bootstrap import Spec, bootstrap
    root = tmp_path_factory.mktemp("ceph") / "svtest"
    started = time.monotonic()
    cluster = asyncio.run(bootstrap(root, Spec(name="svtest", osds=OSDS, mds=2,
                                               osd_size=4 << 30), supervised=False))
    cluster.meta["fixture_seconds"] = round(time.monotonic() - started, 1)
    print(f"\nceph cluster bootstrapped in {cluster.meta['fixture_seconds']} s")
    _running.append((cluster, root))
    try:
        yield cluster
    finally:
        _stop_cluster()


_running: list[tuple[Any, Path]] = []
HERE = Path(__file__).parent


def _stop_cluster() -> None:
    while _running:
        cluster, root = _running.pop()
        asyncio.run(cluster.stop())
        leftovers = [d.pid for d in cluster.daemons.values() if d.pid]
        shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, leftovers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Stop the session cluster once the last test of this directory is torn down, so that it
    does not idle (~550 MB) through the rest of a whole-project run."""
    try:
        return (yield)
    finally:
        if _running and (nextitem is None or HERE not in Path(str(nextitem.path)).parents):
            _stop_cluster()


def unmount_under(root: Path) -> None:
    """Unmount anything a failed test left mounted under ``root``."""
    with open("/proc/self/mountinfo") as f:
        points = [ln.split()[4] for ln in f]
    for p in sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True):
        if subprocess.run(["umount", p], capture_output=True).returncode:
            subprocess.run(["umount", "-l", p], capture_output=True)


@pytest.fixture
def sv_config_overrides(ceph_cluster, tmp_path):
    yield {"storage": {"monitor_interval": 0, "scrub_poll_interval": 0.2},
           "ceph": {"conf": str(ceph_cluster.conf), "keyring": str(ceph_cluster.admin_keyring),
                    "client_id": "admin"}}
    unmount_under(tmp_path)
