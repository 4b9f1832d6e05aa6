"""The example plugin, tested the way a third-party author would test theirs."""

import pytest

from sigmavault.testing import next_event


async def test_greet_and_event(client):
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["hello.*"]})
    await next_event(ws, "client.subscribed")
    resp = await client.post("/api/v1/hello", json={"name": "Ada"})
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"message": "Hello, Ada!", "count": 1}
    event = await next_event(ws, "hello.greeted")
    assert event["data"] == {"name": "Ada", "count": 1}
    await ws.close()


@pytest.mark.sv_config({"hello": {"greeting": "Moin"}})
async def test_config_section(client):
    resp = await client.post("/api/v1/hello", json={"name": "Grace"})
    assert (await resp.json())["message"] == "Moin, Grace!"


async def test_bad_input_is_422(client):
    resp = await client.post("/api/v1/hello", json={"name": ""})
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "validation_error"


async def test_stats_and_dashboard_widget(client):
    assert await (await client.get("/api/v1/hello/stats")).json() == {"greetings": 0, "last": None}
    for name in ("Ada", "Grace"):
        await client.post("/api/v1/hello", json={"name": name})
    assert await (await client.get("/api/v1/hello/stats")).json() == {"greetings": 2, "last": "Grace"}
    ui = {p["id"]: p for p in await (await client.get("/api/v1/ui/pages")).json()}
    assert ui["hello-stats"]["kind"] == "widget" and ui["hello-stats"]["path"] == "/hello/stats"
    assert ui["hello"]["kind"] == "page"
