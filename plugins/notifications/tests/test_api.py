"""The notifications API without network: validation, CRUD, the centre's paging and acks, roles."""

from __future__ import annotations




async def test_validation_names_the_field(client, bodies):
    cases = [
        (bodies.webhook("ftp://example.net/x"), "settings.webhook.url"),
        (bodies.webhook("file:///etc/passwd"), "settings.webhook.url"),
        ({**bodies.email(25), "name": ""}, "name"),
        (bodies.email(0), "settings.email.port"),
        (bodies.email(25, sender="not an address"), "settings.email.sender"),
        (bodies.email(25, to=["ops@example.net", "nope"]), "settings.email.to"),
        (bodies.email(25, to=[]), "settings.email.to"),
        (bodies.email(25, security="ssl3"), "settings.email.security"),
        ({"name": "x", "settings": {"type": "pager"}}, "settings"),
    ]
    for body, field in cases:
        resp = await client.post("/api/v1/notifications/channels", json=body)
        assert resp.status == 422, (body, await resp.text())
        error = (await resp.json())["error"]
        locs = [".".join(e["loc"][1:]) for e in error["details"]["errors"]]
        assert any(loc.startswith(field) for loc in locs), (field, locs)


async def test_channel_and_rule_crud(client, make, bodies):
    channels = await (await client.get("/api/v1/notifications/channels")).json()
    assert [c["id"] for c in channels] == ["centre"] and channels[0]["builtin"]
    hook = await make(client, "/notifications/channels", bodies.webhook("https://hooks.example.net/x", secret=None))
    assert hook["settings"]["secret"] is None and hook["type"] == "webhook"
    resp = await client.post("/api/v1/notifications/channels", json=bodies.webhook("https://a.example/x"))
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "name_taken"

    rule = await make(client, "/notifications/rules", {"name": "all", "channels": [hook["id"]]})
    assert rule["sources"] == ["*"] and rule["alert_ids"] == ["*"] and rule["min_severity"] == "info"
    resp = await client.post("/api/v1/notifications/rules", json={"name": "bad", "channels": ["nope"]})
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["errors"][0]["loc"] == ["body", "channels", "0"]

    resp = await client.delete(f"/api/v1/notifications/channels/{hook['id']}")
    assert resp.status == 409 and (await resp.json())["error"]["details"]["rules"] == ["all"]
    resp = await client.put(f"/api/v1/notifications/rules/{rule['id']}",
                            json={"name": "pools", "sources": ["SENTRY"], "min_severity": "critical",
                                  "channels": [hook["id"]]})
    assert resp.status == 200 and (await resp.json())["sources"] == ["SENTRY"]
    assert (await client.delete(f"/api/v1/notifications/rules/{rule['id']}")).status == 204
    assert (await client.delete(f"/api/v1/notifications/channels/{hook['id']}")).status == 204
    assert (await client.get(f"/api/v1/notifications/channels/{hook['id']}")).status == 404
    assert (await client.delete("/api/v1/notifications/channels/centre")).status == 400


async def test_centre_paging_ack_and_ack_all(sv_app, client):
    for n in range(7):
        sv_app.events.publish("alert", {"id": f"t:{n}", "severity": "warning", "source": "PULSE",
                                        "message": f"alert {n}"})
    page = await (await client.get("/api/v1/notifications", params={"limit": "3", "offset": "3"})).json()
    assert page["total"] == 7 and page["unread"] == 7
    assert [i["message"] for i in page["items"]] == ["alert 3", "alert 2", "alert 1"]

    first = page["items"][0]["id"]
    resp = await client.post(f"/api/v1/notifications/{first}/ack")
    assert resp.status == 200 and (await resp.json())["acked"] is True
    assert (await (await client.get("/api/v1/notifications")).json())["unread"] == 6
    unread = await (await client.get("/api/v1/notifications", params={"unread": "true"})).json()
    assert unread["total"] == 6

    resp = await client.post("/api/v1/notifications/ack", json={"up_to": first})
    assert (await resp.json()) == {"acked": 3, "unread": 3}
    resp = await client.post("/api/v1/notifications/ack", json={})
    assert (await resp.json()) == {"acked": 3, "unread": 0}
    assert (await client.post("/api/v1/notifications/999/ack")).status == 404

    sources = await (await client.get("/api/v1/notifications/sources")).json()
    assert "PULSE" in sources["sources"] and "t:6" in sources["alert_ids"]


async def test_readonly_reads_and_acks_but_cannot_configure(sv_app, readonly_client, bodies):
    sv_app.events.publish("alert", {"id": "x", "severity": "info", "source": "PULSE", "message": "m"})
    assert (await readonly_client.get("/api/v1/notifications")).status == 200
    assert (await readonly_client.get("/api/v1/notifications/channels")).status == 200
    assert (await readonly_client.post("/api/v1/notifications/ack", json={})).status == 200
    resp = await readonly_client.post("/api/v1/notifications/channels", json=bodies.webhook("https://a.example/x"))
    assert resp.status == 403


async def test_named_methods(sv_app, bodies):
    created = await sv_app.call("notifications.channel.create", body=bodies.webhook("https://a.example/x"))
    assert created["settings"]["secret"] == "**********"
    listed = await sv_app.call("notifications.channels.list")
    assert [c["name"] for c in listed] == ["Notification centre", "ops hook"]
    page = await sv_app.call("notifications.list", query={"limit": 5})
    assert page["total"] == 0
