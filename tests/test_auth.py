"""Authentication, roles, CSRF, API keys, rate limiting, WebSocket auth and the audit chain."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import sigmavault.auth
from sigmavault.app import SigmaVault
from sigmavault.auth import RateLimiter
from sigmavault.config import Config
from sigmavault.errors import APIError
from sigmavault.testing import ADMIN_PASSWORD, VIEWER_PASSWORD


# Routes that must work signed-out: each is authenticated by what it receives (a password, a
# one-time mesh invite token) instead of a session or API key.
PUBLIC = {("GET", "/health"), ("POST", "/auth/login"), ("POST", "/network/phantommesh/invites/redeem")}


# aiohttp routes that are not declared API routes, by (method, canonical path): the catch-all that
# answers 404/405 for unknown /api/ paths, and the web UI's files (DESIGN.md §6: health, login and
# the UI are all that is reachable signed-out; health and login are declared routes).
RAW_ALLOWED = {("*", "/api/{tail}"), ("GET", "/{tail}"), ("HEAD", "/{tail}")}


def concrete(path: str) -> str:
    return re.sub(r"\{\w+(:[^}]*)?\}", "x", path)


def canonical(path: str) -> str:
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


def undeclared_routes(app: SigmaVault) -> set[tuple[str, str]]:
    """Routes on the aiohttp router that no ``app.api`` declaration (and so no role) covers."""
    declared = {(r.method, canonical(r.url)) for r in app.api.routes}
    return {(r.method, r.resource.canonical) for r in app.web.router.routes()
            if r.resource is not None and (r.method, r.resource.canonical) not in declared}


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
    assert undeclared_routes(sv_app) <= RAW_ALLOWED, undeclared_routes(sv_app) - RAW_ALLOWED
    for method in ("GET", "POST", "DELETE"):
        resp = await anon_client.request(method, "/api/v1/no/such/route", json={})
        assert resp.status == 404, (method, resp.status)


async def test_route_walk_catches_a_raw_aiohttp_route(tmp_path):
    app = await SigmaVault.create(Config.model_validate({"data_dir": tmp_path / "data"}))
    assert undeclared_routes(app) <= RAW_ALLOWED

    async def backdoor(request: web.Request) -> web.Response:
        return web.json_response({"owned": True})

    app.web.router.add_post("/api/v1/backdoor", backdoor)
    app.web.router.add_get("/debug/state", backdoor)
    assert undeclared_routes(app) - RAW_ALLOWED == {("POST", "/api/v1/backdoor"),
                                                    ("GET", "/debug/state"), ("HEAD", "/debug/state")}
    app.db.close()


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
    secret = created["key"].split("_", 2)[2]
    db_path = sv_app.data_dir / "sigmavault.db"
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE id=?", (key_id,)).fetchone()[0]
    assert stored != secret and stored == hashlib.sha256(secret.encode()).hexdigest()
    files = [p for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")) if p.exists()]
    # the scan reads where the row really is (the WAL, until a checkpoint): its hash is found there
    assert any(stored.encode() in p.read_bytes() for p in files)
    assert not any(secret.encode() in p.read_bytes() for p in files)
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
    assert verdict["ok"] is False and verdict["first_bad_id"] == target["id"]
    assert [(p["kind"], p["id"]) for p in verdict["problems"]] == [("record_edited", target["id"])]


# --- login rate limiting: each limit on its own ------------------------------------------------


async def login_from(sv_app, address: str, username: str, password: str) -> tuple[int, dict]:
    """POST /auth/login over a connection whose source is ``address`` (any 127.x is loopback)."""
    server = sv_app.test_server
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(f"http://{server.host}:{server.port}/api/v1/auth/login",
                                json={"username": username, "password": password}) as resp:
            return resp.status, await resp.json()


LIMITED = pytest.mark.sv_config({"auth": {"login_max_failures": 3, "login_lockout_seconds": 60}})


@LIMITED
async def test_user_lockout_spans_client_addresses(sv_app, client):
    for i in (2, 3, 4):
        status, _ = await login_from(sv_app, f"127.0.0.{i}", "viewer", "bad-guess")
        assert status == 401
    status, body = await login_from(sv_app, "127.0.0.5", "viewer", VIEWER_PASSWORD)
    assert status == 429, body
    assert body["error"]["details"]["scope"] == "user"
    assert "for this user" in body["error"]["message"]
    # another user from one of those addresses is not locked (each address failed once)
    status, _ = await login_from(sv_app, "127.0.0.2", "admin", ADMIN_PASSWORD)
    assert status == 200
    rows = (await (await client.get("/api/v1/audit?action=auth.login&actor=viewer")).json())["items"]
    assert [(r["address"], r["outcome"]) for r in reversed(rows)] == [
        ("127.0.0.2", "error 401"), ("127.0.0.3", "error 401"), ("127.0.0.4", "error 401"),
        ("127.0.0.5", "error 429")]


@LIMITED
async def test_address_lockout_spans_user_names(sv_app):
    for name in ("root", "backup", "operator"):
        status, _ = await login_from(sv_app, "127.0.0.6", name, "bad-guess")
        assert status == 401
    status, body = await login_from(sv_app, "127.0.0.6", "viewer", VIEWER_PASSWORD)
    assert status == 429, body
    assert body["error"]["code"] == "too_many_attempts"
    assert body["error"]["message"].startswith("too many failed logins from this address; try again in ")
    assert body["error"]["details"]["scope"] == "address" and 0 < body["error"]["details"]["retry_after"] <= 60
    status, _ = await login_from(sv_app, "127.0.0.7", "viewer", VIEWER_PASSWORD)
    assert status == 200


def test_rate_limiter_forgets_expired_entries_and_stays_bounded():
    limiter = RateLimiter(max_failures=3, lockout=60, max_keys=100)
    for i in range(1000):
        limiter.fail("addr:203.0.113.9", f"user:guess-{i}")
    assert len(limiter.entries) <= 100
    # the address that keeps failing is the most recent entry: it is kept, and stays locked
    assert "addr:203.0.113.9" in limiter.entries
    with pytest.raises(APIError) as exc:
        limiter.check("addr:203.0.113.9", "user:someone")
    assert exc.value.status == 429
    limiter.check("addr:198.51.100.1", "user:nobody")  # checking creates no entries
    assert "user:nobody" not in limiter.entries and "addr:198.51.100.1" not in limiter.entries

    short = RateLimiter(max_failures=3, lockout=0.05, max_keys=100)
    for i in range(50):
        short.fail(f"user:guess-{i}")
    time.sleep(0.1)
    short.fail("user:latest")  # past the lockout: a failure prunes what has expired
    assert list(short.entries) == ["user:latest"]


def test_each_further_lockout_is_twice_as_long_up_to_the_cap(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limiter = RateLimiter(max_failures=2, lockout=10, max_lockout=35)

    def lockout_after_two_failures() -> int:
        limiter.check("addr:x")
        limiter.fail("addr:x")
        limiter.fail("addr:x")
        with pytest.raises(APIError) as exc:
            limiter.check("addr:x")
        return exc.value.details["retry_after"]

    waits = []
    for _ in range(4):
        waits.append(lockout_after_two_failures())
        clock[0] += waits[-1]  # the guesser comes back the moment the lockout ends
    assert waits == [10, 20, 35, 35]
    clock[0] += 10  # quiet for a whole lockout period: forgiven
    assert lockout_after_two_failures() == 10


# --- API key expiry through the API --------------------------------------------------------------


async def test_api_key_with_expiry_is_refused_once_expired(client, anon_client, monkeypatch):
    resp = await client.post("/api/v1/auth/keys", json={"name": "temp", "role": "readonly", "expires_days": 1})
    created = await resp.json()
    assert resp.status == 201, created
    expires = datetime.fromisoformat(created["expires_at"])
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=1))) < timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await anon_client.get("/api/v1/auth/me", headers=headers)).status == 200  # now cached
    # a day passes: the only clock moved is the one expiry is judged by (days are the API's unit)
    later = expires + timedelta(seconds=1)
    monkeypatch.setattr(sigmavault.auth, "_now", lambda: later)
    resp = await anon_client.get("/api/v1/auth/me", headers=headers)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthenticated"
    listed = {k["id"]: k for k in await (await client.get("/api/v1/auth/keys")).json()}
    assert listed[created["id"]]["expires_at"] == created["expires_at"]


# --- no secret in logs or error messages ---------------------------------------------------------


async def test_no_secret_in_logs_or_error_messages(sv_app, client, anon_client, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-but-close-password"
    texts = []
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "admin", "password": wrong})
    assert resp.status == 401
    texts.append(await resp.text())
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "viewer", "password": "x" * 2000})
    assert resp.status == 422
    texts.append(await resp.text())
    resp = await client.post("/api/v1/auth/users", json={"username": "newbie", "password": "t1nyPw"})
    assert resp.status == 422
    texts.append(await resp.text())
    resp = await client.post("/api/v1/auth/keys", json={"name": "logged?", "role": "readonly"})
    key = (await resp.json())["key"]
    resp = await anon_client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    session = resp.cookies["sigmavault_session"].value
    csrf = (await resp.json())["csrf_token"]
    resp = await anon_client.post("/api/v1/hello", json={"name": "x"}, headers={"X-CSRF-Token": csrf + "x"})
    assert resp.status == 403
    texts.append(await resp.text())
    audit = await (await client.get("/api/v1/audit?limit=500")).json()
    haystack = caplog.text + "".join(texts) + str(audit)
    assert "POST /api/v1/auth/login" in caplog.text  # the log was captured at all
    for secret in (wrong, "x" * 2000, "t1nyPw", ADMIN_PASSWORD, key, key.split("_", 2)[2], session, csrf,
                   sv_app.test_keys.admin_key):
        assert secret not in haystack, secret[:6]


# --- device cookies: guessing is slowed without handing attackers a lockout --------------------


def client_at(sv_app, address: str) -> aiohttp.ClientSession:
    """A browser-like session (it keeps cookies, IP hosts included) whose source is ``address``."""
    server = sv_app.test_server
    return aiohttp.ClientSession(f"http://{server.host}:{server.port}",
                                 connector=aiohttp.TCPConnector(local_addr=(address, 0)),
                                 cookie_jar=aiohttp.CookieJar(unsafe=True))


async def post_login(session: aiohttp.ClientSession, username: str, password: str) -> aiohttp.ClientResponse:
    async with session.post("/api/v1/auth/login", json={"username": username, "password": password}) as resp:
        await resp.read()
        return resp


@LIMITED
async def test_attacker_failures_do_not_lock_out_admin_with_a_device_cookie(sv_app):
    async with client_at(sv_app, "127.0.0.2") as admin, client_at(sv_app, "127.0.0.3") as attacker, \
            client_at(sv_app, "127.0.0.4") as stranger:
        resp = await post_login(admin, "admin", ADMIN_PASSWORD)
        assert resp.status == 200
        device = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith("sigmavault_device="))
        assert "HttpOnly" in device and "SameSite=Strict" in device
        assert int(re.search(r"Max-Age=(\d+)", device)[1]) >= 300 * 86400
        statuses = [(await post_login(attacker, "admin", f"guess-{i}")).status for i in range(20)]
        assert statuses == [401] * 3 + [429] * 17  # the attacker is slowed down ...
        resp = await post_login(attacker, "admin", "guess-21")
        assert resp.status == 429 and 0 < int(resp.headers["Retry-After"]) <= 60
        # ... while the admin's browser signs in, from anywhere, the attacker's address included
        assert (await post_login(admin, "admin", ADMIN_PASSWORD)).status == 200
        admin.cookie_jar.update_cookies({"sigmavault_session": ""})
        async with client_at(sv_app, "127.0.0.3") as same_address:
            same_address.cookie_jar.update_cookies(
                {"sigmavault_device": admin.cookie_jar.filter_cookies(admin._base_url)["sigmavault_device"].value})
            assert (await post_login(same_address, "admin", ADMIN_PASSWORD)).status == 200
        # a client the admin never signed in from is limited like the attacker
        async with stranger.post("/api/v1/auth/login",
                                 json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
            body = await resp.json()
        assert resp.status == 429 and body["error"]["details"]["scope"] == "user"


@LIMITED
async def test_a_known_device_has_its_own_failure_budget(sv_app):
    async with client_at(sv_app, "127.0.0.5") as browser, client_at(sv_app, "127.0.0.6") as other:
        assert (await post_login(browser, "viewer", VIEWER_PASSWORD)).status == 200
        assert [(await post_login(browser, "viewer", "wrong")).status for _ in range(3)] == [401] * 3
        async with browser.post("/api/v1/auth/login",
                                json={"username": "viewer", "password": VIEWER_PASSWORD}) as resp:
            body = await resp.json()
        assert resp.status == 429 and body["error"]["details"]["scope"] == "device"
        assert body["error"]["message"].startswith("too many failed logins from this device")
        # its failures were its own: other clients of that user are not locked
        assert (await post_login(other, "viewer", VIEWER_PASSWORD)).status == 200


@LIMITED
async def test_a_device_cookie_counts_only_for_its_user_and_only_when_signed(sv_app):
    async with client_at(sv_app, "127.0.0.7") as browser:
        assert (await post_login(browser, "viewer", VIEWER_PASSWORD)).status == 200
        for user, address in (("admin", "127.0.0.8"), ("viewer", "127.0.0.9")):
            async with client_at(sv_app, address) as attacker:
                for _ in range(3):
                    assert (await post_login(attacker, user, "guess")).status == 401
        # viewer's device is not one of admin's devices
        assert (await post_login(browser, "admin", ADMIN_PASSWORD)).status == 429
        assert (await post_login(browser, "viewer", VIEWER_PASSWORD)).status == 200
        cookie = browser.cookie_jar.filter_cookies(browser._base_url)["sigmavault_device"].value
        version, nonce, signature = cookie.split(".")
        browser.cookie_jar.update_cookies({"sigmavault_device": f"{version}.{nonce}.{signature[::-1]}"},
                                          response_url=browser._base_url)
        assert (await post_login(browser, "viewer", VIEWER_PASSWORD)).status == 429


# --- changing a password ---------------------------------------------------------------------


async def test_changing_your_own_password_needs_the_current_one(sv_app, readonly_client, anon_client):
    url = "/api/v1/auth/users/viewer/password"
    resp = await readonly_client.put(url, json={"password": "brand-new-secret"})
    body = await resp.json()
    assert resp.status == 422 and "current_password" in body["error"]["message"]
    resp = await readonly_client.put(url, json={"password": "brand-new-secret", "current_password": "nope"})
    body = await resp.json()
    assert resp.status == 403 and body["error"]["code"] == "wrong_password"
    # a session ends with the change; an API key stays valid
    session = await login(anon_client, "viewer", VIEWER_PASSWORD)
    resp = await readonly_client.put(url, json={"password": "brand-new-secret",
                                                "current_password": VIEWER_PASSWORD})
    assert resp.status == 204, await resp.text()
    assert (await anon_client.get("/api/v1/auth/me")).status == 401
    assert (await readonly_client.get("/api/v1/auth/me")).status == 200
    assert session["csrf_token"]
    await login(anon_client, "viewer", "brand-new-secret")


async def test_an_admin_resets_another_users_password_without_theirs(client, anon_client):
    resp = await client.put("/api/v1/auth/users/viewer/password", json={"password": "reset-by-admin"})
    assert resp.status == 204, await resp.text()
    await login(anon_client, "viewer", "reset-by-admin")
    resp = await client.put("/api/v1/auth/users/admin/password", json={"password": "admin-new-secret"})
    assert resp.status == 422  # the admin's own: the current one is needed


@pytest.mark.sv_config({"auth": {"login_max_failures": 3, "login_lockout_seconds": 60}})
async def test_guessing_the_current_password_is_rate_limited(readonly_client):
    url = "/api/v1/auth/users/viewer/password"
    statuses = [(await readonly_client.put(url, json={"password": "brand-new-secret",
                                                       "current_password": f"guess-{i}"})).status
                for i in range(4)]
    assert statuses == [403, 403, 403, 429]
