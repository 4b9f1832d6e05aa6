"""Alerts delivered for real: mail through aiosmtpd (STARTTLS + AUTH) and a signed webhook, both
on loopback; the notification centre; dedup; resolved messages; retries; send-test errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sigmavault.testing import free_port, next_event

FAST = pytest.mark.sv_config({"notifications": {"backoff": 0.05, "max_backoff": 0.2, "timeout": 5}})

SENTRY_ALERT = {"id": "sentry:pool:tank", "severity": "critical", "source": "SENTRY",
                "message": "pool tank is DEGRADED", "details": {"pool": "tank", "state": "DEGRADED"}}


async def setup_both(client, make, bodies, smtp_server, webhook_receiver, **rule):
    mail = await make(client, "/notifications/channels", bodies.email(smtp_server.port))
    hook = await make(client, "/notifications/channels", bodies.webhook(webhook_receiver.url))
    await make(client, "/notifications/rules", {"name": "storage", "sources": ["SENTRY", "PULSE"],
                                                "channels": [mail["id"], hook["id"]], **rule})
    return mail, hook


async def deliveries(client, **query):
    resp = await client.get("/api/v1/notifications/deliveries", params={k: str(v) for k, v in query.items()})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["items"]


async def settled(client, count, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        items = await deliveries(client)
        if len(items) >= count and all(d["status"] in ("delivered", "failed") for d in items):
            return items
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.05)


@FAST
async def test_alert_reaches_mail_webhook_and_centre(sv_app, client, make, bodies, smtp_server, webhook_receiver):
    await setup_both(client, make, bodies, smtp_server, webhook_receiver)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["notification"]})
    await next_event(ws, "client.subscribed")

    started = time.monotonic()
    sv_app.events.publish("alert", SENTRY_ALERT)  # as SENTRY does
    mails = await smtp_server.wait(1)
    calls = await webhook_receiver.wait(1)
    assert time.monotonic() - started < 10

    mail = mails[0]
    assert mail["Subject"] == "[SigmaVault CRITICAL] SENTRY: pool tank is DEGRADED"
    assert mail["From"] == "nas@example.net"
    assert smtp_server.envelopes[0]["to"] == ["ops@example.net", "admin@example.net"]
    assert smtp_server.envelopes[0]["tls"] and smtp_server.envelopes[0]["auth"]  # STARTTLS, then AUTH
    assert "sentry:pool:tank" in mail.get_payload(decode=True).decode()

    hook = calls[0]
    assert hook["headers"]["X-SigmaVault-Event"] == "alert"
    assert hook["json"]["event"] == "alert"
    assert hook["json"]["alert"] == {**SENTRY_ALERT, "active": True, "value": None, "threshold": None}
    assert webhook_receiver.bad_signatures == 0

    event = await next_event(ws, "notification")
    assert event["data"]["action"] == "new" and event["data"]["unread"] == 1
    assert event["data"]["notification"]["alert_id"] == "sentry:pool:tank"
    await ws.close()

    page = await (await client.get("/api/v1/notifications")).json()
    assert page["unread"] == 1 and page["total"] == 1
    item = page["items"][0]
    assert (item["alert_id"], item["severity"], item["source"], item["active"], item["acked"]) == \
        ("sentry:pool:tank", "critical", "SENTRY", True, False)

    done = await settled(client, 2)
    assert {(d["channel_name"], d["status"], d["attempts"], d["kind"]) for d in done} == \
        {("on-call mail", "delivered", 1, "alert"), ("ops hook", "delivered", 1, "alert")}


@FAST
async def test_dedup_and_one_resolved_message(sv_app, client, make, bodies, smtp_server, webhook_receiver):
    await setup_both(client, make, bodies, smtp_server, webhook_receiver)
    sv_app.events.publish("alert", SENTRY_ALERT)
    sv_app.events.publish("alert", SENTRY_ALERT)  # the same alert in the same state: no second delivery
    await smtp_server.wait(1)
    await webhook_receiver.wait(1)
    await settled(client, 2)
    await asyncio.sleep(0.3)
    assert len(smtp_server.messages) == 1 and len(webhook_receiver.calls) == 1

    page = await (await client.get("/api/v1/notifications")).json()
    assert page["total"] == 1 and page["items"][0]["repeats"] == 1

    cleared = {**SENTRY_ALERT, "severity": "info", "active": False, "message": "pool tank is ONLINE"}
    sv_app.events.publish("alert", cleared)
    sv_app.events.publish("alert", cleared)  # cleared twice: one resolved message
    mails = await smtp_server.wait(2)
    calls = await webhook_receiver.wait(2)
    await settled(client, 4)
    await asyncio.sleep(0.3)
    assert len(smtp_server.messages) == 2 and len(webhook_receiver.calls) == 2
    assert mails[1]["Subject"] == "[SigmaVault RESOLVED] SENTRY: pool tank is ONLINE"
    assert calls[1]["json"]["event"] == "resolved" and calls[1]["json"]["alert"]["active"] is False
    assert calls[1]["json"]["alert"]["severity"] == "critical"  # the severity it was raised with

    page = await (await client.get("/api/v1/notifications")).json()
    assert [i["kind"] for i in page["items"]] == ["resolved", "alert"]
    assert page["items"][1]["resolved_at"] is not None

    # raised again after it cleared: a new notification and a new delivery
    sv_app.events.publish("alert", SENTRY_ALERT)
    await smtp_server.wait(3)
    await webhook_receiver.wait(3)


@FAST
async def test_rules_pick_channels_by_source_severity_and_id(sv_app, client, make, bodies, smtp_server,
                                                             webhook_receiver):
    mail = await make(client, "/notifications/channels", bodies.email(smtp_server.port, min_severity="critical"))
    hook = await make(client, "/notifications/channels", bodies.webhook(webhook_receiver.url))
    await make(client, "/notifications/rules", {"name": "pools", "sources": ["SENT*"],
                                                "alert_ids": ["sentry:pool:*"], "channels": [hook["id"], mail["id"]]})
    await make(client, "/notifications/rules", {"name": "hot", "sources": ["PULSE"], "min_severity": "warning",
                                                "channels": [hook["id"]]})
    sv_app.events.publish("alert", {"id": "sentry:disk:sda", "severity": "critical", "source": "SENTRY",
                                    "message": "SMART failing"})          # id does not match: no one
    sv_app.events.publish("alert", {"id": "system.cpu", "severity": "info", "source": "PULSE",
                                    "message": "cpu busy"})                # below the rule's severity
    sv_app.events.publish("alert", {"id": "sentry:pool:a", "severity": "warning", "source": "SENTRY",
                                    "message": "scrub errors"})            # hook only (mail wants critical)
    sv_app.events.publish("alert", {"id": "system.memory", "severity": "warning", "source": "PULSE",
                                    "message": "memory 95%"})              # hook
    calls = await webhook_receiver.wait(2)
    await settled(client, 2)
    await asyncio.sleep(0.3)
    assert sorted(c["json"]["alert"]["id"] for c in calls) == ["sentry:pool:a", "system.memory"]
    assert smtp_server.messages == []
    page = await (await client.get("/api/v1/notifications")).json()
    assert page["total"] == 4 and page["unread"] == 4  # the centre has every alert

    # a disabled channel gets nothing
    await client.put(f"/api/v1/notifications/channels/{hook['id']}",
                     json={**bodies.webhook(webhook_receiver.url), "enabled": False})
    sv_app.events.publish("alert", {"id": "sentry:pool:b", "severity": "critical", "source": "SENTRY",
                                    "message": "pool b FAULTED"})
    await smtp_server.wait(1)
    await asyncio.sleep(0.3)
    assert len(webhook_receiver.calls) == 2


@FAST
async def test_webhook_retries_with_backoff(sv_app, client, make, bodies, webhook_receiver):
    hook = await make(client, "/notifications/channels", bodies.webhook(webhook_receiver.url))
    await make(client, "/notifications/rules", {"name": "all", "channels": [hook["id"]]})
    webhook_receiver.statuses = [503, 500]
    sv_app.events.publish("alert", SENTRY_ALERT)
    await webhook_receiver.wait(1)
    [d] = await settled(client, 1)
    assert (d["status"], d["attempts"], d["alert_id"]) == ("delivered", 3, "sentry:pool:tank")


@FAST
async def test_permanent_failure_is_recorded(sv_app, client, make, bodies, smtp_server):
    mail = await make(client, "/notifications/channels", bodies.email(smtp_server.port, password="wrong"))
    await make(client, "/notifications/rules", {"name": "all", "channels": [mail["id"]]})
    sv_app.events.publish("alert", SENTRY_ALERT)
    [d] = await settled(client, 1)
    assert (d["status"], d["reason"], d["attempts"]) == ("failed", "auth_failed", 1)  # no retry for a bad login
    failed = await deliveries(client, status="failed")
    assert len(failed) == 1


@FAST
async def test_send_test_succeeds_against_real_servers(client, make, bodies, smtp_server, webhook_receiver):
    mail = await make(client, "/notifications/channels", bodies.email(smtp_server.port))
    hook = await make(client, "/notifications/channels", bodies.webhook(webhook_receiver.url))
    resp = await client.post(f"/api/v1/notifications/channels/{mail['id']}/test")
    assert resp.status == 200, await resp.text()
    result = await resp.json()
    assert result["delivered"] and result["kind"] == "email" and "accepted" in result["detail"]
    assert (await smtp_server.wait(1))[0]["Subject"].strip().startswith("[SigmaVault TEST]")

    resp = await client.post(f"/api/v1/notifications/channels/{hook['id']}/test")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["detail"] == "HTTP 200"
    assert (await webhook_receiver.wait(1))[0]["json"]["event"] == "test"

    resp = await client.post("/api/v1/notifications/channels/centre/test")
    assert resp.status == 200
    page = await (await client.get("/api/v1/notifications")).json()
    assert page["unread"] == 1 and page["items"][0]["source"] == "NOTIFICATIONS"
    tests = await deliveries(client)
    assert [(d["kind"], d["status"]) for d in tests] == [("test", "delivered"), ("test", "delivered")]


@FAST
async def test_send_test_failures_say_why(client, make, bodies, smtp_server, webhook_receiver):
    closed = free_port()
    cases = [
        (bodies.email(closed, name="closed smtp"), "connection_refused", "connection refused"),
        (bodies.email(smtp_server.port, password="not-the-password", name="bad pass"), "auth_failed",
         "refused the login"),
        (bodies.email(smtp_server.port, verify_tls=True, name="strict tls"), "tls_failed", "certificate"),
        (bodies.email(smtp_server.port, security="none", name="no tls"), None, None),
        (bodies.webhook(f"http://127.0.0.1:{closed}/hook", name="closed hook"), "connection_refused",
         "connection refused"),
        (bodies.webhook(webhook_receiver.url, secret="wrong-secret", name="bad secret"), "http_status", "HTTP 401"),
    ]
    for body, reason, text in cases:
        channel = await make(client, "/notifications/channels", body)
        resp = await client.post(f"/api/v1/notifications/channels/{channel['id']}/test")
        error = (await resp.json()).get("error")
        if reason is None:  # plain SMTP where the server requires STARTTLS: refused, not a 500
            assert resp.status == 502 and error["code"] in ("smtp_error", "auth_failed"), error
            continue
        assert resp.status == 502, (body["name"], error)
        assert error["code"] == reason and error["details"]["reason"] == reason, (body["name"], error)
        assert text in error["message"], (body["name"], error)
    assert smtp_server.messages == [] and webhook_receiver.calls == []
    assert {d["status"] for d in await deliveries(client)} == {"failed"}


async def test_secrets_masked_kept_and_sealed(sv_app, client, make, bodies, smtp_server, webhook_receiver):
    mail = await make(client, "/notifications/channels", bodies.email(smtp_server.port))
    hook = await make(client, "/notifications/channels", bodies.webhook(webhook_receiver.url))
    assert mail["settings"]["password"] == "**********"
    assert hook["settings"]["secret"] == "**********"
    listed = await (await client.get("/api/v1/notifications/channels")).text()
    single = await (await client.get(f"/api/v1/notifications/channels/{mail['id']}")).text()
    for text in (listed, single, str(mail), str(hook)):
        assert bodies.SMTP_PASSWORD not in text and bodies.WEBHOOK_SECRET not in text

    # an update echoing the mask keeps the stored secret: the test still logs in
    echoed = {"name": mail["name"], "enabled": True, "min_severity": "info", "settings": mail["settings"]}
    resp = await client.put(f"/api/v1/notifications/channels/{mail['id']}", json=echoed)
    assert resp.status == 200, await resp.text()
    assert (await client.post(f"/api/v1/notifications/channels/{mail['id']}/test")).status == 200

    # the mask where nothing is stored is refused on the field
    fresh = bodies.webhook(webhook_receiver.url, secret="**********", name="fresh")
    resp = await client.post("/api/v1/notifications/channels", json=fresh)
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "masked_secret"

    # a new secret replaces the old one
    changed = {**echoed, "settings": {**mail["settings"], "password": "another-password"}}
    assert (await client.put(f"/api/v1/notifications/channels/{mail['id']}", json=changed)).status == 200
    resp = await client.post(f"/api/v1/notifications/channels/{mail['id']}/test")
    assert resp.status == 502 and (await resp.json())["error"]["code"] == "auth_failed"

    sv_app.db.execute("PRAGMA wal_checkpoint(FULL)")
    data = Path(sv_app.data_dir)
    for path in data.glob("sigmavault.db*"):
        raw = path.read_bytes()
        for secret in (bodies.SMTP_PASSWORD, bodies.WEBHOOK_SECRET, "another-password"):
            assert secret.encode() not in raw, (path, secret)


@FAST
async def test_pending_delivery_resumes_after_restart(sv_app, client, make, bodies, webhook_receiver):
    from sigmavault_notifications.service import NotificationService

    hook = await make(client, "/notifications/channels", bodies.webhook(webhook_receiver.url))
    await make(client, "/notifications/rules", {"name": "all", "channels": [hook["id"]]})
    webhook_receiver.statuses = [503] * 50  # keeps failing: the delivery stays "retrying"
    service = sv_app.services[NotificationService]
    sv_app.events.publish("alert", SENTRY_ALERT)
    deadline = time.monotonic() + 10
    while (items := await deliveries(client)) == [] or items[0]["status"] != "retrying":
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.05)
    await service.stop()  # the daemon stops mid-retry: the row stays, nothing is marked failed
    assert (await deliveries(client))[0]["status"] in ("pending", "retrying")
    webhook_receiver.statuses = []
    await service.start()  # and starts again: the delivery goes on
    await webhook_receiver.wait(1)
    [d] = await settled(client, 1)
    assert d["status"] == "delivered" and d["attempts"] >= 2
