"""REST conventions: error envelope, validation, OpenAPI generated from and matching the routes."""

from __future__ import annotations

import re

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
            assert any(code.startswith("2") for code in op["responses"]), (method, path)


async def test_unknown_endpoint_is_enveloped_404(client):
    resp = await client.get("/api/v1/no/such/thing")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_wrong_method_is_enveloped_405(client):
    resp = await client.delete("/api/v1/health")
    assert resp.status == 405
    assert (await resp.json())["error"]["code"] == "method_not_allowed"


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
