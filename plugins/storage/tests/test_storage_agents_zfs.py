"""DELTA and MIRROR on real ZFS (zfs-fuse, pools on loop devices). The daemon and loop-device
fixtures are the zfs plugin's own test fixtures (its conftest, loaded as test code)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sigmavault.testing as svt

pytestmark = pytest.mark.root
HERE = Path(__file__).parent


h = svt.load_module(HERE / "storage_agents_helpers.py")
_zfs_conftest = HERE.parents[1] / "zfs" / "tests" / "conftest.py"
if _zfs_conftest.is_file():
    try:
        _zc = svt.load_module(_zfs_conftest, "zfs_plugin_conftest")
        zfs_daemon, loop_devices, unique = _zc.zfs_daemon, _zc.loop_devices, _zc.unique
    except ImportError:          # the zfs plugin is not installed
        _zc = None
else:
    _zc = None


@pytest.fixture
def sv_config_overrides(tmp_path):
    return h.overrides(tmp_path, "sigmavault-zfs", storage={"include_loop_devices": True}, zfs={"mount_root": str(tmp_path / "zfsmnt")})


@pytest.fixture
def zfs_loops(request):
    if _zc is None:
        (pytest.fail if svt.IN_CI else pytest.skip)("the zfs plugin and its tests are needed")
    return request.getfixturevalue("loop_devices")


async def test_zfs_delta_and_incremental_mirror(client, sv_app, zfs_loops):
    a, b = await zfs_loops(2)
    src, dst = unique("as"), unique("ad")
    for name, dev in ((src, a), (dst, b)):
        await h.pool(client, name, {"name": name, "backend": "zfs", "topology": {"layout": "stripe"},
                                    "devices": [dev]})
    root = await h.volume(client, src, "data")
    (root / "a.txt").write_text("one")
    (root / "gone.txt").write_text("bye")
    await h.snap(client, src, "data", "s1")
    (root / "a.txt").write_text("one two")
    (root / "gone.txt").unlink()
    (root / "new.bin").write_bytes(os.urandom(1500))
    await h.snap(client, src, "data", "s2")
    (root / "third.txt").write_text("3")
    await h.snap(client, src, "data", "s3")
    d = (await h.task(client, "DELTA", {"pool": src, "volume": "data", "old": "s1", "new": "s2"}))["result"]
    assert d["method"] == "backend" and d["backend"] == "zfs"
    assert {("a.txt", "modified"), ("gone.txt", "deleted"), ("new.bin", "added")} <= \
        {(c["path"], c["change"]) for c in d["changes"]}
    m = (await h.task(client, "MIRROR", {"pool": src, "volume": "data", "target_pool": dst}))["result"]
    assert m["method"] == "native" and [x["snapshot"] for x in m["sent"]] == ["s1", "s2", "s3"]
    assert [x["incremental"] for x in m["sent"]] == [False, True, True]
    for name in ("s1", "s2", "s3"):
        x = Path(await sv_app.call("storage.snapshot.path", pool=src, volume="data", snapshot=name))
        y = Path(await sv_app.call("storage.snapshot.path", pool=dst, volume="data", snapshot=name))
        assert h.tree(x) == h.tree(y), name
