"""REST conventions: error envelope, validation, OpenAPI generated from and matching the routes."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate


async def test_health_is_public_and_fast(anon_client):
    resp = await anon_client.get("/api/v1/health")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    assert resp.headers["X-Request-ID"]


async def test_openapi_is_valid(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")


async def test_openapi_matches_served_routes(sv_app, client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = set()
    for route in sv_app.web.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD" and (path.startswith("/api/v1") or path == "/metrics"):
            served.add((route.method, re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    assert documented == served


async def test_every_operation_declares_its_responses(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["summary"], f"{method} {path} has no summary"
            # a WebSocket succeeds by switching protocols
            assert any(code.startswith("2") or code == "101" for code in op["responses"]), (method, path)


async def test_unknown_endpoint_is_enveloped_404(client):
    resp = await client.get("/api/v1/no/such/thing")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_wrong_method_is_enveloped_405_with_allow(client):
    resp = await client.delete("/api/v1/health")
    assert resp.status == 405
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
    assert resp.headers["Allow"] == "GET"
    resp = await client.put("/api/v1/auth/keys")  # declared as GET and POST at that path
    assert resp.status == 405 and resp.headers["Allow"] == "GET, POST"


async def test_malformed_json_is_400(client):
    resp = await client.post("/api/v1/hello", data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"


async def test_validation_error_names_the_field(client):
    resp = await client.post("/api/v1/hello", json={"name": 42})
    body = await resp.json()
    assert resp.status == 422
    assert "name" in body["error"]["message"]
    assert body["error"]["details"]["errors"][0]["loc"] == ["body", "name"]


async def test_docs_page_lists_endpoints(client):
    resp = await client.get("/api/v1/docs")
    text = await resp.text()
    assert resp.status == 200 and "/api/v1/jobs/{job_id}" in text


# --- openapi: each operation lists the errors it can really answer ------------------------------


async def test_openapi_lists_the_errors_each_route_can_give(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"401", "429", "400", "415", "422"} <= set(login)
    assert "403" not in login  # public: no role, no CSRF token
    assert login["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    health = spec["paths"]["/api/v1/health"]["get"]["responses"]
    assert set(health) == {"200"}
    ws = spec["paths"]["/api/v1/ws"]["get"]["responses"]
    assert set(ws) == {"101", "400", "401", "403"}


async def test_websocket_route_answers_as_declared_without_an_upgrade(client):
    resp = await client.get("/api/v1/ws")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "websocket_required"


# --- bodies: strict JSON, sent as JSON --------------------------------------------------------


async def post_raw(c, path: str, data: bytes | str, content_type: str | None = "application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await c.post(f"/api/v1{path}", data=data, headers=headers)
    return resp.status, await resp.json()


async def test_huge_integer_in_a_public_route_is_400(anon_client):
    status, body = await post_raw(anon_client, "/auth/login",
                                  '{"username": "admin", "password": ' + "9" * 5000 + "}")
    assert status == 400, body
    assert body["error"]["code"] == "malformed_json"
    assert "5000 digits" in body["error"]["message"]


async def test_deeply_nested_body_is_400(anon_client):
    status, body = await post_raw(anon_client, "/auth/login", "[" * 10_000 + "]" * 10_000)
    assert status == 400, body
    assert body["error"]["message"] == "request body is not valid JSON: nested too deeply"


async def test_duplicate_keys_are_400(client):
    status, body = await post_raw(client, "/hello", '{"name": "a", "name": "b"}')
    assert status == 400, body
    assert body["error"]["code"] == "malformed_json" and "'name'" in body["error"]["message"]


async def test_nan_is_not_json(client):
    status, body = await post_raw(client, "/hello", '{"name": NaN}')
    assert status == 400 and "NaN" in body["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_not_sent_as_json_is_415(client, content_type):
    status, body = await post_raw(client, "/hello", '{"name": "x"}', content_type)
    assert status == 415, body
    assert body["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in body["error"]["message"]
    status, _ = await post_raw(client, "/hello", '{"name": "x"}', "application/json; charset=utf-8")
    assert status == 200


async def test_unsafe_name_in_a_body_is_422(client):
    resp = await client.post("/api/v1/auth/users", json={"username": "../etc", "password": "long-enough-1"})
    body = await resp.json()
    assert resp.status == 422 and body["error"]["details"]["errors"][0]["loc"] == ["body", "username"]


# --- security headers ------------------------------------------------------------------------


async def test_security_headers_on_api_responses(anon_client, client):
    for resp in (await anon_client.get("/api/v1/health"), await anon_client.get("/api/v1/auth/me"),
                 await client.get("/api/v1/no/such/thing")):
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in resp.headers  # plain HTTP
    docs = await client.get("/api/v1/docs")
    assert "script" not in docs.headers["Content-Security-Policy"]
