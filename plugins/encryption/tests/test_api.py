"""The plugin through its public surface: HTTP API, jobs, events, registry and hooks."""

from __future__ import annotations

import base64
import os

import pytest
from sigmavault.testing import wait_job

PASS = "correct horse battery"


async def _key(client, name="main", kind="mlkem768x25519") -> dict:
    resp = await client.post("/api/v1/encryption/keys", json={"name": name, "kind": kind, "passphrase": PASS})
    body = await resp.json()
    assert resp.status == 201, body
    return body


async def _job(client, path: str, body: dict, state="SUCCESS") -> dict:
    resp = await client.post(f"/api/v1/encryption/jobs/{path}", json=body)
    data = await resp.json()
    assert resp.status == 202, data
    job = await wait_job(client, data["id"])
    assert job["state"] == state, job
    return job


async def test_status_without_keys_claims_no_protection(client):
    resp = await client.get("/api/v1/encryption/status")
    status = await resp.json()
    assert resp.status == 200, status
    assert status["backend"]["library"] == "cryptography"
    assert int(status["backend"]["version"].split(".")[0]) >= 48
    assert status["post_quantum"]["supported"] is True
    assert status["post_quantum"]["protected"] is False
    assert "no mlkem768x25519 key" in status["post_quantum"]["reason"]
    assert status["keys"] == [] and status["items"]["total"] == 0
    assert status["last_verify"] is None and status["authentication_failures"]["count"] == 0


async def test_key_crud_lock_unlock(client, readonly_client):
    key = await _key(client)
    assert key["state"] == "unlocked" and key["post_quantum"] and key["recipient"].startswith("age1pq1")
    assert (await readonly_client.post("/api/v1/encryption/keys",
                                       json={"name": "x", "passphrase": PASS})).status == 403
    listed = await (await readonly_client.get("/api/v1/encryption/keys")).json()
    assert [k["id"] for k in listed] == [key["id"]]
    resp = await client.post(f"/api/v1/encryption/keys/{key['id']}/lock")
    assert (await resp.json())["state"] == "locked"
    resp = await client.post(f"/api/v1/encryption/keys/{key['id']}/unlock", json={"passphrase": "wrong one!"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "wrong_passphrase"
    resp = await client.post(f"/api/v1/encryption/keys/{key['id']}/unlock", json={"passphrase": PASS})
    assert resp.status == 200 and (await resp.json())["state"] == "unlocked"
    resp = await client.patch(f"/api/v1/encryption/keys/{key['id']}", json={"name": "renamed"})
    assert (await resp.json())["name"] == "renamed"
    assert (await client.post("/api/v1/encryption/lock")).status == 200
    resp = await client.delete(f"/api/v1/encryption/keys/{key['id']}")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "confirmation_required"
    resp = await client.delete(f"/api/v1/encryption/keys/{key['id']}", params={"confirm": "true"})
    assert resp.status == 200
    assert (await client.get(f"/api/v1/encryption/keys/{key['id']}")).status == 404


async def test_bad_key_requests_are_4xx(client):
    for body in ({"name": "../x", "passphrase": PASS}, {"name": "a", "kind": "rsa", "passphrase": PASS},
                 {"name": "a"}):
        resp = await client.post("/api/v1/encryption/keys", json=body)
        assert resp.status == 422, await resp.text()
    resp = await client.post("/api/v1/encryption/keys", json={"name": "a", "passphrase": "short"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "weak_passphrase"
    await _key(client, "a")
    resp = await client.post("/api/v1/encryption/keys", json={"name": "a", "passphrase": PASS})
    assert resp.status == 409
    resp = await client.post("/api/v1/encryption/keys/k-0000000000000000/unlock", json={"passphrase": PASS})
    assert resp.status == 404


@pytest.mark.parametrize("kind", ["mlkem768x25519", "x25519"])
async def test_encrypt_decrypt_file_jobs(client, root, kind):
    key = await _key(client, kind=kind)
    data = os.urandom(200_000)
    (root / "doc.bin").write_bytes(data)
    job = await _job(client, "encrypt", {"source": {"path": str(root / "doc.bin")}, "key_ids": [key["id"]]})
    assert job["result"]["target"] == str(root / "doc.bin.age")
    assert job["result"]["post_quantum"] is (kind == "mlkem768x25519")
    assert job["progress"]["percent"] == 100
    head = (root / "doc.bin.age").read_bytes()[:80]
    assert head.startswith(b"age-encryption.org/v1\n-> " + (b"mlkem768x25519 " if kind != "x25519" else b"X25519 "))
    (root / "doc.bin").unlink()
    job = await _job(client, "decrypt", {"source": {"path": str(root / "doc.bin.age")}})
    assert (root / "doc.bin").read_bytes() == data
    status = await (await client.get("/api/v1/encryption/status")).json()
    assert status["items"]["total"] == 1 and status["items"]["post_quantum"] == int(kind != "x25519")
    assert status["post_quantum"]["protected"] is (kind == "mlkem768x25519")


async def test_folder_round_trip(client, root):
    key = await _key(client)
    tree = root / "album"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "p.raw").write_bytes(os.urandom(150_000))
    (tree / "readme").write_text("x")
    job = await _job(client, "encrypt", {"source": {"path": str(tree)}, "key_ids": [key["id"]]})
    assert job["result"]["kind"] == "folder" and job["result"]["target"].endswith("album.tar.age")
    job = await _job(client, "decrypt", {"source": {"path": str(root / "album.tar.age")},
                                         "target": {"path": str(root / "restored")}})
    assert (root / "restored" / "sub" / "p.raw").read_bytes() == (tree / "sub" / "p.raw").read_bytes()
    assert (root / "restored" / "readme").read_text() == "x"


async def test_tampered_file_fails_and_writes_nothing(client, root):
    key = await _key(client)
    (root / "a").write_bytes(os.urandom(140_000))
    await _job(client, "encrypt", {"source": {"path": str(root / "a")}, "key_ids": [key["id"]]})
    blob = bytearray((root / "a.age").read_bytes())
    blob[-70_000] ^= 0x01
    (root / "b.age").write_bytes(bytes(blob))
    job = await _job(client, "decrypt", {"source": {"path": str(root / "b.age")}}, state="FAILED")
    assert "failed to authenticate" in job["error"]
    assert sorted(p.name for p in root.iterdir()) == ["a", "a.age", "b.age"]
    job = await _job(client, "verify", {"source": {"path": str(root / "b.age")}}, state="FAILED")
    await _job(client, "verify", {"source": {"path": str(root / "a.age")}})
    status = await (await client.get("/api/v1/encryption/status")).json()
    assert status["authentication_failures"]["count"] == 2
    assert status["authentication_failures"]["last_path"] == str(root / "b.age")
    assert status["last_verify"]["ok"] is True and status["last_verify"]["path"] == str(root / "a.age")


async def test_job_requests_are_validated_before_anything_runs(client, root, tmp_path):
    pq = await _key(client, "pq")
    classic = await _key(client, "classic", "x25519")
    (root / "f").write_bytes(b"x")
    (root / "f.age").write_bytes(b"exists")
    outside = tmp_path / "outside"
    outside.write_bytes(b"x")
    cases = [
        ({"source": {"path": str(outside)}, "key_ids": [pq["id"]]}, 400, "path_not_allowed"),
        ({"source": {"path": str(root / "nope")}, "key_ids": [pq["id"]]}, 404, "not_found"),
        ({"source": {"path": str(root / "f")}, "key_ids": [pq["id"]]}, 409, "target_exists"),
        ({"source": {"path": str(root / "f")}, "key_ids": [pq["id"], classic["id"]],
          "target": {"path": str(root / "g.age")}}, 400, "mixed_recipients"),
        ({"source": {"path": str(root / "f")}, "recipients": ["age1notvalid"],
          "target": {"path": str(root / "g.age")}}, 400, "invalid_recipient"),
        ({"source": {"path": str(root / "f")}, "key_ids": [pq["id"]],
          "target": {"path": str(root / "missing" / "g.age")}}, 400, "no_parent_directory"),
        ({"source": {"path": "relative"}, "key_ids": [pq["id"]]}, 400, "invalid_path"),
    ]
    for body, status, code in cases:
        resp = await client.post("/api/v1/encryption/jobs/encrypt", json=body)
        data = await resp.json()
        assert (resp.status, data["error"]["code"]) == (status, code), (body, data)
    resp = await client.post("/api/v1/encryption/jobs/encrypt", json={"source": {"path": str(root / "f")}})
    assert resp.status == 422
    await client.post("/api/v1/encryption/lock")
    resp = await client.post("/api/v1/encryption/jobs/decrypt", json={"source": {"path": str(root / "f.age")}})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "no_unlocked_key"
    assert sorted(p.name for p in root.iterdir()) == ["f", "f.age"]


async def test_rotate_export_import_and_rewrap(client, root):
    old = await _key(client, "main", "x25519")
    (root / "f").write_bytes(b"payload" * 1000)
    await _job(client, "encrypt", {"source": {"path": str(root / "f")}, "key_ids": [old["id"]]})
    resp = await client.post(f"/api/v1/encryption/keys/{old['id']}/rotate", json={"passphrase": PASS})
    new = await resp.json()
    assert resp.status == 201 and new["rotated_from"] == old["id"] and new["name"] == "main"
    retired = await (await client.get(f"/api/v1/encryption/keys/{old['id']}")).json()
    assert retired["status"] == "retired" and retired["replaced_by"] == new["id"]
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"path": str(root / "f")}, "key_ids": [old["id"]],
                                   "target": {"path": str(root / "g.age")}})
    assert resp.status == 409
    pq = await _key(client, "pq")
    job = await _job(client, "rewrap", {"sources": [{"path": str(root / "f.age")}], "key_ids": [pq["id"]]})
    assert job["result"]["rewrapped"] == [str(root / "f.age")] and job["result"]["post_quantum"]
    assert b"-> mlkem768x25519 " in (root / "f.age").read_bytes()[:100]
    resp = await client.post("/api/v1/encryption/export", json={"key_ids": [pq["id"]], "passphrase": "bundle pass"})
    bundle = (await resp.json())["bundle"]
    assert base64.b64decode(bundle).startswith(b"age-encryption.org/v1\n-> scrypt ")
    await client.delete(f"/api/v1/encryption/keys/{pq['id']}", params={"confirm": "true"})
    resp = await client.post("/api/v1/encryption/import",
                             json={"bundle": bundle, "passphrase": "bundle pass", "new_passphrase": PASS})
    imported = await resp.json()
    assert resp.status == 201 and imported[0]["recipient"] == pq["recipient"]
    (root / "f").unlink()
    await _job(client, "decrypt", {"source": {"path": str(root / "f.age")}})
    assert (root / "f").read_bytes() == b"payload" * 1000


async def test_encryptor_registry_for_other_plugins(sv_app, client, root):
    key = await _key(client)
    encryptor = sv_app.registries["encryptors"]["age"]
    assert encryptor.default_recipients() == [key["id"]]
    (root / "backup.tar").write_bytes(os.urandom(70_000))
    result = await encryptor.encrypt_file(root / "backup.tar", root / "backup.tar.age", [key["id"]])
    assert result["post_quantum"] and result["plaintext_bytes"] == 70_000
    await encryptor.decrypt_file(root / "backup.tar.age", root / "restored.tar")
    assert (root / "restored.tar").read_bytes() == (root / "backup.tar").read_bytes()


async def test_security_checks_report_key_file_modes(sv_app, client):
    key = await _key(client)
    findings = [f for group in await sv_app.plugins.acall("security_checks", app=sv_app) for f in group]
    assert not [f for f in findings if f["id"].startswith("encryption.key")]
    keydir = sv_app.data_dir / "encryption" / "keys"
    os.chmod(keydir / f"{key['id']}.age", 0o644)
    findings = [f for group in await sv_app.plugins.acall("security_checks", app=sv_app) for f in group]
    assert any(f["id"] == "encryption.key_file_mode" and key["id"] in f["detail"] for f in findings)


async def test_openapi_documents_the_endpoints(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/encryption/status", "/api/v1/encryption/keys", "/api/v1/encryption/keys/{key_id}/unlock",
                 "/api/v1/encryption/jobs/encrypt"):
        assert path in spec["paths"], path


async def test_backend_without_mlkem_claims_no_pq(client, root, monkeypatch):
    """A backend without ML-KEM (simulated: this machine's has it) gets no post-quantum claim."""
    from sigmavault_encryption import xwing
    classic = await _key(client, "classic", "x25519")
    pq = await _key(client, "pq")
    monkeypatch.setattr(xwing, "supported", lambda: (False, "OpenSSL 3.0.2 does not provide ML-KEM-768"))
    status = await (await client.get("/api/v1/encryption/status")).json()
    assert status["post_quantum"] == {"supported": False, "protected": False,
                                      "reason": "no post-quantum protection: OpenSSL 3.0.2 does not provide ML-KEM-768"}
    assert status["backend"]["mlkem"] is False
    resp = await client.post("/api/v1/encryption/keys", json={"name": "x", "passphrase": PASS})
    assert resp.status == 501 and (await resp.json())["error"]["code"] == "pq_unsupported"
    (root / "f").write_bytes(b"x")
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"path": str(root / "f")}, "key_ids": [pq["id"]]})
    assert resp.status == 501
    await _job(client, "encrypt", {"source": {"path": str(root / "f")}, "key_ids": [classic["id"]]})


async def test_encryptor_defaults_and_refusals(sv_app, client, root):
    encryptor = sv_app.registries["encryptors"]["age"]
    (root / "f").write_bytes(b"data")
    from sigmavault.errors import APIError
    with pytest.raises(APIError) as err:
        await encryptor.encrypt_file(root / "f", root / "f.age")
    assert err.value.code == "no_recipients"
    classic = await _key(client, "c", "x25519")
    pq = await _key(client, "p")
    assert encryptor.default_recipients() == [pq["id"]]
    result = await encryptor.encrypt_file(root / "f", root / "f.age")
    assert result["post_quantum"] and result["recipients"] == [pq["fingerprint"]]
    await client.post("/api/v1/encryption/lock")
    with pytest.raises(APIError) as err:
        await encryptor.decrypt_file(root / "f.age", root / "g")
    assert err.value.code == "no_unlocked_key" and not (root / "g").exists()
    await client.post(f"/api/v1/encryption/keys/{classic['id']}/unlock", json={"passphrase": PASS})
    with pytest.raises(APIError) as err:
        await encryptor.decrypt_file(root / "f.age", root / "g")
    assert err.value.code == "no_matching_key" and not (root / "g").exists()


async def test_events_over_websocket(client, root):
    from sigmavault.testing import next_event
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["encryption.*", "alert", "job.progress"]})
    await next_event(ws, "client.subscribed")
    key = await _key(client)
    event = await next_event(ws, "encryption.event")
    assert event["data"]["action"] == "key_created" and event["data"]["key_id"] == key["id"]
    (root / "a").write_bytes(os.urandom(70_000))
    await _job(client, "encrypt", {"source": {"path": str(root / "a")}, "key_ids": [key["id"]]})
    done = await next_event(ws, lambda e: e["type"] == "job.progress" and e["data"]["state"] == "SUCCESS")
    assert done["data"]["kind"] == "encryption.encrypt"
    blob = bytearray((root / "a.age").read_bytes())
    blob[-1] ^= 1
    (root / "b.age").write_bytes(bytes(blob))
    await _job(client, "verify", {"source": {"path": str(root / "b.age")}}, state="FAILED")
    alert = await next_event(ws, "alert")
    assert alert["data"]["source"] == "encryption" and str(root / "b.age") in alert["data"]["message"]
    await ws.close()


async def test_temporaries_of_interrupted_jobs_are_removed_at_startup(sv_app, root):
    """After a crash the core marks RUNNING jobs interrupted; the service's start() then removes
    their temporaries."""
    import json as _json
    from sigmavault.files import temp_path_for
    from sigmavault.jobs import now
    from sigmavault_encryption.service import EncryptionService

    target = root / "big.img.age"
    tmp_file = temp_path_for(target)
    tmp_file.write_bytes(b"partial ciphertext")
    folder = root / "restored"
    tmp_dir = temp_path_for(folder)
    (tmp_dir / "album").mkdir(parents=True)
    unrelated = root / ".big.img.age.other"
    unrelated.write_bytes(b"keep")
    for kind, params in (("encryption.encrypt", {"source": str(root / "big.img"), "target": str(target)}),
                         ("agent.CIPHER", {"agent": "CIPHER", "params": {
                             "operation": "decrypt", "source": {"path": str(root / "x.tar.age")},
                             "target": {"path": str(folder)}}})):
        sv_app.db.execute("INSERT INTO jobs(id, kind, description, state, params, owner, created_at)"
                          " VALUES(?,?,?,?,?,?,?)", (os.urandom(8).hex(), kind, kind, "RUNNING",
                                                   _json.dumps(params), "encryption", now()))
    assert len(sv_app.jobs.start()) == 2  # what the core does when a daemon restarts
    await sv_app.services[EncryptionService].start()
    assert not tmp_file.exists() and not tmp_dir.exists() and unrelated.exists()
    tmp_file.write_bytes(b"a later job's temporary")
    await sv_app.services[EncryptionService].start()  # each interrupted job is handled once
    assert tmp_file.exists()


async def test_passphrase_and_armor_jobs(client, root):
    """Encrypt with a passphrase instead of a key, armored; decrypting asks for that passphrase."""
    data = os.urandom(100_000)
    (root / "doc").write_bytes(data)
    secret = "file passphrase 1"
    job = await _job(client, "encrypt", {"source": {"path": str(root / "doc")}, "passphrase": secret,
                                         "armor": True})
    assert job["result"]["armor"] is True and job["result"]["recipients"] == ["passphrase"]
    assert secret not in str(job) and job["params"]["passphrase"] is True
    blob = (root / "doc.age").read_bytes()
    assert blob.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert base64.b64decode(blob.split(b"\n")[1]).startswith(b"age-encryption.org/v1\n-> scrypt ")
    (root / "doc").unlink()
    resp = await client.post("/api/v1/encryption/jobs/decrypt", json={"source": {"path": str(root / "doc.age")}})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["code"] == "passphrase_required", body
    assert body["error"]["details"] == {"field": "passphrase"}
    job = await _job(client, "decrypt", {"source": {"path": str(root / "doc.age")}, "passphrase": "wrong"},
                     state="FAILED")
    assert "the passphrase does not open this file" in job["error"]
    assert sorted(p.name for p in root.iterdir()) == ["doc.age"]
    await _job(client, "verify", {"source": {"path": str(root / "doc.age")}, "passphrase": secret})
    await _job(client, "decrypt", {"source": {"path": str(root / "doc.age")}, "passphrase": secret})
    assert (root / "doc").read_bytes() == data


async def test_passphrase_requests_are_validated(client, root):
    key = await _key(client, kind="x25519")
    (root / "f").write_bytes(b"x")
    for body in ({"passphrase": "p", "key_ids": [key["id"]]}, {"passphrase": "p", "recipients": [key["recipient"]]},
                 {"passphrase": ""}):
        resp = await client.post("/api/v1/encryption/jobs/encrypt", json={"source": {"path": str(root / "f")}, **body})
        assert resp.status == 422, await resp.text()
    await _job(client, "encrypt", {"source": {"path": str(root / "f")}, "key_ids": [key["id"]], "armor": True})
    resp = await client.post("/api/v1/encryption/jobs/decrypt",
                             json={"source": {"path": str(root / "f.age")}, "target": {"path": str(root / "g")},
                                   "passphrase": "not a key"})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "FAILED" and "passphrase does not open this file" in job["error"]
    await _job(client, "decrypt", {"source": {"path": str(root / "f.age")}, "target": {"path": str(root / "g")}})
    assert (root / "g").read_bytes() == b"x"


async def test_rewrap_keeps_an_armored_file_armored(client, root):
    old = await _key(client, "old", "x25519")
    new = await _key(client, "new", "x25519")
    (root / "f").write_bytes(os.urandom(70_000))
    await _job(client, "encrypt", {"source": {"path": str(root / "f")}, "key_ids": [old["id"]], "armor": True})
    job = await _job(client, "rewrap", {"sources": [{"path": str(root / "f.age")}], "key_ids": [new["id"]]})
    assert job["result"]["rewrapped"] == [str(root / "f.age")], job
    assert (root / "f.age").read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    await client.delete(f"/api/v1/encryption/keys/{old['id']}", params={"confirm": "true"})
    await _job(client, "decrypt", {"source": {"path": str(root / "f.age")}, "target": {"path": str(root / "g")}})
    assert (root / "g").read_bytes() == (root / "f").read_bytes()


async def test_operations_are_named_methods_too(client, sv_app, root):
    """Each route is also an ``app.call`` method, validated by the same models; models come back
    as dicts, a job operation returns the job."""
    names = {m["name"] for m in await (await client.get("/api/v1/methods")).json()}
    assert {"encryption.status", "encryption.keys.list", "encryption.key.create", "encryption.key.unlock",
            "encryption.keys.export", "encryption.encrypt", "encryption.decrypt", "encryption.verify",
            "encryption.rewrap"} <= names
    key = await sv_app.call("encryption.key.create", name="called", kind="x25519", passphrase=PASS)
    assert key["kind"] == "x25519" and key["state"] == "unlocked"
    from sigmavault.errors import APIError
    with pytest.raises(APIError) as bad:
        await sv_app.call("encryption.key.create", name="bad name!", passphrase=PASS)
    assert bad.value.status == 422
    (root / "called.txt").write_bytes(b"through app.call")
    job = await sv_app.call("encryption.encrypt", source={"path": str(root / "called.txt")},
                            key_ids=[key["id"]])
    assert (await wait_job(client, job["id"]))["state"] == "SUCCESS"
    assert (await sv_app.call("encryption.status"))["items"]["total"] == 1
    await sv_app.call("encryption.key.lock", key_id=key["id"])
    assert (await sv_app.call("encryption.key.get", key_id=key["id"]))["state"] == "locked"
    deleted = await sv_app.call("encryption.key.delete", key_id=key["id"], confirm=True)
    assert deleted["id"] == key["id"] and await sv_app.call("encryption.keys.list") == []
