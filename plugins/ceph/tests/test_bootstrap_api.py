"""Bootstrapping a cluster through the API: a job, daemons supervised by the daemon (a killed
OSD comes back), everything under the data dir with private keyrings, a pool on it, and nothing
left running once the daemon stops."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from sigmavault.testing import require_root, require_tool, wait_job
from sigmavault.testing.backend_suite import API, ok

pytestmark = pytest.mark.root


@pytest.fixture
def no_leftovers(tmp_path):
    """Torn down after ``sv_app``: no process may still use the temporary directory."""
    require_root()
    require_tool("ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph-fuse")
    yield
    deadline = time.monotonic() + 30
    while True:
        out = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True,
                             check=False).stdout.split()
        if not out or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for pid in out:   # our own children only (their argv names our temporary directory)
        os.kill(int(pid), signal.SIGKILL)
    assert not out, f"processes left running: {out}"


@pytest.fixture
def sv_config_overrides(no_leftovers):
    return {"storage": {"monitor_interval": 0}, "ceph": {"allow_bootstrap": True}}


async def test_bootstrap_job_supervised_daemons_and_a_pool(client, sv_app):
    started = time.monotonic()
    job = await ok(await client.post("/api/v1/ceph/clusters/bootstrap", json={
        "name": "svb", "osds": 1, "osd_size": 2 << 30, "mds": 1}), 202)
    done = await wait_job(client, job["id"], timeout=240)
    assert done["state"] == "SUCCESS", done
    print(f"\nbootstrap job: {time.monotonic() - started:.1f} s "
          f"(cluster {done['result']['seconds']} s)")
    root = Path(sv_app.data_dir) / "ceph" / "svb"
    assert done["result"]["root"] == str(root)
    [info] = await ok(await client.get("/api/v1/ceph/clusters"))
    assert info["source"] == "bootstrapped" and info["osds_up"] == 1
    assert set(info["daemons"]) == {"mon.a", "mgr.x", "osd.0", "mds.m0"}
    assert all(info["daemons"].values()), info["daemons"]
    keyrings = [p for p in root.rglob("*keyring")]
    assert keyrings and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keyrings), [
        (str(p), oct(p.stat().st_mode)) for p in keyrings]
    conf = (root / "svb.conf").read_text()
    for key in ("run dir", "admin socket", "log file", "osd data", "bluestore block path"):
        line = next(ln for ln in conf.splitlines() if ln.startswith(key))
        assert str(root) in line, line
    assert (root / "disks" / "svb-0.img").stat().st_blocks * 512 < (2 << 30)   # sparse
    await ok(await client.post("/api/v1/ceph/clusters/bootstrap", json={"name": "svb"}), 409)

    # a killed OSD is started again by its supervisor
    old = info["daemons"]["osd.0"]
    os.kill(old, signal.SIGKILL)
    for _ in range(100):
        await asyncio.sleep(0.2)
        now = (await ok(await client.get("/api/v1/ceph/clusters")))[0]
        if now["daemons"]["osd.0"] not in (None, old) and now["osds_up"] == 1:
            break
    else:
        pytest.fail(f"osd.0 not back: {now}")

    name = "boot1"
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "ceph", "options": {"size": 1}}), 201)
    assert pool["state"] == "online" and pool["mountpoint"].startswith(str(sv_app.data_dir))
    vol = await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "v"}), 201)
    Path(vol["path"], "hello.txt").write_text("hello ceph")
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)
