"""CHRONICLE, SYNAPSE, RELAY and OMNISCIENT through the API; RELAY against a loopback server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sigmavault.testing import wait_job

from .conftest import others
from .test_agents_files import run


async def test_chronicle_verify_tamper_export_rotate(client, sv_app, area: Path) -> None:
    for _ in range(3):  # every POST is audited
        await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area)}})
    ok = (await run(client, "CHRONICLE", {}))["result"]
    assert ok["ok"] and ok["checked"] >= 3
    exported = (await run(client, "CHRONICLE", {"action": "export"}))["result"]
    name = Path(exported["file"]).name
    assert exported["ok"] and exported["records"] >= 4
    assert (await run(client, "CHRONICLE", {"file": name}))["result"]["ok"]
    rotated = (await run(client, "CHRONICLE", {"action": "rotate", "keep": 2}))["result"]
    assert rotated["rotated"] >= 4 and rotated["live_chain"]["ok"]
    assert sv_app.audit_log.verify()["ok"]
    assert (await run(client, "CHRONICLE", {"file": Path(rotated["file"]).name}))["result"]["ok"]
    # tamper with one record: the chain breaks at exactly that record
    row = sv_app.db.one("SELECT id FROM audit ORDER BY id LIMIT 1")
    sv_app.db.execute("UPDATE audit SET actor='mallory' WHERE id=?", (row["id"],))
    bad = (await run(client, "CHRONICLE", {}))["result"]
    assert bad["ok"] is False and bad["first_bad_id"] == row["id"]
    job = await run(client, "CHRONICLE", {"action": "rotate", "keep": 0}, state="FAILED")
    assert "chain broken" in job["error"]
    resp = await client.post("/api/v1/agents/CHRONICLE/task", json={"params": {"file": "../../etc/passwd"}})
    assert resp.status == 422


async def test_chronicle_rotation_leaves_a_signed_checkpoint(client, sv_app, area: Path) -> None:
    for _ in range(4):
        await client.post("/api/v1/agents/PRISM/task", json={"params": {"path": str(area)}})
    rotated = (await run(client, "CHRONICLE", {"action": "rotate", "keep": 2}))["result"]
    assert rotated["rotated"] >= 3 and rotated["live_chain"]["ok"], rotated
    first = sv_app.db.one("SELECT id FROM audit ORDER BY id LIMIT 1")["id"]
    assert first == rotated["last_id"] + 1
    # the rotation did not relax the start of the chain: deleting the new first record shows
    sv_app.db.execute("DELETE FROM audit WHERE id=?", (first,))
    bad = (await run(client, "CHRONICLE", {}))["result"]
    assert bad["ok"] is False and bad["problems"][0]["kind"] == "first_records_deleted", bad
    # nor can the checkpoint be moved to match without the key
    doc = json.loads(sv_app.db.one("SELECT doc FROM audit_checkpoint")["doc"])
    doc["start_id"], doc["start_hash"] = first, sv_app.db.one(
        "SELECT prev_hash FROM audit ORDER BY id LIMIT 1")["prev_hash"]
    sv_app.db.execute("UPDATE audit_checkpoint SET doc=?", (json.dumps(doc),))
    kinds = [p["kind"] for p in sv_app.audit_log.verify()["problems"]]
    assert kinds == ["checkpoint_forged"], kinds


async def test_synapse_passes_results_along(client, area: Path) -> None:
    (area / "sub").mkdir()
    (area / "sub/a.bin").write_bytes(b"a" * 1000)
    r = (await run(client, "SYNAPSE", {"steps": [
        {"agent": "PRISM", "params": {"path": str(area)}},
        {"agent": "VERTEX", "params": {"path": "${prev.largest.0.path}/.."}},
    ]}))["result"]
    assert r["ok"] and [s["agent"] for s in r["steps"]] == ["PRISM", "VERTEX"]
    assert r["result"]["root"]["path"] == str(area / "sub") and r["result"]["root"]["apparent_bytes"] == 1000
    resp = await client.post("/api/v1/agents/SYNAPSE/task",
                             json={"params": {"steps": [{"agent": "SYNAPSE", "params": {}}]}})
    assert resp.status == 400
    resp = await client.post("/api/v1/agents/SYNAPSE/task",
                             json={"params": {"steps": [{"agent": "NOPE", "params": {}}]}})
    assert resp.status == 404
    job = await run(client, "SYNAPSE", {"steps": [
        {"agent": "SHIELD", "params": {"path": str(area)}},
        {"agent": "PRISM", "params": {"path": str(area)}}]}, state="FAILED")
    assert "step 0 (SHIELD) FAILED" in job["error"]


class Receiver:
    """A loopback webhook receiver that fails the first ``fail`` deliveries with ``status``."""

    def __init__(self, fail: int = 0, status: int = 503):
        self.fail, self.status = fail, status
        self.received: list[dict[str, Any]] = []
        self.got = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append({"headers": dict(request.headers), "body": body})
        if len(self.received) <= self.fail:
            return web.Response(status=self.status)
        self.got.set()
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver() -> Any:
    rec = Receiver(fail=2)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/hook"))
    yield rec
    await server.close()


async def test_relay_retries_with_backoff(client, receiver) -> None:
    r = (await run(client, "RELAY", {"targets": [receiver.url], "event": "test", "payload": {"n": 1},
                                     "backoff": 0.05}))["result"]
    d = r["deliveries"][0]
    assert d["delivered"] and [a.get("status") for a in d["attempts"]] == [503, 503, 200]
    assert d["attempts"][0]["retry_in"] == 0.05 and d["attempts"][1]["retry_in"] == 0.1
    assert json.loads(receiver.received[-1]["body"]) == {"n": 1}
    assert receiver.received[-1]["headers"]["X-SigmaVault-Event"] == "test"
    receiver.fail, receiver.status = 10, 404
    receiver.received.clear()
    job = await run(client, "RELAY", {"targets": [receiver.url], "backoff": 0.01}, state="FAILED")
    assert "HTTP 404" in job["error"] and len(receiver.received) == 1  # a 4xx is not retried
    resp = await client.post("/api/v1/agents/RELAY/task", json={"params": {"targets": ["ftp://x"]}})
    assert resp.status == 400


async def test_relay_unreachable_target_fails_after_attempts(client) -> None:
    from sigmavault.testing import free_port
    job = await run(client, "RELAY", {"targets": [f"http://127.0.0.1:{free_port()}/x"], "attempts": 3,
                                      "backoff": 0.01}, state="FAILED")
    assert "after 3 attempts" in job["error"]


@pytest.fixture
def sv_config_overrides(area: Path, receiver) -> dict[str, Any]:
    return {"plugins": {"disabled": others()},
            "agents": {"allowed_roots": [str(area)], "scheduler_interval": 0.2, "webhooks": [
        {"name": "ops", "url": receiver.url, "events": ["alert"], "secret": "s3cret"}]}}


async def test_alerts_are_relayed_signed(client, sv_app, receiver) -> None:
    receiver.fail = 0
    sv_app.events.publish("alert", {"id": "t1", "severity": "warning", "message": "disk hot",
                                    "source": "test", "active": True})
    await asyncio.wait_for(receiver.got.wait(), 10)
    got = receiver.received[-1]
    envelope = json.loads(got["body"])
    assert envelope["type"] == "alert" and envelope["data"]["message"] == "disk hot"
    expected = "sha256=" + hmac.new(b"s3cret", got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-SigmaVault-Signature"] == expected
    tasks = await (await client.get("/api/v1/agents/RELAY/tasks")).json()
    assert tasks["items"][0]["source"] == "event:alert"


async def test_omniscient_schedules_and_health(client, area: Path) -> None:
    resp = await client.post("/api/v1/agents/schedules", json={"agent": "prism", "cron": "* * * * * *",
                                                              "params": {"path": str(area)}})
    sched = await resp.json()
    assert resp.status == 201, sched
    for _ in range(100):
        page = await (await client.get("/api/v1/agents/PRISM/tasks")).json()
        if page["total"] >= 2:
            break
        await asyncio.sleep(0.1)
    assert page["total"] >= 2 and page["items"][0]["source"] == f"schedule:{sched['id']}"
    await wait_job(client, page["items"][0]["id"])
    swarm = await (await client.get("/api/v1/agents/swarm")).json()
    assert swarm["schedules"][0]["runs"] >= 2 and swarm["agents"] >= 16
    assert (await client.delete(f"/api/v1/agents/schedules/{sched['id']}")).status == 204
    bad = await client.post("/api/v1/agents/schedules", json={"agent": "PRISM", "cron": "61 * * * *",
                                                             "params": {"path": str(area)}})
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "invalid_cron"
    bad = await client.post("/api/v1/agents/schedules", json={"agent": "PRISM", "cron": "* * * * *", "params": {}})
    assert bad.status == 422
    made = (await run(client, "OMNISCIENT", {"action": "schedule", "agent": "VERTEX", "cron": "0 3 * * *",
                                             "params": {"path": str(area)}}))["result"]
    assert made["agent"] == "VERTEX" and made["next_run"].endswith("03:00:00.000+00:00")
    health = (await run(client, "OMNISCIENT", {}))["result"]
    assert health["schedules"] == 1 and health["swarm"]["agents"] >= 16 and "healthy" in health
    gone = (await run(client, "OMNISCIENT", {"action": "unschedule", "schedule_id": made["id"]}))["result"]
    assert gone["deleted"] == made["id"]
    assert (await (await client.get("/api/v1/agents/schedules")).json()) == []
