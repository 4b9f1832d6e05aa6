"""The backend-agnostic API suite on the built-in ``dir`` backend, plus dir-specific checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmavault.testing import backend_suite

ok, error, API = backend_suite.ok, backend_suite.error, backend_suite.API


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0}}


class TestDirBackendApi(backend_suite.BackendSuite):
    @pytest.fixture
    def pool_body(self):
        return lambda name: {"name": name, "backend": "dir"}


async def test_dir_pool_takes_no_devices_or_layout(client):
    await error(await client.post(f"{API}/pools", json={"name": "x", "backend": "dir",
                                                        "topology": {"layout": "raid1"}}), 400)
    assert "x" not in [p["name"] for p in await ok(await client.get(f"{API}/pools"))]


async def test_dir_snapshot_is_point_in_time_by_default(client, sv_app):
    await ok(await client.post(f"{API}/pools", json={"name": "tank"}), 201)
    vol = await ok(await client.post(f"{API}/pools/tank/volumes", json={"name": "v"}), 201)
    big = Path(vol["path"]) / "big.bin"
    big.write_bytes(b"x" * 1_000_000)
    snap = await ok(await client.post(f"{API}/pools/tank/volumes/v/snapshots", json={"name": "s"}), 201)
    assert snap["properties"]["method"] in ("reflink", "copy")
    pool = await ok(await client.get(f"{API}/pools/tank"))
    assert pool["properties"]["snapshot_method"] == snap["properties"]["method"]
    copy = Path(snap["path"]) / "big.bin"
    assert copy.read_bytes() == big.read_bytes() and copy.stat().st_ino != big.stat().st_ino
    with big.open("r+b") as f:   # an in-place edit of the live file (as SMB and databases do)
        f.write(b"EDITED")
    assert copy.read_bytes() == b"x" * 1_000_000
    big.unlink()   # deleting in the volume leaves the snapshot intact
    assert copy.stat().st_size == 1_000_000
    # volumes with snapshots cannot be deleted; pools can, with confirmation
    await error(await client.delete(f"{API}/pools/tank/volumes/v"), 409, "volume_has_snapshots")
    await ok(await client.delete(f"{API}/pools/tank", params={"confirm": "tank"}), 204)
    assert not Path(vol["path"]).exists()


@pytest.mark.parametrize("sv_config_overrides",
                         [{"storage": {"monitor_interval": 0, "dir_snapshot_mode": "hardlink"}}])
async def test_dir_hardlink_snapshots_only_when_configured(client):
    await ok(await client.post(f"{API}/pools", json={"name": "tank"}), 201)
    vol = await ok(await client.post(f"{API}/pools/tank/volumes", json={"name": "v"}), 201)
    live = Path(vol["path"]) / "f.txt"
    live.write_text("one")
    snap = await ok(await client.post(f"{API}/pools/tank/volumes/v/snapshots", json={"name": "s"}), 201)
    assert snap["properties"]["method"] == "hardlink"
    assert (Path(snap["path"]) / "f.txt").stat().st_ino == live.stat().st_ino   # no data copied
    live.unlink()
    live.write_text("two")   # replaced, not edited: the snapshot keeps the old file
    assert (Path(snap["path"]) / "f.txt").read_text() == "one"
    await ok(await client.delete(f"{API}/pools/tank", params={"confirm": "tank"}), 204)


async def test_send_receive_tar_stream(client, sv_app, tmp_path):
    await ok(await client.post(f"{API}/pools", json={"name": "src"}), 201)
    vol = await ok(await client.post(f"{API}/pools/src/volumes", json={"name": "v"}), 201)
    (Path(vol["path"]) / "f.txt").write_text("payload")
    await ok(await client.post(f"{API}/pools/src/volumes/v/snapshots", json={"name": "s1"}), 201)
    stream = tmp_path / "v.tar"
    sent = await sv_app.call("storage.snapshot.send", pool="src", volume="v", snapshot="s1",
                             target=str(stream))
    assert sent["format"] == "tar" and sent["bytes"] == stream.stat().st_size > 0
    await ok(await client.post(f"{API}/pools", json={"name": "dst"}), 201)
    got = await sv_app.call("storage.snapshot.receive", pool="dst", volume="v", source=str(stream),
                            snapshot="s1")
    assert (Path(got["path"]) / "f.txt").read_text() == "payload"
    path = await sv_app.call("storage.volume.path", pool="dst", volume="v")
    assert (Path(path) / "f.txt").read_text() == "payload"
