"""DELTA, STREAM, MIRROR and ARCHITECT on real btrfs pools (sparse files on loop devices)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigmavault.testing import load_module, require_tool

h = load_module(Path(__file__).with_name("storage_agents_helpers.py"))

pytestmark = pytest.mark.root


@pytest.fixture
def sv_config_overrides(tmp_path):
    return h.overrides(tmp_path, "sigmavault-btrfs", storage={"include_loop_devices": True})


async def btrfs_pool(client, name: str, device: str) -> None:
    await h.pool(client, name, {"name": name, "backend": "btrfs", "topology": {"layout": "single"},
                                "devices": [device]})


async def destroy(client, *names: str) -> None:
    for name in names:
        resp = await client.delete(f"{h.API}/pools/{name}", params={"confirm": name})
        assert resp.status in (204, 404), await resp.text()


async def test_btrfs_delta_stream_mirror(client, sv_app, loop_devices, tmp_path):
    require_tool("mkfs.btrfs", "btrfs")
    a, b = loop_devices(2)
    await btrfs_pool(client, "bsrc", a)
    await btrfs_pool(client, "bdst", b)
    try:
        root = await h.volume(client, "bsrc", "data")
        (root / "a.txt").write_text("one")
        (root / "gone.txt").write_text("bye")
        await h.snap(client, "bsrc", "data", "s1")
        with open(root / "a.txt", "a") as f:
            f.write(" more")
        (root / "gone.txt").unlink()
        (root / "new.bin").write_bytes(os.urandom(2000))
        await h.snap(client, "bsrc", "data", "s2")
        (root / "third.txt").write_text("3")
        await h.snap(client, "bsrc", "data", "s3")

        d = (await h.task(client, "DELTA", {"pool": "bsrc", "volume": "data", "old": "s1", "new": "s2"}))["result"]
        assert d["method"] == "backend" and d["backend"] == "btrfs"
        changes = {(c["path"], c["change"]) for c in d["changes"]}
        assert {("a.txt", "modified"), ("gone.txt", "deleted"), ("new.bin", "added")} <= changes
        t = (await h.task(client, "DELTA", {"pool": "bsrc", "volume": "data", "old": "s1", "new": "s2",
                                            "method": "tree"}))["result"]
        assert {(c["path"], c["change"]) for c in t["changes"]} == \
            {("a.txt", "modified"), ("gone.txt", "deleted"), ("new.bin", "added")}

        s = (await h.task(client, "STREAM", {"pool": "bsrc", "volume": "data", "snapshot": "s2",
                                             "base": "s1"}))["result"]
        assert s["format"] == "btrfs-send" and s["incremental"] and len(s["sha256"]) == 64

        m = (await h.task(client, "MIRROR", {"pool": "bsrc", "volume": "data", "target_pool": "bdst"}))["result"]
        assert m["method"] == "native" and [x["snapshot"] for x in m["sent"]] == ["s1", "s2", "s3"]
        assert [x["incremental"] for x in m["sent"]] == [False, True, True]
        for name in ("s1", "s2", "s3"):
            src = Path(await sv_app.call("storage.snapshot.path", pool="bsrc", volume="data", snapshot=name))
            dst = Path(await sv_app.call("storage.snapshot.path", pool="bdst", volume="data", snapshot=name))
            assert h.tree(src) == h.tree(dst), name
        again = (await h.task(client, "MIRROR", {"pool": "bsrc", "volume": "data", "target_pool": "bdst"}))["result"]
        assert again["up_to_date"]
        # across backends: btrfs → dir by changed-file copy
        await h.pool(client, "dcopy")
        c = (await h.task(client, "MIRROR", {"pool": "bsrc", "volume": "data", "target_pool": "dcopy"}))["result"]
        assert c["method"] == "copy" and [x["snapshot"] for x in c["sent"]] == ["s1", "s2", "s3"]
        for name in ("s1", "s2", "s3"):
            src = Path(await sv_app.call("storage.snapshot.path", pool="bsrc", volume="data", snapshot=name))
            dst = Path(await sv_app.call("storage.snapshot.path", pool="dcopy", volume="data", snapshot=name))
            assert h.tree(src) == h.tree(dst), name
    finally:
        await destroy(client, "bsrc", "bdst", "dcopy")


async def test_architect_on_unused_loop_disks(client, sv_app, loop_devices):
    devs = loop_devices(3)
    names = [os.path.basename(d) for d in devs]
    r = (await h.task(client, "ARCHITECT", {"disks": names, "backends": ["btrfs"]}))["result"]
    by = {c["layout"]: c for c in r["candidates"]}
    size = 256 << 20
    assert by["raid1"]["failures_tolerated"] == 1 and by["raid1c3"]["failures_tolerated"] == 2
    assert abs(by["raid1"]["usable"] - 3 * size // 2) <= 3 * (1 << 20)
    assert abs(by["raid1c3"]["usable"] - size) <= 3 * (1 << 20)
    assert by["raid0"]["usable"] == by["single"]["usable"] and by["raid0"]["failures_tolerated"] == 0
    assert "raid10" not in by                      # four devices needed
    await btrfs_pool(client, "used", devs[0])
    try:
        resp = await client.post("/api/v1/agents/ARCHITECT/task", json={"params": {"disks": names}})
        body = await resp.json()
        if resp.status == 202:   # a busy disk is refused when the task runs
            from sigmavault.testing import wait_job
            job = await wait_job(client, body["id"], 30)
            assert job["state"] == "FAILED" and "in use" in job["error"]
        else:
            assert resp.status == 400
    finally:
        await destroy(client, "used")
