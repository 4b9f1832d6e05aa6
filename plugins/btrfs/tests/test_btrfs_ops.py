"""btrfs operations beyond the shared suite: diff, add device + convert profile (balance job),
device removal rules, and incremental send/receive between two pools."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sigmavault.testing import wait_job

pytestmark = pytest.mark.root
API = "/api/v1/storage"


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True}}


async def ok(resp, status=200):
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


async def single_pool(client, name, device):
    return await ok(await client.post(f"{API}/pools", json={
        "name": name, "backend": "btrfs", "topology": {"layout": "single"}, "devices": [device]}), 201)


async def destroy(client, name):
    resp = await client.delete(f"{API}/pools/{name}", params={"confirm": name})
    assert resp.status in (204, 404), await resp.text()


async def watch_percent(client, job_id, timeout):
    """The job's progress percents, read every 0.2 s while it runs."""
    seen: list[float] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        job = await ok(await client.get(f"/api/v1/jobs/{job_id}"))
        if job["state"] not in ("PENDING", "WAITING", "RUNNING"):
            return seen
        percent = (job.get("progress") or {}).get("percent")
        if percent is not None and (not seen or seen[-1] != percent):
            seen.append(percent)
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


async def test_diff_grow_convert_and_remove(client, loop_devices):
    a, b = loop_devices(2, size=4 << 30)  # sparse; smaller disks hit ENOSPC while converting
    await single_pool(client, "grow", a)
    try:
        vol = await ok(await client.post(f"{API}/pools/grow/volumes", json={"name": "v"}), 201)
        root = Path(vol["path"])
        (root / "keep.txt").write_text("k")
        (root / "old-name.txt").write_text("r")
        (root / "gone.txt").write_text("g")
        snaps = f"{API}/pools/grow/volumes/v/snapshots"
        await ok(await client.post(snaps, json={"name": "s1"}), 201)
        (root / "new.txt").write_text("n")
        (root / "gone.txt").unlink()
        os.rename(root / "old-name.txt", root / "new-name.txt")
        with open(root / "keep.txt", "a") as f:
            f.write("more")
        await ok(await client.post(snaps, json={"name": "s2"}), 201)
        diff = await ok(await client.get(f"{API}/pools/grow/volumes/v/diff",
                                         params={"old": "s1", "new": "s2"}))
        got = {d["path"]: (d["change"], d["old_path"]) for d in diff}
        assert got == {"new.txt": ("added", None), "gone.txt": ("deleted", None),
                       "new-name.txt": ("renamed", "old-name.txt"), "keep.txt": ("modified", None)}
        (root / "live.txt").write_text("l")
        live = await ok(await client.get(f"{API}/pools/grow/volumes/v/diff", params={"old": "s2"}))
        assert [(d["path"], d["change"]) for d in live] == [("live.txt", "added")]
        resp = await client.get(f"{API}/pools/grow/volumes/v/diff", params={"old": "nope"})
        assert resp.status == 404

        # grow: add a disk, convert data and metadata to raid1 as a job; with 1 GiB of data
        # the balance relocates several chunks over seconds and the job's percent rises
        bulk = root / "bulk.bin"
        block = os.urandom(1 << 20)
        with open(bulk, "wb") as f:
            for _ in range(1024):
                f.write(block)
        os.sync()
        pool = await ok(await client.patch(f"{API}/pools/grow", json={"add_devices": [b]}))
        assert sorted(d["path"] for d in pool["devices"]) == sorted([a, b])
        job = await ok(await client.post(f"{API}/pools/grow/balance", json={
            "data_profile": "raid1", "metadata_profile": "raid1"}), 202)
        percents = await watch_percent(client, job["id"], timeout=180)
        done = await wait_job(client, job["id"], timeout=60)
        assert done["state"] == "SUCCESS", done
        assert done["result"]["chunks_balanced"] >= 3, done["result"]
        assert len(set(percents)) >= 2 and percents == sorted(percents), percents
        assert 0 <= percents[0] < percents[-1] < 100, percents
        bulk.unlink()
        os.sync()
        pool = await ok(await client.get(f"{API}/pools/grow"))
        assert pool["layout"] == "raid1" and pool["properties"]["profiles"]["data"] == ["raid1"]
        resp = await client.post(f"{API}/pools/grow/balance", json={"data_profile": "raid1c3"})
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "too_few_devices"

        # removing a disk from a two-disk raid1 would break it: the job fails, nothing changes
        job = await ok(await client.post(f"{API}/pools/grow/devices/remove", json={"device": b}), 202)
        done = await wait_job(client, job["id"], timeout=60)
        assert done["state"] == "FAILED" and "needs 2" in done["error"]
        assert len((await ok(await client.get(f"{API}/pools/grow")))["devices"]) == 2
        # back to single, then the disk can go
        job = await ok(await client.post(f"{API}/pools/grow/balance", json={
            "data_profile": "single", "metadata_profile": "dup"}), 202)
        done = await wait_job(client, job["id"], timeout=120)
        assert done["state"] == "SUCCESS", done["error"]
        job = await ok(await client.post(f"{API}/pools/grow/devices/remove", json={"device": b}), 202)
        done = await wait_job(client, job["id"], timeout=120)
        assert done["state"] == "SUCCESS", done
        pool = await ok(await client.get(f"{API}/pools/grow"))
        assert [d["path"] for d in pool["devices"]] == [a]
        assert (root / "keep.txt").read_text() == "kmore"
    finally:
        await destroy(client, "grow")


async def test_incremental_send_receive_between_pools(client, sv_app, loop_devices, tmp_path):
    a, b = loop_devices(2)
    await single_pool(client, "src", a)
    await single_pool(client, "dst", b)
    try:
        vol = await ok(await client.post(f"{API}/pools/src/volumes", json={"name": "v"}), 201)
        (Path(vol["path"]) / "one.txt").write_text("1")
        await sv_app.call("storage.snapshot.create", pool="src", volume="v", name="s1")
        full = tmp_path / "s1.stream"
        sent = await sv_app.call("storage.snapshot.send", pool="src", volume="v", snapshot="s1",
                                 target=str(full))
        assert sent == {"bytes": full.stat().st_size, "format": "btrfs-send", "incremental": False}
        got = await sv_app.call("storage.snapshot.receive", pool="dst", volume="v",
                                source=str(full))
        assert got["name"] == "s1" and got["writable"] is False
        assert (Path(got["path"]) / "one.txt").read_text() == "1"
        dst_path = await sv_app.call("storage.volume.path", pool="dst", volume="v")
        assert (Path(dst_path) / "one.txt").read_text() == "1"

        (Path(vol["path"]) / "two.txt").write_text("2")
        await sv_app.call("storage.snapshot.create", pool="src", volume="v", name="s2")
        inc = tmp_path / "s2.stream"
        sent = await sv_app.call("storage.snapshot.send", pool="src", volume="v", snapshot="s2",
                                 target=str(inc), base="s1")
        assert sent["incremental"] is True and sent["bytes"] < full.stat().st_size + 4096
        got = await sv_app.call("storage.snapshot.receive", pool="dst", volume="v",
                                source=str(inc))
        assert (Path(got["path"]) / "two.txt").read_text() == "2"
        names = {s["name"] for s in await sv_app.call("storage.snapshot.list", pool="dst", volume="v")}
        assert names == {"s1", "s2"}
        assert not list(tmp_path.glob(".*.tmp"))
    finally:
        await destroy(client, "src")
        await destroy(client, "dst")
