"""The file browser (``GET …/volumes/{volume}/files`` and ``…/snapshots/{snapshot}/files``) and
restores that keep the originals' modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sigmavault.testing import backend_suite

ok, error, API = backend_suite.ok, backend_suite.error, backend_suite.API


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0}}


async def _volume(client) -> Path:
    await ok(await client.post(f"{API}/pools", json={"name": "tank"}), 201)
    vol = await ok(await client.post(f"{API}/pools/tank/volumes", json={"name": "v"}), 201)
    return Path(vol["path"])


async def test_lists_folders_first_then_names(client):
    root = await _volume(client)
    (root / "b.txt").write_text("hello")
    (root / "A.txt").write_text("x")
    (root / "zdir").mkdir()
    (root / "adir").mkdir()
    (root / "adir" / "inner.bin").write_bytes(b"12345678")
    os.chmod(root / "b.txt", 0o640)
    (root / "link").symlink_to("b.txt")
    page = await ok(await client.get(f"{API}/pools/tank/volumes/v/files"))
    assert [e["name"] for e in page["items"]] == ["adir", "zdir", "A.txt", "b.txt", "link"]
    assert page["path"] == "" and page["parent"] is None and page["total"] == 5
    b = page["items"][3]
    assert b == {"name": "b.txt", "path": "b.txt", "type": "file", "size": 5, "mode": "0640",
                 "mtime": b["mtime"]}
    assert b["mtime"].endswith("+00:00")
    assert page["items"][4]["type"] == "symlink"
    sub = await ok(await client.get(f"{API}/pools/tank/volumes/v/files", params={"path": "adir"}))
    assert sub["path"] == "adir" and sub["parent"] == ""
    assert [(e["path"], e["size"]) for e in sub["items"]] == [("adir/inner.bin", 8)]


async def test_paths_stay_inside_the_volume(client, tmp_path):
    root = await _volume(client)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (root / "escape").symlink_to(outside)
    (root / "f").write_text("f")
    url = f"{API}/pools/tank/volumes/v/files"
    for path in ("..", "../..", "escape", "escape/", "/../../etc", "a/../../.."):
        await error(await client.get(url, params={"path": path}), 400, "path_outside_volume")
    await error(await client.get(url, params={"path": "nope"}), 404)
    await error(await client.get(url, params={"path": "f"}), 400, "not_a_directory")
    await error(await client.get(url, params={"limit": 0}), 422)
    await error(await client.get(f"{API}/pools/tank/volumes/nope/files"), 404)


async def test_pages_through_100000_entries(client):
    root = await _volume(client)
    big = root / "big"
    big.mkdir()
    for i in range(100_000):
        (big / f"f{i:06d}").touch()
    (big / "sub").mkdir()
    url = f"{API}/pools/tank/volumes/v/files"
    first = await ok(await client.get(url, params={"path": "big", "limit": 1000}))
    assert first["total"] == 100_001 and len(first["items"]) == 1000
    assert first["items"][0]["name"] == "sub" and first["items"][1]["name"] == "f000000"
    last = await ok(await client.get(url, params={"path": "big", "limit": 1000,
                                                   "offset": 100_000}))
    assert [e["name"] for e in last["items"]] == ["f099999"]
    mid = await ok(await client.get(url, params={"path": "big", "limit": 3, "offset": 50_001}))
    assert [e["name"] for e in mid["items"]] == ["f050000", "f050001", "f050002"]
    (big / "new").touch()   # the listing follows changes
    again = await ok(await client.get(url, params={"path": "big", "limit": 1}))
    assert again["total"] == 100_002


async def test_snapshot_browser_and_restore_keeps_the_original_mode(client):
    root = await _volume(client)
    (root / "docs").mkdir()
    doc = root / "docs" / "report.txt"
    doc.write_text("v1")
    os.chmod(doc, 0o664)
    os.utime(doc, (1_600_000_000, 1_600_000_000))
    ro = root / "docs" / "frozen.txt"
    ro.write_text("ro")
    os.chmod(ro, 0o444)
    os.chmod(root / "docs", 0o775)
    await ok(await client.post(f"{API}/pools/tank/volumes/v/snapshots", json={"name": "s"}), 201)
    snap_url = f"{API}/pools/tank/volumes/v/snapshots/s/files"
    page = await ok(await client.get(snap_url, params={"path": "docs"}))
    assert [e["name"] for e in page["items"]] == ["frozen.txt", "report.txt"]
    await error(await client.get(snap_url, params={"path": "../../v"}), 400, "path_outside_volume")
    doc.unlink()
    restored = await ok(await client.post(f"{API}/pools/tank/volumes/v/snapshots/s/restore",
                                          json={"path": "docs/report.txt"}))
    assert restored["type"] == "file"
    st = doc.stat()
    assert stat.S_IMODE(st.st_mode) == 0o664 and int(st.st_mtime) == 1_600_000_000
    doc.write_text("writable again")
    # a whole folder: each entry gets its own original mode back (read-only stays read-only)
    import shutil
    shutil.rmtree(root / "docs", onerror=lambda f, p, e: (os.chmod(p, 0o700), f(p)))
    await ok(await client.post(f"{API}/pools/tank/volumes/v/snapshots/s/restore",
                               json={"path": "docs"}))
    assert stat.S_IMODE((root / "docs").stat().st_mode) == 0o775
    assert stat.S_IMODE(doc.stat().st_mode) == 0o664
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444
    # rollback keeps them too
    await ok(await client.post(f"{API}/pools/tank/volumes/v/snapshots/s/rollback", json={}))
    assert stat.S_IMODE(doc.stat().st_mode) == 0o664
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444
    await ok(await client.delete(f"{API}/pools/tank/volumes/v/snapshots/s"), 204)
    assert not list((root.parent / ".snapshots" / "v").iterdir())
