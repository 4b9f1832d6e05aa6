"""Bootstrapping a cluster through the API: a job, daemons supervised by the daemon (a killed
OSD comes back), everything under the data dir with private keyrings, OSDs added on a loop
device and on a sparse file (jobs; bad devices refused with nothing created; the loop device
shown as an OSD in the disk inventory), a pool on it, and nothing left running once the daemon
stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from sigmavault.testing import require_root, require_tool, wait_job
from sigmavault.testing.backend_suite import API, error, ok

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
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True},
            "ceph": {"allow_bootstrap": True}}


async def add_osds(client, fsid: str, root: Path, loops, tmp_path: Path) -> None:
    """Bad requests answer 4xx naming the field and create nothing; a loop device and a sparse
    file become OSDs through jobs; the disk inventory shows the loop device as an OSD."""
    url = f"/api/v1/ceph/clusters/{fsid}/osds"
    begun = time.monotonic()
    [small, disk] = [loops(1, 256 << 20)[0], loops(1, 2 << 30)[0]]
    bad = [({}, 400, "device"), ({"device": "/nonexistent/sdz"}, 400, "device"),
           ({"device": "dev/sda"}, 400, "device"), ({"device": "/etc/hostname"}, 400, "device"),
           ({"device": small}, 400, "device"), ({"device": disk, "size": 2 << 30}, 400, "size"),
           ({"file": str(tmp_path / "o.img")}, 400, "size"),
           ({"file": "/etc/hostname", "size": 2 << 30}, 409, "file"),
           ({"size": 1 << 20}, 422, None), ({"bogus": 1}, 422, None)]
    for body, status, field in bad:
        resp = await client.post(url, json=body)
        err = (await resp.json())["error"]
        assert resp.status == status, (body, resp.status, err)
        if field:
            assert err["details"].get("field") == field, (body, err)
    assert (await client.post("/api/v1/ceph/clusters/nope/osds",
                              json={"size": 2 << 30})).status == 404
    assert len(await ok(await client.get(url))) == 1   # nothing half-created

    # a read-only device passes the checks but ceph-osd --mkfs fails: the job fails and undoes
    # what it made (the OSD id in the cluster, its conf section, data dir and record)
    conf_before = (root / "svb.conf").read_text()
    image = tmp_path / "readonly.img"
    with open(image, "wb") as f:
        f.truncate(2 << 30)
    loops.files.append(image)   # detached with the others
    readonly = subprocess.run(["losetup", "-r", "-f", "--show", str(image)], check=True,
                              capture_output=True, text=True).stdout.strip()
    job = await ok(await client.post(url, json={"device": readonly}), 202)
    done = await wait_job(client, job["id"], timeout=180)
    assert done["state"] == "FAILED" and done["error"], done
    assert len(await ok(await client.get(url))) == 1
    assert (root / "svb.conf").read_text() == conf_before
    assert sorted(p.name for p in (root / "osd").iterdir()) == ["svb-0"]
    assert json.loads((root / "sigmavault.json").read_text())["osds"] == [0]

    started = time.monotonic()
    job = await ok(await client.post(url, json={"device": disk}), 202)
    done = await wait_job(client, job["id"], timeout=180)
    assert done["state"] == "SUCCESS", done
    print(f"\nOSD on {disk}: {time.monotonic() - started:.1f} s")
    osd = done["result"]["osd"]
    file_ = tmp_path / "extra-osd.img"
    job = await ok(await client.post(url, json={"file": str(file_), "size": 2 << 30}), 202)
    done = await wait_job(client, job["id"], timeout=180)
    assert done["state"] == "SUCCESS", done
    assert file_.stat().st_size == 2 << 30 and file_.stat().st_blocks * 512 < (1 << 30)

    for _ in range(60):   # a new OSD's size and usage come with its next report to the mgr
        osds = {o["id"]: o for o in await ok(await client.get(url))}
        if all(o["size"] for o in osds.values()):
            break
        await asyncio.sleep(0.5)
    assert len(osds) == 3 and all(o["up"] and o["in"] and o["local"] for o in osds.values())
    assert osds[osd]["device"] == disk and osds[osd]["size"] == 2 << 30
    assert osds[done["result"]["osd"]]["device"] == str(file_)
    assert all(o["fsid"] == fsid and o["host"] and o["used"] > 0 for o in osds.values()), osds
    disks = {d["path"]: d for d in await ok(await client.get("/api/v1/storage/disks"))}
    role = disks[disk]["in_use_by"]
    assert disks[disk]["in_use"] and role["kind"] == "ceph_osd", disks[disk]
    assert role["cluster"] == fsid and role["osd"] == osd
    assert not disks[small]["in_use"]
    err = await error(await client.post(url, json={"device": disk}), 409, "device_in_use")
    assert err["details"]["field"] == "device"
    pgs = await ok(await client.get(f"/api/v1/ceph/clusters/{fsid}/pgs"))
    assert pgs["osds"] == {"total": 3, "up": 3, "in": 3}
    assert sum(pgs["states"].values()) == pgs["num_pgs"]
    print(f"OSD checks and two OSDs added: {time.monotonic() - begun:.1f} s")


async def test_bootstrap_job_supervised_daemons_and_a_pool(loop_devices, client, sv_app,
                                                           tmp_path):
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

    await add_osds(client, info["fsid"], root, loop_devices, tmp_path)

    name = "boot1"
    pool = await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "ceph", "options": {"size": 1}}), 201)
    assert pool["state"] == "online" and pool["mountpoint"].startswith(str(sv_app.data_dir))
    vol = await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "v"}), 201)
    Path(vol["path"], "hello.txt").write_text("hello ceph")
    await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)
