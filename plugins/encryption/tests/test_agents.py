"""Agents CIPHER, QUANTUM and VAULT: called directly through a job, and through the agents API
when the agents plugin is installed."""

from __future__ import annotations

import importlib.util
import os

import pytest
from sigmavault.testing import IN_CI, api_call, wait_job

PASS = "correct horse battery"
HAS_RUNTIME = importlib.util.find_spec("sigmavault_agents") is not None


@pytest.fixture
def agents_runtime() -> None:
    """The agents plugin is bundled: skip locally without it, fail under CI=true."""
    if not HAS_RUNTIME:
        if IN_CI:
            pytest.fail("CI needs the bundled agents plugin (sigmavault-agents)", pytrace=False)
        pytest.skip("agents plugin not installed")


def _agent(app, name):
    from sigmavault_encryption.agents import AGENTS
    return next(a for a in AGENTS if a.name == name)


async def _run_direct(app, name: str, params: dict) -> dict:
    """Run an agent's handler inside a job, without the agents runtime."""
    agent = _agent(app, name)
    model = agent.params_model.model_validate(params)
    await model.preflight(app)
    job = app.jobs.submit(f"test.{name}", lambda ctx: agent.run(ctx, model))
    done = await app.jobs.wait(job.id, 60)
    assert done.state.value == "SUCCESS", done.error
    return done.result


async def test_quantum_generates_and_rewraps_directly(sv_app, client, root):
    classic = await (await client.post("/api/v1/encryption/keys",
                                       json={"name": "old", "kind": "x25519", "passphrase": PASS})).json()
    (root / "f").write_bytes(os.urandom(90_000))
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"path": str(root / "f")}, "key_ids": [classic["id"]]})
    await wait_job(client, (await resp.json())["id"])
    result = await _run_direct(sv_app, "QUANTUM", {"action": "generate", "name": "pq", "passphrase": PASS})
    assert result["key"]["kind"] == "mlkem768x25519" and result["key"]["recipient"].startswith("age1pq1")
    result = await _run_direct(sv_app, "QUANTUM", {"action": "rewrap", "sources": [{"path": str(root / "f.age")}]})
    assert result["rewrapped"] == [str(root / "f.age")] and result["post_quantum"] is True
    status = await (await client.get("/api/v1/encryption/status")).json()
    assert status["items"]["post_quantum"] == 1 and status["post_quantum"]["protected"] is True


async def test_cipher_and_vault_directly(sv_app, client, root):
    key = await (await client.post("/api/v1/encryption/keys", json={"name": "k", "passphrase": PASS})).json()
    (root / "dir").mkdir()
    (root / "dir" / "x").write_bytes(b"x" * 5000)
    result = await _run_direct(sv_app, "CIPHER", {"operation": "encrypt", "source": {"path": str(root / "dir")},
                                                  "key_ids": [key["id"]]})
    assert result["kind"] == "folder" and result["post_quantum"]
    result = await _run_direct(sv_app, "CIPHER", {"operation": "verify", "source": {"path": result["target"]}})
    assert result["ok"] is True
    result = await _run_direct(sv_app, "VAULT", {"action": "export", "passphrase": "bundle pass",
                                                 "path": {"path": str(root / "keys.age")}})
    assert result["exported"] == [key["id"]]
    assert oct((root / "keys.age").stat().st_mode & 0o777) == "0o600"
    result = await _run_direct(sv_app, "VAULT", {"action": "rotate", "key_ids": [key["id"]], "passphrase": PASS})
    assert result["rotated"][0]["old"] == key["id"]


async def test_agents_api_dispatch_and_secret_masking(agents_runtime, client, root):
    resp = await client.get("/api/v1/agents/CIPHER")
    assert resp.status == 200, await resp.text()
    resp = await client.post("/api/v1/agents/QUANTUM/task",
                             json={"params": {"action": "generate", "name": "pq", "passphrase": PASS}})
    task = await resp.json()
    assert resp.status == 202, task
    assert PASS not in str(task["params"])
    job = await wait_job(client, task["id"])
    assert job["state"] == "SUCCESS", job
    assert PASS not in str(job["params"])
    (root / "a").write_bytes(b"agent")
    resp = await client.post("/api/v1/agents/CIPHER/task", json={"params": {
        "operation": "encrypt", "source": {"path": str(root / "a")}, "key_ids": [job["result"]["key"]["id"]]}})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS" and job["result"]["post_quantum"], job
    # bad input is refused before anything queues
    resp = await client.post("/api/v1/agents/CIPHER/task", json={"params": {
        "operation": "encrypt", "source": {"path": "/etc/passwd"}, "key_ids": [job["result"]["recipients"][0]]}})
    assert resp.status == 400, await resp.text()
    resp = await client.post("/api/v1/agents/VAULT/task", json={"params": {"action": "rotate", "passphrase": PASS}})
    assert resp.status == 422


async def _agent_task(client, agent: str, params: dict) -> dict:
    """POST /agents/{agent}/task, wait for its job; the finished job."""
    task = await api_call(client, "POST", f"/agents/{agent}/task", 202, json={"params": params})
    return await wait_job(client, task["id"])


async def test_agents_api_cipher_decrypt(agents_runtime, client, root):
    key = await api_call(client, "POST", "/encryption/keys", 201, json={"name": "k", "passphrase": PASS})
    plain = os.urandom(300_000)  # several 64 KiB chunks
    (root / "a").write_bytes(plain)
    job = await _agent_task(client, "CIPHER", {"operation": "encrypt", "source": {"path": str(root / "a")},
                                               "key_ids": [key["id"]]})
    assert job["state"] == "SUCCESS", job
    job = await _agent_task(client, "CIPHER", {"operation": "decrypt", "source": {"path": str(root / "a.age")},
                                               "target": {"path": str(root / "back")}})
    assert job["state"] == "SUCCESS", job
    assert (root / "back").read_bytes() == plain
    # a flipped payload byte: the task fails and no plaintext (not even a partial one) appears
    tampered = bytearray((root / "a.age").read_bytes())
    tampered[-1000] ^= 0x01
    (root / "t.age").write_bytes(bytes(tampered))
    job = await _agent_task(client, "CIPHER", {"operation": "decrypt", "source": {"path": str(root / "t.age")},
                                               "target": {"path": str(root / "t.out")}})
    assert job["state"] == "FAILED", job
    assert not (root / "t.out").exists()
    assert sorted(p.name for p in root.iterdir()) == ["a", "a.age", "back", "t.age"]
    status = await api_call(client, "GET", "/encryption/status", 200)
    assert status["authentication_failures"]["count"] == 1
    assert status["authentication_failures"]["last_path"] == str(root / "t.age")


async def test_agents_api_vault_export_then_import_restores_a_deleted_key(agents_runtime, client, root):
    key = await api_call(client, "POST", "/encryption/keys", 201, json={"name": "k", "passphrase": PASS})
    (root / "a").write_bytes(b"keep me readable")
    job = await _agent_task(client, "CIPHER", {"operation": "encrypt", "source": {"path": str(root / "a")},
                                               "key_ids": [key["id"]]})
    assert job["state"] == "SUCCESS", job
    job = await _agent_task(client, "VAULT", {"action": "export", "passphrase": "bundle pass",
                                              "path": {"path": str(root / "keys.age")}})
    assert job["state"] == "SUCCESS" and job["result"]["exported"] == [key["id"]], job
    await api_call(client, "DELETE", f"/encryption/keys/{key['id']}", 200, params={"confirm": "true"})
    # without the key the file cannot be opened: refused before a task queues
    await api_call(client, "POST", "/agents/CIPHER/task", 409, json={"params": {
        "operation": "decrypt", "source": {"path": str(root / "a.age")}}})
    # a wrong bundle passphrase fails the import and adds nothing
    job = await _agent_task(client, "VAULT", {"action": "import", "passphrase": "wrong",
                                              "new_passphrase": "new pass", "path": {"path": str(root / "keys.age")}})
    assert job["state"] == "FAILED", job
    assert await api_call(client, "GET", "/encryption/keys", 200) == []
    job = await _agent_task(client, "VAULT", {"action": "import", "passphrase": "bundle pass",
                                              "new_passphrase": "new pass", "path": {"path": str(root / "keys.age")}})
    assert job["state"] == "SUCCESS", job
    assert "bundle pass" not in str(job["params"]) and "new pass" not in str(job["params"])
    [imported] = job["result"]["imported"]
    assert imported["recipient"] == key["recipient"] and imported["name"] == "k"
    keys = await api_call(client, "GET", "/encryption/keys", 200)
    assert [k["recipient"] for k in keys] == [key["recipient"]]
    # the imported key is sealed with the new passphrase: lock, then only "new pass" unlocks it
    await api_call(client, "POST", f"/encryption/keys/{imported['id']}/lock", 200)
    await api_call(client, "POST", f"/encryption/keys/{imported['id']}/unlock", 403, json={"passphrase": PASS})
    await api_call(client, "POST", f"/encryption/keys/{imported['id']}/unlock", 200,
                   json={"passphrase": "new pass"})
    job = await _agent_task(client, "CIPHER", {"operation": "decrypt", "source": {"path": str(root / "a.age")},
                                               "target": {"path": str(root / "restored")}})
    assert job["state"] == "SUCCESS", job
    assert (root / "restored").read_bytes() == b"keep me readable"


async def test_agents_api_cipher_passphrase_and_armor(agents_runtime, client, root):
    """CIPHER encrypts with a passphrase (armored) and decrypts with it; the task keeps it masked."""
    secret = "cipher file passphrase"
    (root / "a").write_bytes(b"for your eyes" * 1000)
    job = await _agent_task(client, "CIPHER", {"operation": "encrypt", "source": {"path": str(root / "a")},
                                               "passphrase": secret, "armor": True})
    assert job["state"] == "SUCCESS", job
    assert secret not in str(job)
    assert (root / "a.age").read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    await api_call(client, "POST", "/agents/CIPHER/task", 400, json={"params": {
        "operation": "decrypt", "source": {"path": str(root / "a.age")}, "target": {"path": str(root / "b")}}})
    job = await _agent_task(client, "CIPHER", {"operation": "decrypt", "source": {"path": str(root / "a.age")},
                                               "target": {"path": str(root / "b")}, "passphrase": secret})
    assert job["state"] == "SUCCESS", job
    assert secret not in str(job) and (root / "b").read_bytes() == b"for your eyes" * 1000
