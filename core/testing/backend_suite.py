"""Backend-agnostic storage API scenario, driven only through HTTP (and named methods).

Reuse: ``from sigmavault.testing.backend_suite import BackendSuite``, subclass it in a test module
and provide the fixture ``pool_body``: a factory ``name -> POST /api/v1/storage/pools body`` that
prepares what the pool needs (loop devices …) and cleans it up afterwards. Tests for capabilities
the backend lacks assert the ``400 not_supported`` answer instead. See
docs/plugins/storage-backends.md and the walk-through in docs/plugin-guide.md.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from sigmavault.testing import next_event, wait_job

API = "/api/v1/storage"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


async def ok(resp, status: int = 200) -> Any:
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == status, (resp.status, body)
    return body


async def error(resp, status: int, code: str | None = None) -> dict:
    body = await resp.json()
    assert resp.status == status, (resp.status, body)
    assert set(body) == {"error"} and body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


class BackendSuite:
    """The shared scenario. ``pool_body`` must be provided by the subclass."""

    @pytest.fixture
    def pool_body(self):  # pragma: no cover - the hook
        raise NotImplementedError("provide a pool_body fixture: name -> pool create body")

    @pytest.fixture
    async def pool(self, client, pool_body):
        """A fresh pool for one test; destroyed through the API afterwards."""
        name = unique("p")
        body = pool_body(name)
        created = await ok(await client.post(f"{API}/pools", json=body), 201)
        try:
            yield created
        finally:
            resp = await client.delete(f"{API}/pools/{name}", params={"confirm": name})
            assert resp.status in (204, 404), await resp.text()

    @pytest.fixture
    async def caps(self, client, pool) -> dict:
        backend = pool["backend"]
        infos = await ok(await client.get(f"{API}/backends"))
        [info] = [b for b in infos if b["name"] == backend]
        assert info["available"], info
        return info["capabilities"]

    # --- pools -----------------------------------------------------------------------------------

    async def test_pool_lifecycle_and_confirmed_delete(self, client, pool_body):
        name = unique("p")
        body = pool_body(name)
        created = await ok(await client.post(f"{API}/pools", json=body), 201)
        assert created["name"] == name and created["backend"] == body["backend"]
        assert created["state"] == "online"
        assert created["mountpoint"] and Path(created["mountpoint"]).is_dir()
        try:
            listed = await ok(await client.get(f"{API}/pools"))
            assert name in [p["name"] for p in listed]
            got = await ok(await client.get(f"{API}/pools/{name}"))
            assert got["size"] and got["size"] > 0 and got["free"] is not None
            await error(await client.post(f"{API}/pools", json=body), 409)
            health = await ok(await client.get(f"{API}/pools/{name}/health"))
            assert health["state"] == "online" and not [
                p for p in health["problems"] if p["severity"] == "critical"]
            # destroying needs the confirm token = the pool name
            await error(await client.delete(f"{API}/pools/{name}"), 422, "validation_error")
            await error(await client.delete(f"{API}/pools/{name}", params={"confirm": "nope"}),
                        400, "confirmation_required")
            assert (await client.get(f"{API}/pools/{name}")).status == 200
        finally:
            await ok(await client.delete(f"{API}/pools/{name}", params={"confirm": name}), 204)
        await error(await client.get(f"{API}/pools/{name}"), 404, "not_found")
        assert not Path(created["mountpoint"]).exists() or not any(
            Path(created["mountpoint"]).iterdir())

    async def test_export_then_import_keeps_the_data(self, client, pool, caps, readonly_client):
        name, backend = pool["name"], pool["backend"]
        if not caps["import"]:
            await error(await client.post(f"{API}/pools/{name}/export"), 400, "not_supported")
            return
        vol = await ok(await client.post(f"{API}/pools/{name}/volumes", json={"name": "keep"}), 201)
        (Path(vol["path"]) / "f.txt").write_text("kept")
        await ok(await client.post(f"{API}/pools/{name}/volumes/keep/snapshots",
                                   json={"name": "s1"}), 201)
        await error(await readonly_client.post(f"{API}/pools/{name}/export"), 403)
        await error(await client.post(f"{API}/pools/nosuch/export"), 404, "not_found")
        await ok(await client.post(f"{API}/pools/{name}/export"), 204)
        await error(await client.get(f"{API}/pools/{name}"), 404, "not_found")
        assert name not in [p["name"] for p in await ok(await client.get(f"{API}/pools"))]
        await error(await client.post(f"{API}/pools/{name}/export"), 404, "not_found")
        devices = [d["path"] for d in pool["devices"]] or None
        imported = await ok(await client.post(f"{API}/pools/import", json={
            "name": name, "backend": backend, "devices": devices}), 201)
        assert imported["state"] == "online"
        vol = await ok(await client.get(f"{API}/pools/{name}/volumes/keep"))
        assert (Path(vol["path"]) / "f.txt").read_text() == "kept"
        snaps = await ok(await client.get(f"{API}/pools/{name}/volumes/keep/snapshots"))
        assert [s["name"] for s in snaps["items"]] == ["s1"]

    async def test_bad_input_is_a_clear_4xx_and_changes_nothing(self, client, pool_body, readonly_client):
        name = unique("p")
        body = pool_body(name)
        await error(await client.post(f"{API}/pools", json={**body, "name": "-rf"}), 422,
                    "validation_error")
        await error(await client.post(f"{API}/pools", json={**body, "name": "a/../b"}), 422)
        await error(await client.post(f"{API}/pools", json={**body, "backend": "nosuch"}), 400,
                    "unknown_backend")
        await error(await client.post(f"{API}/pools", json={**body, "devices": ["/etc/passwd"]}),
                    400)
        await error(await client.post(f"{API}/pools", json={**body, "devices": ["/dev/x\x00"]}),
                    400)
        await error(await readonly_client.post(f"{API}/pools", json=body), 403)
        await error(await client.get(f"{API}/pools/-x"), 400, "invalid_name")
        listed = await ok(await client.get(f"{API}/pools"))
        assert name not in [p["name"] for p in listed]

    # --- volumes ---------------------------------------------------------------------------------

    async def test_volume_crud_quota_and_compression(self, client, pool, caps):
        p = pool["name"]
        vol = await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "media"}), 201)
        assert vol["pool"] == p and Path(vol["path"]).is_dir()
        (Path(vol["path"]) / "hello.txt").write_text("hello")
        await error(await client.post(f"{API}/pools/{p}/volumes", json={"name": "media"}), 409)
        await error(await client.post(f"{API}/pools/{p}/volumes", json={"name": "../etc"}), 422)
        listed = await ok(await client.get(f"{API}/pools/{p}/volumes"))
        assert [v["name"] for v in listed] == ["media"]
        got = await ok(await client.get(f"{API}/pools/{p}/volumes/media"))
        assert got["used"] is None or got["used"] >= 0
        await error(await client.get(f"{API}/pools/{p}/volumes/nope"), 404)

        quota_body = {"name": "quoted", "quota": 64 << 20}
        if caps["quotas"]:
            q = await ok(await client.post(f"{API}/pools/{p}/volumes", json=quota_body), 201)
            assert q["quota"] == 64 << 20
            q = await ok(await client.patch(f"{API}/pools/{p}/volumes/quoted",
                                            json={"quota": 32 << 20}))
            assert q["quota"] == 32 << 20
            q = await ok(await client.patch(f"{API}/pools/{p}/volumes/quoted", json={"quota": None}))
            assert q["quota"] is None
            await ok(await client.delete(f"{API}/pools/{p}/volumes/quoted"), 204)
        else:
            await error(await client.post(f"{API}/pools/{p}/volumes", json=quota_body), 400,
                        "not_supported")
        if caps["compression"]:
            algo = caps["compression"][0]
            c = await ok(await client.patch(f"{API}/pools/{p}/volumes/media",
                                            json={"compression": algo}))
            assert c["compression"] == algo
            await error(await client.patch(f"{API}/pools/{p}/volumes/media",
                                           json={"compression": "nosuch"}), 400, "bad_compression")
        else:
            await error(await client.patch(f"{API}/pools/{p}/volumes/media",
                                           json={"compression": "zstd"}), 400, "not_supported")
        await ok(await client.delete(f"{API}/pools/{p}/volumes/media"), 204)
        assert await ok(await client.get(f"{API}/pools/{p}/volumes")) == []

    # --- snapshots -------------------------------------------------------------------------------

    async def test_snapshots_pagination_and_sort(self, client, pool):
        p = pool["name"]
        vol = await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "docs"}), 201)
        names = ["c-snap", "a-snap", "e-snap", "b-snap", "d-snap"]
        for i, n in enumerate(names):
            (Path(vol["path"]) / f"f{i}").write_text(str(i))
            await ok(await client.post(f"{API}/pools/{p}/volumes/docs/snapshots",
                                       json={"name": n}), 201)
            await asyncio.sleep(1.05 if i == 0 else 0)  # distinct creation seconds for sorting
        await error(await client.post(f"{API}/pools/{p}/volumes/docs/snapshots",
                                      json={"name": "a-snap"}), 409)
        base = f"{API}/pools/{p}/volumes/docs/snapshots"
        page = await ok(await client.get(base, params={"sort": "name", "order": "asc",
                                                       "limit": "2", "offset": "1"}))
        assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
        assert [s["name"] for s in page["items"]] == ["b-snap", "c-snap"]
        newest_first = await ok(await client.get(base))
        assert newest_first["items"][-1]["name"] == "c-snap"  # created first, a second earlier
        assert all(s["writable"] is False for s in newest_first["items"])
        auto = await ok(await client.post(base, json={}), 201)
        assert auto["name"][:8].isdigit()
        await error(await client.get(base, params={"limit": "0"}), 422)
        await error(await client.get(base, params={"sort": "size"}), 422)
        for n in names + [auto["name"]]:
            await ok(await client.delete(f"{base}/{n}"), 204)
        assert (await ok(await client.get(base)))["total"] == 0
        await error(await client.delete(f"{base}/a-snap"), 404)

    async def test_rollback_clone_and_snapshot_files(self, client, pool, caps, sv_app):
        p = pool["name"]
        vol = await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "work"}), 201)
        root = Path(vol["path"])
        (root / "doc.txt").write_text("version 1")
        (root / "sub").mkdir()
        (root / "sub" / "keep.txt").write_text("kept")
        base = f"{API}/pools/{p}/volumes/work/snapshots"
        await ok(await client.post(base, json={"name": "s1"}), 201)
        # change the live volume: replace a file, add one, delete one
        tmp = root / "doc.txt.new"
        tmp.write_text("version 2")
        os.replace(tmp, root / "doc.txt")
        (root / "added.txt").write_text("new")
        (root / "sub" / "keep.txt").unlink()
        await ok(await client.post(base, json={"name": "s2"}), 201)

        snap_dir = Path(await sv_app.call("storage.snapshot.path", pool=p, volume="work",
                                          snapshot="s1"))
        assert (snap_dir / "doc.txt").read_text() == "version 1"
        try:
            (snap_dir / "intruder.txt").write_text("x")
        except OSError:
            pass  # read-only snapshot (EROFS / EACCES)
        else:
            # root passes permission bits: then the snapshot must at least be marked read-only
            (snap_dir / "intruder.txt").unlink()
            assert os.geteuid() == 0 and not snap_dir.stat().st_mode & 0o222

        if caps["diff"]:
            diff = await ok(await client.get(f"{API}/pools/{p}/volumes/work/diff",
                                             params={"old": "s1", "new": "s2"}))
            changes = {(c["path"], c["change"]) for c in diff}
            assert ("added.txt", "added") in changes and ("sub/keep.txt", "deleted") in changes
            assert ("doc.txt", "modified") in changes

        if not caps["rollback"]:
            await error(await client.post(f"{base}/s1/rollback", json={}), 400, "not_supported")
            if not caps["clone"]:
                await error(await client.post(f"{base}/s1/clone", json={"target": "copy"}), 400,
                            "not_supported")
            return
        if not caps["rollback_keeps_newer"]:   # it would destroy s2: only with force
            await error(await client.post(f"{base}/s1/rollback", json={}), 409, "newer_snapshots")
            assert (root / "doc.txt").read_text() == "version 2"
        rolled = await ok(await client.post(f"{base}/s1/rollback",
                                            json={"force": not caps["rollback_keeps_newer"]}))
        assert rolled["name"] == "work"
        assert (root / "doc.txt").read_text() == "version 1"
        assert not (root / "added.txt").exists() and (root / "sub" / "keep.txt").exists()
        (root / "after-rollback.txt").write_text("writable again")
        names = [s["name"] for s in (await ok(await client.get(base)))["items"]]
        assert "s1" in names and ("s2" in names) == bool(caps["rollback_keeps_newer"])

        clone = await ok(await client.post(f"{base}/s1/clone", json={"target": "work-copy"}), 201)
        assert (Path(clone["path"]) / "doc.txt").read_text() == "version 1"
        (Path(clone["path"]) / "doc.txt").write_text("clone edit")
        assert (snap_dir / "doc.txt").read_text() == "version 1"
        await error(await client.post(f"{base}/s1/clone", json={"target": "work"}), 409)
        await error(await client.post(f"{base}/nope/rollback", json={}), 404)
        vols = {v["name"] for v in await sv_app.call("storage.volumes.list", pool=p)}
        assert vols == {"work", "work-copy"}

    async def test_restore_files_from_a_snapshot(self, client, pool):
        p = pool["name"]
        vol = await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "home"}), 201)
        root = Path(vol["path"])
        (root / "docs").mkdir()
        (root / "docs" / "a.txt").write_text("original a")
        (root / "docs" / "deep").mkdir()
        (root / "docs" / "deep" / "b.txt").write_text("original b")
        (root / "note.txt").write_text("original note")
        base = f"{API}/pools/{p}/volumes/home/snapshots"
        await ok(await client.post(base, json={"name": "before"}), 201)
        (root / "note.txt").unlink()
        # replace (not edit in place): hard-link snapshots of the dir backend share inodes
        (root / "docs" / "a.tmp").write_text("damaged")
        os.replace(root / "docs" / "a.tmp", root / "docs" / "a.txt")
        import shutil
        shutil.rmtree(root / "docs" / "deep")

        got = await ok(await client.post(f"{base}/before/restore", json={"path": "note.txt"}))
        assert got == {"path": "note.txt", "target": "note.txt", "type": "file", "replaced": False}
        assert (root / "note.txt").read_text() == "original note"
        (root / "note.txt").write_text("edited after restore")   # a restored file is writable
        await error(await client.post(f"{base}/before/restore", json={"path": "docs"}), 409,
                    "target_exists")
        got = await ok(await client.post(f"{base}/before/restore",
                                         json={"path": "docs", "overwrite": True}))
        assert got["type"] == "dir" and got["replaced"] is True
        assert (root / "docs" / "a.txt").read_text() == "original a"
        assert (root / "docs" / "deep" / "b.txt").read_text() == "original b"
        (root / "docs" / "deep" / "new.txt").write_text("dirs are writable again")
        got = await ok(await client.post(f"{base}/before/restore",
                                         json={"path": "docs/a.txt", "target": "copies/a.txt"}))
        assert (root / "copies" / "a.txt").read_text() == "original a"
        await error(await client.post(f"{base}/before/restore",
                                      json={"path": "../../../../etc/passwd"}), 400)
        await error(await client.post(f"{base}/before/restore",
                                      json={"path": "note.txt", "target": "../../escape.txt"}), 400)
        await error(await client.post(f"{base}/before/restore", json={"path": "nope.txt"}), 404)
        await error(await client.post(f"{base}/before/restore", json={"path": "a\x00b"}), 400)
        assert not [n for n in os.listdir(root) if n.startswith(".restore")]

    async def test_named_methods_for_other_plugins(self, client, pool, sv_app):
        p = pool["name"]
        await ok(await client.post(f"{API}/pools/{p}/volumes", json={"name": "shared"}), 201)
        path = await sv_app.call("storage.volume.path", pool=p, volume="shared")
        assert os.path.isabs(path) and os.path.isdir(path)
        Path(path, "a.txt").write_text("a")
        snap = await sv_app.call("storage.snapshot.create", pool=p, volume="shared", name="m1")
        assert snap["name"] == "m1"
        listed = await sv_app.call("storage.snapshot.list", pool=p, volume="shared")
        assert [s["name"] for s in listed] == ["m1"]
        spath = await sv_app.call("storage.snapshot.path", pool=p, volume="shared", snapshot="m1")
        assert Path(spath, "a.txt").read_text() == "a"
        assert p in [x["name"] for x in await sv_app.call("storage.pools.list")]
        from sigmavault.errors import APIError
        with pytest.raises(APIError) as err:
            await sv_app.call("storage.volume.path", pool=p, volume="../../etc")
        assert err.value.status == 400

    async def test_scrub_job_and_events(self, client, pool, caps):
        p = pool["name"]
        if not caps["scrub"]:
            await error(await client.post(f"{API}/pools/{p}/scrub"), 400, "not_supported")
            return
        ws = await client.ws_connect("/api/v1/ws")
        await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
        await asyncio.sleep(0.1)
        job = await ok(await client.post(f"{API}/pools/{p}/scrub"), 202)
        done = await wait_job(client, job["id"], timeout=60)
        assert done["state"] == "SUCCESS", done
        assert done["result"]["state"] == "finished" and done["result"]["errors"] == 0
        ev = await next_event(ws, lambda e: e["type"] == "storage.event"
                              and e["data"]["kind"] == "scrub_finished", timeout=10)
        assert ev["data"]["pool"] == p
        await ws.close()
