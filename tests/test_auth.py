"""Authentication, roles, CSRF, API keys, rate limiting, WebSocket auth and the audit chain."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from sigmavault.testing import ADMIN_PASSWORD, VIEWER_PASSWORD


# Routes that must work signed-out: each is authenticated by what it receives (a password, a
# one-time mesh invite token) instead of a session or API key.
PUBLIC = {("GET", "/health"), ("POST", "/auth/login"), ("POST", "/network/phantommesh/invites/redeem")}


def concrete(path: str) -> str:
    return re.sub(r"\{\w+(:[^}]*)?\}", "x", path)


async def test_every_route_needs_credentials_and_its_role(sv_app, anon_client, readonly_client):
    routes = [r for r in sv_app.api.routes]
    assert len(routes) > 20
    plugins = {r.plugin for r in routes}
    assert "sigmavault-hello" in plugins
    for r in routes:
        url = concrete(r.url)
        if r.role is None:
            assert (r.method, r.path) in PUBLIC, f"{r.method} {r.path} is public"
            continue
        resp = await anon_client.request(r.method, url, json={})
        assert resp.status == 401, (r.method, url, resp.status)
        assert (await resp.json())["error"]["code"] == "unauthenticated"
        resp = await readonly_client.request(r.method, url, json={})
        if r.role == "admin":
            assert resp.status == 403, (r.method, url, resp.status)
        else:
            assert resp.status != 403, (r.method, url)
        assert resp.status < 500, (r.method, url, await resp.text())


async def login(c: TestClient, user="admin", password=ADMIN_PASSWORD) -> dict:
    resp = await c.post("/api/v1/auth/login", json={"username": user, "password": password})
    body = await resp.json()
    assert resp.status == 200, body
    session = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith("sigmavault_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    return body


async def test_login_session_cookie_and_logout(anon_client):
    body = await login(anon_client)
    assert body["user"]["role"] == "admin" and body["csrf_token"]
    me = await (await anon_client.get("/api/v1/auth/me")).json()
    assert me == {"username": "admin", "role": "admin", "via": "session", "csrf_token": body["csrf_token"]}
    resp = await anon_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert resp.status == 204
    assert (await anon_client.get("/api/v1/auth/me")).status == 401


async def test_wrong_password_is_401_without_detail(anon_client):
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "admin", "password": "nope"})
    body = await resp.json()
    assert resp.status == 401 and body["error"]["message"] == "wrong username or password"
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope"})
    assert (await resp.json())["error"]["message"] == "wrong username or password"


async def test_csrf_is_required_for_cookie_writes(anon_client):
    body = await login(anon_client)
    resp = await anon_client.post("/api/v1/hello", json={"name": "x"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "csrf_failed"
    resp = await anon_client.post("/api/v1/hello", json={"name": "x"}, headers={"X-CSRF-Token": "wrong"})
    assert resp.status == 403
    resp = await anon_client.post("/api/v1/hello", json={"name": "x"},
                                  headers={"X-CSRF-Token": body["csrf_token"]})
    assert resp.status == 200


async def test_session_idle_expiry(sv_app, anon_client):
    await login(anon_client)
    assert (await anon_client.get("/api/v1/auth/me")).status == 200
    sv_app.db.execute("UPDATE sessions SET last_seen = last_seen - ?", (sv_app.auth.idle + 1,))
    assert (await anon_client.get("/api/v1/auth/me")).status == 401


async def test_session_absolute_expiry(sv_app, anon_client):
    await login(anon_client)
    sv_app.db.execute("UPDATE sessions SET created = created - ?", (sv_app.auth.absolute + 1,))
    assert (await anon_client.get("/api/v1/auth/me")).status == 401


async def test_api_key_lifecycle(sv_app, client, anon_client):
    resp = await client.post("/api/v1/auth/keys", json={"name": "backup-script", "role": "readonly"})
    created = await resp.json()
    assert resp.status == 201 and created["key"].startswith("svk_")
    key_id = created["id"]
    listed = await (await client.get("/api/v1/auth/keys")).json()
    assert all("key" not in k for k in listed)
    assert created["key"].split("_", 2)[2] not in (sv_app.data_dir / "sigmavault.db").read_bytes().decode(errors="replace")
    headers = {"Authorization": f"Bearer {created['key']}"}
    me = await (await anon_client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["role"] == "readonly" and me["via"] == "api_key"
    assert (await anon_client.post("/api/v1/hello", json={"name": "x"}, headers=headers)).status == 403
    key = next(k for k in await (await client.get("/api/v1/auth/keys")).json() if k["id"] == key_id)
    assert key["last_used_at"]
    resp = await client.delete(f"/api/v1/auth/keys/{key_id}")
    assert (await resp.json())["revoked"] is True
    assert (await anon_client.get("/api/v1/auth/me", headers=headers)).status == 401
    tampered = {"Authorization": f"Bearer {created['key'][:-2]}xx"}
    assert (await anon_client.get("/api/v1/auth/me", headers=tampered)).status == 401


async def test_expired_api_key_is_refused(sv_app, anon_client):
    secret, key = sv_app.auth.create_key("admin", "old", expires_days=1)
    sv_app.db.execute("UPDATE api_keys SET expires_at='2000-01-01T00:00:00+00:00' WHERE id=?", (key["id"],))
    assert (await anon_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})).status == 401


@pytest.mark.sv_config({"auth": {"login_max_failures": 3, "login_lockout_seconds": 60}})
async def test_login_rate_limit(anon_client):
    for _ in range(3):
        resp = await anon_client.post("/api/v1/auth/login", json={"username": "viewer", "password": "bad"})
        assert resp.status == 401
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "viewer", "password": VIEWER_PASSWORD})
    body = await resp.json()
    assert resp.status == 429 and body["error"]["code"] == "too_many_attempts"
    assert body["error"]["details"]["retry_after"] > 0


async def test_user_management(client, anon_client):
    resp = await client.post("/api/v1/auth/users", json={"username": "ops", "password": "short", "role": "admin"})
    assert resp.status == 422
    resp = await client.post("/api/v1/auth/users", json={"username": "-rf", "password": "long-enough-1"})
    assert resp.status == 422
    resp = await client.post("/api/v1/auth/users", json={"username": "ops", "password": "long-enough-1"})
    assert resp.status == 201 and (await resp.json())["role"] == "readonly"
    assert (await client.post("/api/v1/auth/users", json={"username": "ops", "password": "long-enough-1"})).status == 409
    await login(anon_client, "ops", "long-enough-1")
    assert (await client.delete("/api/v1/auth/users/admin")).status in (204, 409)


async def test_websocket_needs_credentials_and_same_origin(sv_app, anon_client, client):
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await anon_client.ws_connect("/api/v1/ws")
    assert exc.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect("/api/v1/ws", headers={"Origin": "http://evil.example"})
    assert exc.value.status == 403
    host = f"{client.host}:{client.port}"
    ws = await client.ws_connect("/api/v1/ws", headers={"Origin": f"http://{host}"})
    assert (await ws.receive_json())["type"] == "client.hello"
    await ws.close()


async def test_audit_chain_records_and_detects_edits(sv_app, client, anon_client):
    await client.post("/api/v1/hello", json={"name": "audited"})
    await anon_client.post("/api/v1/auth/login", json={"username": "admin", "password": "bad"})
    page = await (await client.get("/api/v1/audit")).json()
    actions = [(r["actor"], r["action"], r["outcome"]) for r in page["items"]]
    assert ("admin", "POST /hello", "ok") in actions
    assert ("admin", "auth.login", "error 401") in actions
    assert (await (await client.get("/api/v1/audit/verify")).json())["ok"] is True
    target = next(r for r in page["items"] if r["action"] == "POST /hello")
    sv_app.db.execute("UPDATE audit SET actor='mallory' WHERE id=?", (target["id"],))
    verdict = await (await client.get("/api/v1/audit/verify")).json()
    assert verdict == {"ok": False, "checked": verdict["checked"], "first_bad_id": target["id"]}
