"""FORTRESS, SENTINEL, SHIELD, GUARDIAN and PHANTOM through the API on real files."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sigmavault.testing import next_event

from .test_agents_files import run


def populate(root: Path, n: int = 10) -> None:
    for i in range(n):
        (root / f"doc{i}.txt").write_text(f"report {i}\n" + "quarterly numbers look fine\n" * 300)


async def test_sentinel_quiet_then_alerts(client, area: Path) -> None:
    populate(area)
    r = (await run(client, "SENTINEL", {"path": str(area)}))["result"]
    assert r["baseline"] and r["files"] == 10
    for i in range(3):
        with open(area / f"doc{i}.txt", "a") as f:
            f.write("edited\n")
    quiet = (await run(client, "SENTINEL", {"path": str(area)}))["result"]
    assert quiet["changed"] == 3 and quiet["alert"] is False
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["alert"]})
    await asyncio.sleep(0.1)
    for i in range(10):
        p = area / f"doc{i}.txt"
        p.with_suffix(".txt.enc").write_bytes(os.urandom(p.stat().st_size))
        p.unlink()
    loud = (await run(client, "SENTINEL", {"path": str(area)}))["result"]
    assert loud["alert"] is True and loud["suspicious_count"] == 10
    alert = await next_event(ws, "alert")
    assert alert["data"]["source"] == "SENTINEL" and alert["data"]["severity"] == "critical"
    await ws.close()


async def test_shield_one_flipped_byte(client, area: Path) -> None:
    populate(area)
    built = (await run(client, "SHIELD", {"path": str(area), "action": "build"}))["result"]
    assert built["files"] == 10
    assert (await run(client, "SHIELD", {"path": str(area)}))["result"]["ok"] is True
    victim = area / "doc7.txt"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    r = (await run(client, "SHIELD", {"path": str(area)}))["result"]
    assert r["ok"] is False and [m["path"] for m in r["modified"]] == ["doc7.txt"]
    assert r["missing"] == [] and r["added"] == []


async def test_guardian(client, area: Path) -> None:
    (area / "open").write_text("x")
    (area / "open").chmod(0o777)
    (area / "fine").write_text("x")
    r = (await run(client, "GUARDIAN", {"path": str(area)}))["result"]
    assert [(f["path"], f["kind"]) for f in r["findings"]] == [(str(area / "open"), "world_writable")]


async def test_phantom_needs_confirmation(client, area: Path) -> None:
    secret = area / "secret.key"
    secret.write_bytes(b"k" * 4096)
    dry = (await run(client, "PHANTOM", {"targets": [{"path": str(secret)}]}))["result"]
    assert dry["dry_run"] and dry["files"] == 1 and dry["bytes"] == 4096 and secret.exists()
    resp = await client.post("/api/v1/agents/PHANTOM/task",
                             json={"params": {"targets": [{"path": str(secret)}], "dry_run": False}})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "confirmation_required"
    resp = await client.post("/api/v1/agents/PHANTOM/task", json={"params": {
        "targets": [{"path": str(area)}], "dry_run": False, "confirm": "ERASE"}})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "refused"
    assert secret.exists()
    done = (await run(client, "PHANTOM", {"targets": [{"path": str(secret)}], "dry_run": False,
                                          "confirm": "ERASE"}))["result"]
    assert done["erased_files"] == 1 and not secret.exists()


@pytest.mark.sv_config({"agents": {"allowed_roots": ["/nonexistent-sv-root"]}})
async def test_fortress_finds_planted_problems(client, sv_app) -> None:
    sv_app.auth.create_user("weak", "password", "readonly")
    leaky = Path(sv_app.data_dir) / "leaky.key"
    leaky.write_text("secret")
    leaky.chmod(0o644)
    r = (await run(client, "FORTRESS", {}))["result"]
    ids = {f["id"]: f for f in r["findings"]}
    assert ids["weak_password:weak"]["severity"] == "critical"
    assert f"file_mode:{leaky}" in ids
    assert "weak_password:admin" not in ids
    assert ids["password_never_changed:admin"]["severity"] == "info"
    assert "password_never_changed:weak" not in ids  # already reported as critical
    assert ids["agents_root_missing:/nonexistent-sv-root"]["source"] == "sigmavault-agents"
    assert any(k.startswith("key_no_expiry:") for k in ids)  # the test fixture's admin key
    assert r["ok"] is False
    assert isinstance(r["listening"], list)
