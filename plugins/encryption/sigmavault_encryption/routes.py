"""REST API under ``/api/v1/encryption``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from sigmavault.app import get_app
from sigmavault.errors import APIError
from sigmavault.jobs import Job

from .keystore import KeystoreError
from .models import (DecryptRequest, DeleteQuery, EncryptRequest, ExportRequest, ExportResult,
                     ImportRequest, KeyCreate, KeyImport, KeyOut, KeyPatch, LockResult, Passphrase,
                     PassphraseChange, RewrapRequest, Rotate, Status, VerifyRequest)
from .service import service, to_api_error


def _svc(request: web.Request):
    return service(get_app(request))


def _keystore_call(fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except KeystoreError as exc:
        raise to_api_error(exc) from None


def register(app: Any) -> None:
    api = app.api

    @api.get("/encryption/status", response=Status, summary="Encryption status (quantum-resistant status)")
    async def status(request: web.Request) -> dict:
        """Algorithms, post-quantum support and protection, backend, keys, counts, verify runs."""
        return _svc(request).status()

    @api.get("/encryption/keys", response=list[KeyOut], summary="List keys")
    async def list_keys(request: web.Request) -> list[KeyOut]:
        svc = _svc(request)
        return [svc.key_out(k) for k in svc.keystore.list()]

    @api.post("/encryption/keys", body=KeyCreate, response=KeyOut, status=201, summary="Create a key")
    async def create_key(request: web.Request, body: KeyCreate) -> KeyOut:
        """Generate an identity (hybrid post-quantum by default), sealed with the passphrase."""
        svc = _svc(request)
        svc.check_kind(body.kind)
        rec = _keystore_call(svc.keystore.create, body.name, body.kind, body.passphrase.get_secret_value())
        svc.publish("key_created", key_id=rec.id)
        return svc.key_out(rec)

    @api.post("/encryption/keys/import", body=KeyImport, response=KeyOut, status=201,
              summary="Import an age identity")
    async def import_key(request: web.Request, body: KeyImport) -> KeyOut:
        svc = _svc(request)
        if body.identity.get_secret_value().strip().startswith("AGE-SECRET-KEY-PQ-"):
            svc.check_kind("mlkem768x25519")
        rec = _keystore_call(svc.keystore.import_identity, body.name, body.identity.get_secret_value(),
                             body.passphrase.get_secret_value())
        svc.publish("key_imported", key_id=rec.id)
        return svc.key_out(rec)

    @api.get("/encryption/keys/{key_id}", response=KeyOut, summary="Get a key")
    async def get_key(request: web.Request, key_id: str) -> KeyOut:
        svc = _svc(request)
        return svc.key_out(svc.key(key_id))

    @api.patch("/encryption/keys/{key_id}", body=KeyPatch, response=KeyOut, summary="Rename a key")
    async def patch_key(request: web.Request, key_id: str, body: KeyPatch) -> KeyOut:
        svc = _svc(request)
        rec = _keystore_call(svc.keystore.rename, key_id, body.name)
        return svc.key_out(rec)

    @api.delete("/encryption/keys/{key_id}", query=DeleteQuery, response=KeyOut, summary="Delete a key")
    async def delete_key(request: web.Request, key_id: str, query: DeleteQuery) -> KeyOut:
        """Destroys the sealed identity: files encrypted only to it can no longer be opened."""
        svc = _svc(request)
        svc.key(key_id)
        if not query.confirm:
            raise APIError(400, "confirmation_required", "deleting a key makes files encrypted only to it "
                           "unreadable; repeat with ?confirm=true")
        rec = _keystore_call(svc.keystore.delete, key_id)
        svc.publish("key_deleted", key_id=key_id)
        out = svc.key_out(rec)
        out.state = "locked"
        return out

    @api.post("/encryption/keys/{key_id}/unlock", body=Passphrase, response=KeyOut, status=200,
              summary="Unlock a key")
    async def unlock(request: web.Request, key_id: str, body: Passphrase) -> KeyOut:
        svc = _svc(request)
        try:
            rec = svc.keystore.unlock(key_id, body.passphrase.get_secret_value())
        except KeystoreError as exc:
            raise to_api_error(exc) from None
        svc.publish("key_unlocked", key_id=key_id)
        return svc.key_out(rec)

    @api.post("/encryption/keys/{key_id}/lock", response=KeyOut, status=200, summary="Lock a key")
    async def lock(request: web.Request, key_id: str) -> KeyOut:
        svc = _svc(request)
        _keystore_call(svc.keystore.lock, key_id)
        svc.publish("key_locked", key_id=key_id)
        return svc.key_out(svc.key(key_id))

    @api.post("/encryption/lock", response=LockResult, status=200, summary="Lock every key")
    async def lock_all(request: web.Request) -> LockResult:
        svc = _svc(request)
        n = svc.keystore.lock()
        svc.publish("keys_locked")
        return LockResult(locked=n)

    @api.post("/encryption/keys/{key_id}/rotate", body=Rotate, response=KeyOut, status=201,
              summary="Rotate a key")
    async def rotate(request: web.Request, key_id: str, body: Rotate) -> KeyOut:
        """Create a new key of the same kind and name; the old one is retired (still decrypts)."""
        svc = _svc(request)
        svc.check_kind(svc.key(key_id).kind)
        new = _keystore_call(svc.keystore.rotate, key_id, body.passphrase.get_secret_value(),
                             body.new_passphrase.get_secret_value() if body.new_passphrase else None)
        svc.publish("key_rotated", key_id=new.id, detail=f"replaces {key_id}")
        return svc.key_out(new)

    @api.post("/encryption/keys/{key_id}/passphrase", body=PassphraseChange, response=KeyOut, status=200,
              summary="Change a key's passphrase")
    async def change_passphrase(request: web.Request, key_id: str, body: PassphraseChange) -> KeyOut:
        svc = _svc(request)
        rec = _keystore_call(svc.keystore.change_passphrase, key_id, body.passphrase.get_secret_value(),
                             body.new_passphrase.get_secret_value())
        return svc.key_out(rec)

    @api.post("/encryption/export", body=ExportRequest, response=ExportResult, status=200,
              summary="Export unlocked keys as a passphrase-protected bundle")
    async def export(request: web.Request, body: ExportRequest) -> ExportResult:
        svc = _svc(request)
        data = _keystore_call(svc.keystore.export, body.key_ids, body.passphrase.get_secret_value())
        return ExportResult(bundle=base64.b64encode(data).decode(), keys=len(body.key_ids))

    @api.post("/encryption/import", body=ImportRequest, response=list[KeyOut], status=201,
              summary="Import keys from an export bundle")
    async def import_bundle(request: web.Request, body: ImportRequest) -> list[KeyOut]:
        svc = _svc(request)
        try:
            data = base64.b64decode(body.bundle, validate=True)
        except (binascii.Error, ValueError):
            raise APIError(400, "invalid_bundle", "bundle is not valid base64") from None
        added = _keystore_call(svc.keystore.import_bundle, data, body.passphrase.get_secret_value(),
                               body.new_passphrase.get_secret_value())
        return [svc.key_out(r) for r in added]

    # --- jobs ------------------------------------------------------------------------------------

    @api.post("/encryption/jobs/encrypt", body=EncryptRequest, response=Job, status=202,
              summary="Encrypt a file or folder")
    async def encrypt(request: web.Request, body: EncryptRequest) -> Job:
        svc = _svc(request)
        plan = await svc.plan_encrypt(body.source, body.target, body.key_ids, body.recipients, body.overwrite,
                                      armor=body.armor, passphrase=body.passphrase)
        return svc.submit("encrypt", plan)

    @api.post("/encryption/jobs/decrypt", body=DecryptRequest, response=Job, status=202,
              summary="Decrypt a file or folder archive")
    async def decrypt(request: web.Request, body: DecryptRequest) -> Job:
        svc = _svc(request)
        plan = await svc.plan_decrypt(body.source, body.target, body.folder, body.overwrite,
                                      passphrase=body.passphrase)
        return svc.submit("decrypt", plan)

    @api.post("/encryption/jobs/verify", body=VerifyRequest, response=Job, status=202,
              summary="Authenticate an encrypted file end to end")
    async def verify(request: web.Request, body: VerifyRequest) -> Job:
        sv_app = get_app(request)
        svc = _svc(request)
        path = await svc.resolve(body.source)
        if not path.is_file():
            raise APIError(400, "not_a_file", f"{path} is not a file")
        svc.file_identities(body.passphrase)
        return sv_app.jobs.submit("encryption.verify", lambda ctx: svc.run_verify(ctx, path, body.passphrase),
                                  params={"source": str(path), "passphrase": body.passphrase is not None},
                                  description=f"verify {path.name}")

    @api.post("/encryption/jobs/rewrap", body=RewrapRequest, response=Job, status=202,
              summary="Re-wrap file keys to other recipients")
    async def rewrap(request: web.Request, body: RewrapRequest) -> Job:
        """Replace the headers of encrypted files; the payload is verified and kept unchanged."""
        sv_app = get_app(request)
        svc = _svc(request)
        paths = [await svc.resolve(t) for t in body.sources]
        for p in paths:
            if not p.is_file():
                raise APIError(400, "not_a_file", f"{p} is not a file")
        recips = svc.recipients(body.key_ids, body.recipients)
        svc.identities()
        return sv_app.jobs.submit("encryption.rewrap", lambda ctx: svc.run_rewrap(ctx, paths, recips),
                                  params={"sources": [str(p) for p in paths],
                                          "recipients": [r.fingerprint for r in recips]},
                                  description=f"re-wrap {len(paths)} file(s)")
