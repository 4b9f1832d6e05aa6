"""The audit log records every write — refused ones and public ones included — and every login
attempt, and its hash chain still verifies afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import stat
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from sigmavault import audit
from sigmavault.testing import ADMIN_PASSWORD, VIEWER_PASSWORD, Daemon, api_call

REDEEM = "/api/v1/network/phantommesh/invites/redeem"


async def records(client: TestClient, action: str) -> list[dict]:
    page = await api_call(client, "GET", f"/audit?action={action}&limit=500", 200)
    return page["items"]


async def assert_chain_ok(client: TestClient) -> None:
    verdict = await api_call(client, "GET", "/audit/verify", 200)
    assert verdict["ok"] is True and verdict["first_bad_id"] is None, verdict


async def test_refused_writes_are_audited_with_who_and_outcome(client, readonly_client, anon_client):
    resp = await readonly_client.post("/api/v1/hello", json={"name": "by-viewer"})
    assert resp.status == 403
    resp = await anon_client.post("/api/v1/hello", json={"name": "by-nobody"})
    assert resp.status == 401
    resp = await anon_client.delete("/api/v1/auth/users/viewer",
                                    headers={"Authorization": "Bearer svk_nope_forged"})
    assert resp.status == 401

    hello = await records(client, "POST /hello")
    outcomes = {(r["actor"], r["outcome"], r["details"].get("error")) for r in hello}
    assert ("viewer", "error 403", "forbidden") in outcomes
    assert ("anonymous", "error 401", "unauthenticated") in outcomes
    assert all(r["address"] == "127.0.0.1" and r["target"] == "/api/v1/hello" for r in hello)
    deleted = await records(client, "DELETE /auth/users/{username}")
    assert [(r["actor"], r["outcome"], r["details"]) for r in deleted] == [
        ("anonymous", "error 401", {"username": "viewer", "error": "unauthenticated"})]
    await assert_chain_ok(client)


async def test_csrf_refusal_is_audited_under_the_session_user(client, anon_client):
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.status == 200
    resp = await anon_client.post("/api/v1/hello", json={"name": "no-token"})
    assert resp.status == 403
    hello = await records(client, "POST /hello")
    assert [(r["actor"], r["outcome"], r["details"]["error"]) for r in hello] == [
        ("admin", "error 403", "csrf_failed")]


async def test_login_attempts_are_audited_including_malformed_ones(client, anon_client):
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "viewer", "password": VIEWER_PASSWORD})
    assert resp.status == 200
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "viewer", "password": "wrong-one"})
    assert resp.status == 401
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "viewer"})
    assert resp.status == 422
    resp = await anon_client.post("/api/v1/auth/login", data=b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert resp.status == 400

    logins = await records(client, "auth.login")
    assert [(r["actor"], r["outcome"]) for r in reversed(logins)] == [
        ("viewer", "ok"), ("viewer", "error 401")]
    refused = await records(client, "POST /auth/login")
    assert [(r["actor"], r["outcome"], r["details"]["error"]) for r in reversed(refused)] == [
        ("anonymous", "error 422", "validation_error"), ("anonymous", "error 400", "malformed_json")]
    every = await api_call(client, "GET", "/audit?limit=500", 200)
    assert not any(VIEWER_PASSWORD in str(r) or "wrong-one" in str(r) for r in every["items"])
    await assert_chain_ok(client)


async def test_public_invite_redeem_is_audited(sv_app, client, anon_client):
    if not any(r.path.endswith("/invites/redeem") for r in sv_app.api.routes):
        raise AssertionError("the phantommesh plugin (with its public redeem route) is not loaded")
    body = {"token": "x" * 32, "public_key": "A" * 43 + "=", "node_name": "intruder",
            "listen_port": 51820, "api_url": "http://10.0.0.9:12080"}
    resp = await anon_client.post(REDEEM, json=body)
    refused = resp.status
    assert 400 <= refused < 500, await resp.text()
    resp = await anon_client.post(REDEEM, json={"token": "short"})
    assert resp.status == 422
    rows = await records(client, "POST /network/phantommesh/invites/redeem")
    assert [(r["actor"], r["outcome"], r["address"]) for r in reversed(rows)] == [
        ("anonymous", f"error {refused}", "127.0.0.1"), ("anonymous", "error 422", "127.0.0.1")]
    assert all("x" * 32 not in str(r) for r in rows)
    await assert_chain_ok(client)


async def test_successful_writes_still_audited_once(client):
    await api_call(client, "POST", "/hello", 200, json={"name": "once"})
    rows = await records(client, "POST /hello")
    assert [(r["actor"], r["outcome"], r["details"]) for r in rows] == [("admin", "ok", {})]


# --- refused writes from unauthenticated clients: visible, counted, bounded ---------------------

LONG = "x" * 7000
CANCEL = "POST /jobs/{job_id}/cancel"


def state_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("sigmavault.db*"))


async def test_anonymous_refusal_flood_is_aggregated_and_bounded(sv_app, client, anon_client):
    before = state_bytes(sv_app.data_dir)

    async def refused() -> None:
        resp = await anon_client.post(f"/api/v1/jobs/{LONG}/cancel")
        assert resp.status == 401

    for _ in range(40):
        await asyncio.gather(*(refused() for _ in range(50)))

    rows = await records(client, CANCEL)
    assert state_bytes(sv_app.data_dir) - before < 512 * 1024
    assert sum(r["count"] for r in rows) == 2000
    assert len(rows) == 2, [(r["count"], r["details"].get("aggregated")) for r in rows]
    first, aggregate = reversed(rows)
    assert (first["count"], aggregate["count"]) == (1, 1999)
    assert aggregate["details"]["aggregated"] is True and aggregate["details"]["error"] == "unauthenticated"
    assert all(r["actor"] == "anonymous" and r["address"] == "127.0.0.1" for r in rows)
    for r in rows:
        assert len(r["target"]) < 300 and r["target"].endswith("more]"), r["target"][:300]
        assert len(r["details"]["job_id"]) < 300
    await assert_chain_ok(client)


async def refuse_from(sv_app, address: str) -> int:
    """An anonymous write over a connection whose source is ``address`` (any 127.x is loopback)."""
    server = sv_app.test_server
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as s:
        async with s.post(f"http://{server.host}:{server.port}/api/v1/hello", json={}) as resp:
            return resp.status


async def test_unauthenticated_refusals_have_a_cap_per_window(sv_app, client, monkeypatch):
    monkeypatch.setattr(audit, "UNAUTHENTICATED_ROWS", 3)
    for i in range(2, 8):  # six addresses, two refusals each
        assert await refuse_from(sv_app, f"127.0.0.{i}") == 401
        assert await refuse_from(sv_app, f"127.0.0.{i}") == 401
    hello = await records(client, "POST /hello")
    over = await records(client, "audit.refusals_over_limit")
    assert sorted((r["address"], r["count"]) for r in hello) == [
        ("127.0.0.2", 1), ("127.0.0.2", 1), ("127.0.0.3", 1), ("127.0.0.3", 1),
        ("127.0.0.4", 1), ("127.0.0.4", 1)]
    assert [(r["count"], r["details"]["addresses"]) for r in over] == [(6, 3)]
    assert sum(r["count"] for r in hello + over) == 12
    await assert_chain_ok(client)


# --- the keyed chain: every kind of tampering is named --------------------------------------------


def plain_sha256(prev_hash: str, row: dict) -> str:
    """What someone without the key would compute (the chain's former, unkeyed hash)."""
    material = json.dumps([prev_hash, *(row[f] for f in audit.FIELDS)], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def delete_first(db, ids: list[int]) -> int:
    db.execute("DELETE FROM audit WHERE id=?", (ids[0],))
    return ids[1]


def edit_middle(db, ids: list[int]) -> int:
    db.execute("UPDATE audit SET actor='mallory' WHERE id=?", (ids[2],))
    return ids[2]


def delete_last(db, ids: list[int]) -> int:
    db.execute("DELETE FROM audit WHERE id >= ?", (ids[-2],))
    return ids[-3]


def edit_and_rehash(db, ids: list[int]) -> int:
    db.execute("UPDATE audit SET actor='mallory' WHERE id=?", (ids[2],))
    prev = db.one("SELECT hash FROM audit WHERE id=?", (ids[1],))["hash"]
    for row in db.all("SELECT * FROM audit WHERE id >= ? ORDER BY id", (ids[2],)):
        digest = plain_sha256(prev, row)
        db.execute("UPDATE audit SET prev_hash=?, hash=? WHERE id=?", (prev, digest, row["id"]))
        prev = digest
    return ids[2]


@pytest.mark.parametrize("tamper, kind", [
    (delete_first, "first_records_deleted"), (edit_middle, "record_edited"),
    (delete_last, "last_records_deleted"), (edit_and_rehash, "rehashed_without_key")])
async def test_verify_names_each_tampering(sv_app, client, tamper, kind):
    for i in range(5):
        await api_call(client, "POST", "/hello", 200, json={"name": f"n{i}"})
    await assert_chain_ok(client)
    ids = [r["id"] for r in sv_app.db.all("SELECT id FROM audit ORDER BY id")]
    bad_id = tamper(sv_app.db, ids)
    verdict = await api_call(client, "GET", "/audit/verify", 200)
    assert verdict["ok"] is False, verdict
    assert verdict["problems"][0]["kind"] == kind, verdict
    assert verdict["first_bad_id"] == bad_id, verdict


async def test_key_and_head_live_outside_the_database_privately(sv_app, client):
    await api_call(client, "POST", "/hello", 200, json={"name": "k"})
    for name in (audit.KEY_FILE, audit.HEAD_FILE):
        assert stat.S_IMODE((sv_app.data_dir / name).stat().st_mode) == 0o600
    head = json.loads((sv_app.data_dir / audit.HEAD_FILE).read_text())
    last = sv_app.db.one("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
    assert head == {"last_id": last["id"], "hash": last["hash"]}
    assert (sv_app.data_dir / audit.KEY_FILE).read_text() not in str(sv_app.db.all("SELECT * FROM audit"))


def legacy_install(data_dir: Path, records: int) -> None:
    """A data dir from before the keyed chain: unkeyed SHA-256 records, no key, no head file."""
    data_dir.mkdir(mode=0o700)
    conn = sqlite3.connect(data_dir / "sigmavault.db", isolation_level=None)
    conn.execute("CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute(audit.MIGRATIONS[0])
    conn.execute("INSERT INTO schema_versions VALUES('core.audit', 1)")
    prev = audit.GENESIS
    for i in range(records):
        row = {"ts": f"2025-01-01T00:00:0{i}Z", "actor": "admin", "address": "10.0.0.1",
               "action": "POST /hello", "target": "/api/v1/hello", "outcome": "ok", "details": "{}"}
        digest = plain_sha256(prev, row)
        conn.execute("INSERT INTO audit(ts, actor, address, action, target, outcome, details, "
                     "prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?)", (*row.values(), prev, digest))
        prev = digest
    conn.close()


def test_an_existing_unkeyed_chain_is_pinned_and_continued_keyed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    legacy_install(data, 3)
    daemon = Daemon(data)
    try:
        daemon.start(60)  # `user create` (CLI) and the daemon both open the log: pinned once
        verify = urllib.request.Request(f"{daemon.url}/api/v1/audit/verify",
                                        headers={"Authorization": f"Bearer {daemon.admin_key}"})
        verdict = json.load(urllib.request.urlopen(verify, timeout=10))
        assert verdict["ok"] is True and verdict["checked"] >= 5, verdict
        checkpoint = json.loads(sqlite3.connect(data / "sigmavault.db").execute(
            "SELECT doc FROM audit_checkpoint").fetchone()[0])
        assert (checkpoint["legacy_upto"], checkpoint["reason"]) == (3, "legacy records pinned")
        # rewriting the unkeyed records consistently is now caught by the pin
        conn = sqlite3.connect(data / "sigmavault.db", isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("UPDATE audit SET actor='mallory' WHERE id=2")
        prev = conn.execute("SELECT hash FROM audit WHERE id=1").fetchone()[0]
        for row in conn.execute("SELECT * FROM audit WHERE id IN (2, 3) ORDER BY id").fetchall():
            digest = plain_sha256(prev, dict(row))
            conn.execute("UPDATE audit SET prev_hash=?, hash=? WHERE id=?", (prev, digest, row["id"]))
            prev = digest
        conn.execute("UPDATE audit SET prev_hash=? WHERE id=4", (prev,))
        conn.close()
        verdict = json.load(urllib.request.urlopen(verify, timeout=10))
        assert verdict["ok"] is False
        assert ("rehashed_without_key", 3) in [(p["kind"], p["id"]) for p in verdict["problems"]]
    finally:
        daemon.kill()
