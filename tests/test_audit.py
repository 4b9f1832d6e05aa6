"""The audit log records every write — refused ones and public ones included — and every login
attempt, and its hash chain still verifies afterwards."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from sigmavault.testing import ADMIN_PASSWORD, VIEWER_PASSWORD, api_call

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
