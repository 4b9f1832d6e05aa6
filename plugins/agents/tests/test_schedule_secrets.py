"""Scheduled QUANTUM and VAULT tasks keep their passphrases: sealed at rest, masked in the API,
unmasked for the run, and kept when an edit echoes the mask back."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from sigmavault.sealed import KEY_FILE
from sigmavault.testing import api_call, require, wait_job

from sigmavault_agents.scheduler import Scheduler

from .conftest import others

PASS = "correct horse battery"
MASK = "**********"


@pytest.fixture
def sv_config_overrides(area: Path) -> dict[str, Any]:
    require(importlib.util.find_spec("sigmavault_encryption") is not None,
            "the encryption plugin (sigmavault-encryption) for QUANTUM and VAULT")
    return {"plugins": {"disabled": others("sigmavault-encryption")},
            "agents": {"allowed_roots": [str(area)], "retry_backoff": 0.01, "scheduler_interval": 0.2},
            "encryption": {"allowed_roots": [str(area)], "scrypt_log_n": 10}}


async def _run_schedule(sv_app, client, sid: str) -> dict:
    """Let the daemon's scheduler run the schedule now (as if its time had come); the finished job."""
    due = sv_app.db.one("SELECT next_run FROM agents_schedules WHERE id=?", (sid,))["next_run"]
    [task_id] = sv_app.services[Scheduler].run_due(due)
    got = await api_call(client, "GET", f"/agents/schedules/{sid}", 200)
    assert got["last_task"] == task_id and got["last_error"] is None, got
    return await wait_job(client, task_id, 60)


def _stored(sv_app, sid: str) -> dict:
    return sv_app.db.one("SELECT * FROM agents_schedules WHERE id=?", (sid,))


def _job_rows(sv_app, job_id: str) -> str:
    job = sv_app.db.one("SELECT params FROM jobs WHERE id=?", (job_id,))
    task = sv_app.db.one("SELECT params FROM agents_tasks WHERE id=?", (job_id,))
    return job["params"] + task["params"]


async def _opens_with(client, key_id: str, passphrase: str) -> bool:
    await api_call(client, "POST", f"/encryption/keys/{key_id}/lock", 200)
    unlock = f"/api/v1/encryption/keys/{key_id}/unlock"
    async with client.post(unlock, json={"passphrase": passphrase}) as resp:
        return resp.status == 200


async def test_quantum_schedule_seals_the_new_key_with_the_users_passphrase(sv_app, client) -> None:
    sched = await api_call(client, "POST", "/agents/schedules", 201, json={
        "agent": "QUANTUM", "cron": "0 3 * * *",
        "params": {"action": "generate", "name": "pq", "passphrase": PASS}})
    assert sched["params"]["passphrase"] == MASK
    job = await _run_schedule(sv_app, client, sched["id"])
    assert job["state"] == "SUCCESS", job
    key = job["result"]["key"]
    assert await _opens_with(client, key["id"], PASS)
    assert not await _opens_with(client, key["id"], MASK)

    # at rest: the passphrase is sealed (never plain, never the mask) under a 0600 daemon key
    row = _stored(sv_app, sched["id"])
    assert PASS not in json.dumps(row) and PASS not in _job_rows(sv_app, job["id"])
    assert row["secrets"].startswith("sv1:") and MASK not in row["secrets"]
    assert oct((sv_app.data_dir / KEY_FILE).stat().st_mode & 0o777) == "0o600"

    # an edit that echoes GET (secret masked) keeps the stored passphrase
    shown = await api_call(client, "GET", f"/agents/schedules/{sched['id']}", 200)
    assert shown["params"]["passphrase"] == MASK
    edited = await api_call(client, "PATCH", f"/agents/schedules/{sched['id']}", 200,
                            json={"params": {**shown["params"], "name": "pq2"}, "name": "nightly"})
    assert edited["params"] == {**shown["params"], "name": "pq2"} and edited["name"] == "nightly"
    assert MASK not in _stored(sv_app, sched["id"])["secrets"]
    job = await _run_schedule(sv_app, client, sched["id"])
    assert job["state"] == "SUCCESS" and job["result"]["key"]["name"] == "pq2", job
    assert await _opens_with(client, job["result"]["key"]["id"], PASS)

    # a new passphrase in an edit replaces the stored one
    await api_call(client, "PATCH", f"/agents/schedules/{sched['id']}", 200,
                   json={"params": {**shown["params"], "name": "pq3", "passphrase": "another pass"}})
    job = await _run_schedule(sv_app, client, sched["id"])
    assert job["state"] == "SUCCESS", job
    assert await _opens_with(client, job["result"]["key"]["id"], "another pass")


async def _bundle_restores(client, bundle: Path, passphrase: str) -> list[str]:
    """Delete every key, import ``bundle`` with ``passphrase``; the recipients it brought back."""
    for key in await api_call(client, "GET", "/encryption/keys", 200):
        await api_call(client, "DELETE", f"/encryption/keys/{key['id']}", 200, params={"confirm": "true"})
    async with client.post("/api/v1/encryption/import", json={
            "bundle": base64.b64encode(bundle.read_bytes()).decode(), "passphrase": passphrase,
            "new_passphrase": PASS}) as resp:
        return [k["recipient"] for k in await resp.json()] if resp.status == 201 else []


async def test_vault_schedule_exports_a_bundle_its_passphrase_opens(sv_app, client, area: Path) -> None:
    key = await api_call(client, "POST", "/encryption/keys", 201, json={"name": "k", "passphrase": PASS})
    export = {"action": "export", "passphrase": "bundle pass", "path": {"path": str(area / "keys.age")}}
    sched = await api_call(client, "POST", "/agents/schedules", 201,
                           json={"agent": "VAULT", "cron": "0 3 * * *", "params": export})
    job = await _run_schedule(sv_app, client, sched["id"])
    assert job["state"] == "SUCCESS" and job["result"]["exported"] == [key["id"]], job
    assert "bundle pass" not in _job_rows(sv_app, job["id"])
    assert await _bundle_restores(client, area / "keys.age", "bundle pass") == [key["recipient"]]

    # a priority edit with a masked echo of the params leaves the secret alone
    await api_call(client, "PATCH", f"/agents/schedules/{sched['id']}", 200,
                   json={"params": sched["params"], "priority": 5})
    assert "bundle pass" not in json.dumps(await api_call(client, "GET", "/agents/schedules", 200))
    job = await _run_schedule(sv_app, client, sched["id"])
    assert job["state"] == "SUCCESS", job
    assert await _bundle_restores(client, area / "keys.age", "bundle pass") == [key["recipient"]]


async def test_the_mask_is_never_taken_for_a_secret(sv_app, client) -> None:
    params = {"action": "generate", "name": "pq", "passphrase": MASK}
    err = await api_call(client, "POST", "/agents/schedules", 422,
                         json={"agent": "QUANTUM", "cron": "0 3 * * *", "params": params})
    assert err["error"]["code"] == "masked_secret" and "params.passphrase" in err["error"]["message"]
    err = await api_call(client, "POST", "/agents/QUANTUM/task", 422, json={"params": params})
    assert err["error"]["code"] == "masked_secret"
    assert sv_app.db.all("SELECT id FROM agents_schedules") == []


async def test_agent_params_carried_by_omniscient_and_synapse_stay_secret(sv_app, client,
                                                                          area: Path) -> None:
    async def agent_job(agent: str, params: dict) -> dict:
        task = await api_call(client, "POST", f"/agents/{agent}/task", 202, json={"params": params})
        return await wait_job(client, task["id"], 60)

    job = await agent_job("OMNISCIENT", {"action": "schedule", "agent": "QUANTUM", "cron": "0 3 * * *",
                                         "params": {"action": "generate", "name": "pq", "passphrase": PASS}})
    assert job["state"] == "SUCCESS", job
    assert job["params"]["params"]["params"]["passphrase"] == MASK
    assert PASS not in _job_rows(sv_app, job["id"])
    sched = job["result"]
    assert sched["params"]["passphrase"] == MASK
    run = await _run_schedule(sv_app, client, sched["id"])
    assert run["state"] == "SUCCESS", run
    assert await _opens_with(client, run["result"]["key"]["id"], PASS)

    export = {"action": "export", "passphrase": "bundle pass", "path": {"path": str(area / "keys.age")}}
    # the second step's params refer to the first's result, so they validate only when it runs
    again = {**export, "passphrase": "second pass", "key_ids": "${prev.exported}"}
    job = await agent_job("SYNAPSE", {"steps": [{"agent": "VAULT", "params": export},
                                                {"agent": "VAULT", "params": again}]})
    assert job["state"] == "SUCCESS", job
    assert [s["params"]["passphrase"] for s in job["params"]["params"]["steps"]] == [MASK, MASK]
    rows = _job_rows(sv_app, job["id"])
    assert "bundle pass" not in rows and "second pass" not in rows
    assert await _bundle_restores(client, area / "keys.age", "second pass")


async def test_cipher_schedule_encrypts_with_the_users_passphrase(sv_app, client, area: Path) -> None:
    (area / "a").write_bytes(b"only the passphrase opens this")
    sched = await api_call(client, "POST", "/agents/schedules", 201, json={
        "agent": "CIPHER", "cron": "0 3 * * *", "params": {
            "operation": "encrypt", "source": {"path": str(area / "a")}, "passphrase": "file pass",
            "overwrite": True}})
    assert sched["params"]["passphrase"] == MASK
    job = await _run_schedule(sv_app, client, sched["id"])
    assert job["state"] == "SUCCESS", job
    assert "file pass" not in _job_rows(sv_app, job["id"]) + json.dumps(_stored(sv_app, sched["id"]))
    decrypt = {"operation": "decrypt", "source": {"path": str(area / "a.age")},
               "target": {"path": str(area / "b")}}
    task = await api_call(client, "POST", "/agents/CIPHER/task", 202,
                          json={"params": {**decrypt, "passphrase": "file pass"}})
    assert (await wait_job(client, task["id"], 60))["state"] == "SUCCESS"
    assert (area / "b").read_bytes() == b"only the passphrase opens this"
