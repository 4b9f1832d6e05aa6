"""BRIDGE, the share health agent: drift between the shares and what the system does is reported,
and repaired on request."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from sigmavault.testing import api_call, require_tool, wait_job

PASSWORD = "Correct-Horse-42"


@pytest.fixture
def sv_config_overrides(public_dir: Path) -> dict[str, Any]:
    require_tool("setfacl", "getfacl")
    return {"shares": {"first_id": 3900, "last_id": 3999},
            "storage": {"pools_root": str(public_dir), "monitor_interval": 0}}


async def bridge(client, **params: Any) -> dict:
    task = await api_call(client, "POST", "/agents/BRIDGE/task", 202, json={"params": params})
    done = await wait_job(client, task["job_id"], timeout=60)
    assert done["state"] == "SUCCESS", done
    return done["result"]


async def test_bridge_reports_and_repairs_acl_drift(nas_accounts, client) -> None:
    await api_call(client, "POST", "/storage/pools", 201, json={"name": "br", "backend": "dir"})
    vol = await api_call(client, "POST", "/storage/pools/br/volumes", 201, json={"name": "docs"})
    await api_call(client, "POST", "/shares/users", 201,
                   json={"name": "svtalice", "password": PASSWORD})
    await api_call(client, "POST", "/shares", 201, json={
        "name": "docs", "pool": "br", "volume": "docs", "protocols": [],
        "access": [{"kind": "user", "name": "svtalice", "level": "write"}]})

    healthy = await bridge(client)
    assert healthy["healthy"] is True and healthy["shares"] == [
        {"share": "docs", "problems": [], "repaired": False}]

    # somebody takes alice's write permission away behind SigmaVault's back
    subprocess.run(["setfacl", "-m", "u:svtalice:r-x", vol["path"]], check=True)
    drift = await bridge(client)
    assert drift["healthy"] is False
    [problem] = drift["shares"][0]["problems"]
    assert "svtalice gets read" in problem and "says write" in problem
    assert (await api_call(client, "GET", "/shares/docs/access?user=svtalice", 200))["access"] == "read"

    repaired = await bridge(client, repair=True)
    assert repaired["repaired"] is True and repaired["shares"][0]["repaired"] is True
    assert (await bridge(client))["healthy"] is True
    assert (await api_call(client, "GET", "/shares/docs/access?user=svtalice", 200))["access"] == "write"


async def test_bridge_checks_one_share_and_refuses_bad_params(nas_accounts, client) -> None:
    resp = await client.post("/api/v1/agents/BRIDGE/task", json={"params": {"share": "a/b"}})
    assert resp.status == 422
    resp = await client.post("/api/v1/agents/BRIDGE/task", json={"params": {"fix": True}})
    assert resp.status == 422
    assert (await bridge(client, share="nosuch"))["shares"] == []
