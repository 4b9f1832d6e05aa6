"""The ``age`` encryptor other plugins (a backup pipeline, CONDUIT) use through the registry:

    enc = app.registries["encryptors"]["age"]
    await enc.encrypt_file(src, dst, ["k-…" or "age1pq1…"])
    await enc.decrypt_file(src, dst)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sigmavault.errors import APIError

from . import files, state
from .errors import AuthenticationError
from .service import EncryptionService, to_api_error


class AgeEncryptor:
    """age v1 files; recipients are keystore key ids (``k-…``) or ``age1…``/``age1pq1…`` strings."""

    name = "age"
    extension = ".age"
    description = "age v1 (c2sp.org/age): X25519 or post-quantum mlkem768x25519 recipients"

    def __init__(self, service: EncryptionService) -> None:
        self.service = service

    def default_recipients(self) -> list[str]:
        """Active keys to encrypt to when a caller has no preference: the post-quantum ones if
        any exist (they must not be mixed with classic ones), else the classic ones."""
        keys = [k for k in self.service.keystore.list() if k.status == "active"]
        pq = [k.id for k in keys if k.post_quantum]
        return pq or [k.id for k in keys]

    async def encrypt_file(self, src: str | Path, dst: str | Path,
                           recipients: list[str] | None = None) -> dict[str, Any]:
        """Encrypt ``src`` to ``dst`` (written atomically); returns sizes and recipient fingerprints.

        ``recipients`` of None means :meth:`default_recipients`."""
        svc = self.service
        if recipients is None:
            recipients = self.default_recipients()
        key_ids = [r for r in recipients if r.startswith("k-")]
        texts = [r for r in recipients if not r.startswith("k-")]
        recips = svc.recipients(key_ids, texts)
        if not recips:
            raise APIError(400, "no_recipients", "no recipients given and no active key in the keystore")
        source, target = Path(src), Path(dst)
        try:
            outcome = await asyncio.to_thread(files.encrypt_file, source, target, recips, overwrite=True)
        except Exception as exc:
            raise to_api_error(exc) from None
        pq = all(r.post_quantum for r in recips)
        fps = [r.fingerprint for r in recips]
        state.record_item(svc.app.db, path=str(target), kind="file", source=str(source), recipients=fps,
                          post_quantum=pq, plaintext_bytes=outcome.plaintext_bytes,
                          ciphertext_bytes=outcome.ciphertext_bytes, job_id=None)
        return {**outcome.as_dict(), "post_quantum": pq, "recipients": fps}

    async def decrypt_file(self, src: str | Path, dst: str | Path) -> dict[str, Any]:
        """Decrypt with the unlocked keys; nothing is written at ``dst`` unless it all authenticates."""
        svc = self.service
        identities = svc.identities()
        source, target = Path(src), Path(dst)
        try:
            outcome = await asyncio.to_thread(files.decrypt_file, source, target, identities, overwrite=True)
        except AuthenticationError as exc:
            svc.auth_failure(source, exc, None)
            raise to_api_error(exc) from None
        except Exception as exc:
            raise to_api_error(exc) from None
        state.record_event(svc.app.db, "decrypt", str(source), True, str(target))
        return outcome.as_dict()
