"""Key operations under ``/api/v1/encryption``: the keystore's identities, their state, rotation
and passphrase-protected export bundles."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from pydantic import SecretStr

from sigmavault import operation
from sigmavault.errors import APIError

from .models import (DeleteQuery, ExportRequest, ExportResult, ImportRequest, KeyCreate, KeyImport,
                     KeyOut, KeyPatch, LockResult, Passphrase, PassphraseChange, Rotate)
from .service import EncryptionService, keystore_call

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

K = "/encryption/keys/{key_id}"


class KeyService:
    """Create, import, unlock, lock, rotate, rename, delete, export and import keys."""

    # 404: a key, pool, volume or file a request names; 409: a key locked, a target that exists
    route_defaults = {"errors": (404, 409)}

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app

    @property
    def core(self) -> EncryptionService:
        return self.app.services[EncryptionService]

    @operation("encryption.keys.list", get="/encryption/keys", response=list[KeyOut],
               summary="List keys")
    async def list_keys(self) -> list[KeyOut]:
        core = self.core
        return [core.key_out(k) for k in core.keystore.list()]

    @operation("encryption.key.create", post="/encryption/keys", body=KeyCreate, response=KeyOut,
               status=201, summary="Create a key",
               description="Generate an identity (hybrid post-quantum by default), sealed with the "
                           "passphrase.")
    async def create_key(self, name: str, kind: str, passphrase: SecretStr) -> KeyOut:
        core = self.core
        core.check_kind(kind)
        rec = keystore_call(core.keystore.create, name, kind, passphrase.get_secret_value())
        core.publish("key_created", key_id=rec.id)
        return core.key_out(rec)

    @operation("encryption.key.import", post="/encryption/keys/import", body=KeyImport,
               response=KeyOut, status=201, summary="Import an age identity")
    async def import_key(self, name: str, identity: SecretStr, passphrase: SecretStr) -> KeyOut:
        core = self.core
        if identity.get_secret_value().strip().startswith("AGE-SECRET-KEY-PQ-"):
            core.check_kind("mlkem768x25519")
        rec = keystore_call(core.keystore.import_identity, name, identity.get_secret_value(),
                            passphrase.get_secret_value())
        core.publish("key_imported", key_id=rec.id)
        return core.key_out(rec)

    @operation("encryption.key.get", get=K, response=KeyOut, summary="Get a key")
    async def get_key(self, key_id: str) -> KeyOut:
        return self.core.key_out(self.core.key(key_id))

    @operation("encryption.key.update", patch=K, body=KeyPatch, response=KeyOut,
               summary="Rename a key")
    async def rename_key(self, key_id: str, name: str) -> KeyOut:
        return self.core.key_out(keystore_call(self.core.keystore.rename, key_id, name))

    @operation("encryption.key.delete", delete=K, query=DeleteQuery, response=KeyOut,
               summary="Delete a key", errors=[400],  # 400: without confirm=true
               description="Destroys the sealed identity: files encrypted only to it can no longer "
                           "be opened.")
    async def delete_key(self, key_id: str, confirm: bool = False) -> KeyOut:
        core = self.core
        core.key(key_id)
        if not confirm:
            raise APIError(400, "confirmation_required", "deleting a key makes files encrypted only to it "
                           "unreadable; repeat with ?confirm=true")
        rec = keystore_call(core.keystore.delete, key_id)
        core.publish("key_deleted", key_id=key_id)
        out = core.key_out(rec)
        out.state = "locked"
        return out

    @operation("encryption.key.unlock", post=K + "/unlock", body=Passphrase, response=KeyOut,
               status=200, summary="Unlock a key")
    async def unlock_key(self, key_id: str, passphrase: SecretStr) -> KeyOut:
        core = self.core
        rec = keystore_call(core.keystore.unlock, key_id, passphrase.get_secret_value())
        core.publish("key_unlocked", key_id=key_id)
        return core.key_out(rec)

    @operation("encryption.key.lock", post=K + "/lock", response=KeyOut, status=200,
               summary="Lock a key")
    async def lock_key(self, key_id: str) -> KeyOut:
        core = self.core
        keystore_call(core.keystore.lock, key_id)
        core.publish("key_locked", key_id=key_id)
        return core.key_out(core.key(key_id))

    @operation("encryption.keys.lock", post="/encryption/lock", response=LockResult, status=200,
               summary="Lock every key")
    async def lock_all(self) -> LockResult:
        core = self.core
        n = core.keystore.lock()
        core.publish("keys_locked")
        return LockResult(locked=n)

    @operation("encryption.key.rotate", post=K + "/rotate", body=Rotate, response=KeyOut, status=201,
               summary="Rotate a key",
               description="Create a new key of the same kind and name; the old one is retired "
                           "(still decrypts).")
    async def rotate_key(self, key_id: str, passphrase: SecretStr,
                         new_passphrase: SecretStr | None = None) -> KeyOut:
        core = self.core
        core.check_kind(core.key(key_id).kind)
        new = keystore_call(core.keystore.rotate, key_id, passphrase.get_secret_value(),
                            new_passphrase.get_secret_value() if new_passphrase else None)
        core.publish("key_rotated", key_id=new.id, detail=f"replaces {key_id}")
        return core.key_out(new)

    @operation("encryption.key.passphrase", post=K + "/passphrase", body=PassphraseChange,
               response=KeyOut, status=200, summary="Change a key's passphrase")
    async def change_passphrase(self, key_id: str, passphrase: SecretStr,
                                new_passphrase: SecretStr) -> KeyOut:
        rec = keystore_call(self.core.keystore.change_passphrase, key_id,
                            passphrase.get_secret_value(), new_passphrase.get_secret_value())
        return self.core.key_out(rec)

    @operation("encryption.keys.export", post="/encryption/export", body=ExportRequest,
               response=ExportResult, status=200,
               summary="Export unlocked keys as a passphrase-protected bundle")
    async def export_keys(self, key_ids: list[str], passphrase: SecretStr) -> ExportResult:
        data = keystore_call(self.core.keystore.export, key_ids, passphrase.get_secret_value())
        return ExportResult(bundle=base64.b64encode(data).decode(), keys=len(key_ids))

    @operation("encryption.keys.import", post="/encryption/import", body=ImportRequest,
               response=list[KeyOut], status=201, summary="Import keys from an export bundle")
    async def import_bundle(self, bundle: str, passphrase: SecretStr,
                            new_passphrase: SecretStr) -> list[KeyOut]:
        try:
            data = base64.b64decode(bundle, validate=True)
        except (binascii.Error, ValueError):
            raise APIError(400, "invalid_bundle", "bundle is not valid base64") from None
        added = keystore_call(self.core.keystore.import_bundle, data, passphrase.get_secret_value(),
                              new_passphrase.get_secret_value())
        return [self.core.key_out(r) for r in added]
