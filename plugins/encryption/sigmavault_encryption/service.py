"""The encryption service: the keystore, where files may be, who a file is encrypted to and who
opens it, the status, and the clean-up after a crash. Key operations are in ``keys.py``, the jobs
over files and folders in ``jobs.py``; both, the agents and the registered encryptor reach this
service as ``app.services[EncryptionService]``."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from pydantic import SecretStr

from sigmavault import operation
from sigmavault.errors import APIError
from sigmavault.files import TEMP_MARK
from sigmavault.locations import resolve as resolve_location

from . import state, xwing
from .config import EncryptionConfig
from .errors import (ArmorError, AuthenticationError, HeaderError, NoIdentityMatch, PassphraseRequired,
                     RecipientError)
from .keystore import Keystore, KeyRecord, KeystoreError
from .models import KeyOut, Status, Target
from .recipients import Identity, Recipient, ScryptIdentity, ScryptRecipient, parse_recipient

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.encryption")
_TEMP_SUFFIX = re.compile(r"[0-9a-f]{8}")
T = TypeVar("T")


def to_api_error(exc: BaseException) -> BaseException:
    """Translate format/keystore errors into the API's 4xx/5xx; other errors pass through."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, KeystoreError):
        return APIError(exc.status, exc.code, str(exc))
    if isinstance(exc, AuthenticationError):
        return APIError(422, "authentication_failed", f"the file failed to authenticate: {exc}; "
                        "it was modified or truncated, and nothing was written")
    if isinstance(exc, PassphraseRequired):
        return APIError(422, "passphrase_required", f"{exc}: give 'passphrase'", {"field": "passphrase"})
    if isinstance(exc, NoIdentityMatch):
        return APIError(422, "no_matching_key", "none of the unlocked keys opens this file; "
                        "unlock the key it was encrypted to")
    if isinstance(exc, ArmorError):
        return APIError(422, "invalid_armor", f"not a valid armored age file: {exc}")
    if isinstance(exc, HeaderError):
        return APIError(422, "invalid_age_file", f"not a valid age file: {exc}")
    if isinstance(exc, RecipientError):
        return APIError(400, "invalid_recipient", str(exc))
    if isinstance(exc, xwing.UnsupportedBackend):
        return APIError(501, "pq_unsupported", str(exc))
    if isinstance(exc, FileExistsError):
        return APIError(409, "target_exists", f"{exc}; pass overwrite=true to replace a file")
    return exc


def keystore_call(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, a refused keystore operation raised as the API error it stands for."""
    try:
        return fn(*args)
    except KeystoreError as exc:
        raise to_api_error(exc) from None


class EncryptionService:
    """The keystore and what every encryption operation shares."""

    def __init__(self, app: "SigmaVault", config: EncryptionConfig) -> None:
        self.app = app
        self.config = config
        self.keystore = Keystore(config.keystore_dir or Path(app.data_dir) / "encryption" / "keys",
                                 config.scrypt_log_n)

    async def start(self) -> None:
        """At start-up: remove what jobs a crash interrupted left behind."""
        self.recover_interrupted()

    # --- keys ------------------------------------------------------------------------------------

    def key_out(self, rec: KeyRecord) -> KeyOut:
        return KeyOut(id=rec.id, name=rec.name, kind=rec.kind, post_quantum=rec.post_quantum,
                      recipient=rec.recipient, fingerprint=rec.fingerprint,
                      state="unlocked" if self.keystore.is_unlocked(rec.id) else "locked",
                      status=rec.status, created_at=rec.created_at, rotated_at=rec.rotated_at,
                      rotated_from=rec.rotated_from, replaced_by=rec.replaced_by)

    def key(self, key_id: str) -> KeyRecord:
        """The key ``key_id``; 404 when there is none."""
        return keystore_call(self.keystore.get, key_id)

    def check_kind(self, kind: str) -> None:
        """501 ``pq_unsupported`` when ``kind`` is post-quantum and the backend lacks ML-KEM."""
        if kind == "mlkem768x25519":
            ok, reason = xwing.supported()
            if not ok:
                raise APIError(501, "pq_unsupported", f"cannot create a post-quantum key: {reason}")

    def publish(self, action: str, **data: Any) -> None:
        """An ``encryption.event``."""
        self.app.events.publish("encryption.event", {"action": action, **data})

    # --- paths -----------------------------------------------------------------------------------

    def allowed_roots(self) -> list[Path]:
        return [Path(os.path.realpath(r)) for r in self.config.allowed_roots]

    async def resolve(self, target: Target, *, must_exist: bool = True) -> Path:
        """The real path of ``target``, kept inside its volume or an allowed root."""
        return await resolve_location(self.app, target, self.allowed_roots(), must_exist=must_exist)

    # --- recipients and identities ---------------------------------------------------------------

    def recipients(self, key_ids: Iterable[str], texts: Iterable[str]) -> list[Recipient]:
        """Parsed recipients of keystore keys and ``age1…`` strings; never PQ and classic mixed."""
        out: list[Recipient] = []
        for key_id in key_ids:
            rec = self.key(key_id)
            if rec.status != "active":
                raise APIError(409, "key_retired",
                               f"key {key_id} was rotated to {rec.replaced_by}; encrypt to the new key")
            out.append(parse_recipient(rec.recipient))
        for text in texts:
            try:
                out.append(parse_recipient(text))
            except RecipientError as exc:
                raise to_api_error(exc) from None
        if any(r.post_quantum for r in out):
            ok, reason = xwing.supported()
            if not ok:
                raise APIError(501, "pq_unsupported", f"cannot encrypt to a post-quantum recipient: {reason}")
        if len({r.post_quantum for r in out}) > 1:
            raise APIError(400, "mixed_recipients",
                           "post-quantum and classic recipients cannot be mixed: the classic stanza "
                           "would make the file readable to a quantum attacker")
        return out

    def file_recipients(self, key_ids: list[str], texts: list[str],
                        passphrase: SecretStr | None) -> list[Recipient]:
        """The recipients of a new file: keys/recipients, or only a passphrase (scrypt stanza)."""
        if passphrase is None:
            return self.recipients(key_ids, texts)
        if key_ids or texts:
            raise APIError(400, "passphrase_with_recipients", "give 'passphrase' or 'key_ids'/'recipients', "
                           "not both: a passphrase-encrypted file has no other recipient", {"field": "passphrase"})
        if not passphrase.get_secret_value():
            raise APIError(400, "empty_passphrase", "the passphrase is empty", {"field": "passphrase"})
        return [ScryptRecipient(passphrase.get_secret_value(), self.keystore.scrypt_log_n)]

    def file_identities(self, passphrase: SecretStr | None) -> list[Identity]:
        """What opens a file: its passphrase when given, else the unlocked keys."""
        if passphrase is not None:
            return [ScryptIdentity(passphrase.get_secret_value())]
        return self.identities()

    def identities(self) -> list[Identity]:
        """The unlocked identities; 409 ``no_unlocked_key`` when there is none."""
        ids: list[Identity] = list(self.keystore.identities())
        if not ids:
            raise APIError(409, "no_unlocked_key", "no key is unlocked; unlock one with "
                           "POST /api/v1/encryption/keys/{id}/unlock")
        return ids

    def auth_failure(self, path: Path, exc: BaseException, job_id: str | None) -> None:
        """Record, announce and raise an alert about a file that failed to authenticate."""
        state.record_event(self.app.db, "auth_failure", str(path), False, str(exc), job_id)
        self.publish("authentication_failed", path=str(path), detail=str(exc))
        self.app.events.publish("alert", {"id": f"encryption.auth_failure:{path}", "severity": "warning",
                                          "message": f"{path} failed to authenticate: {exc}",
                                          "source": "encryption", "active": True})

    # --- crash recovery --------------------------------------------------------------------------

    @staticmethod
    def _outputs_of(kind: str, params: dict[str, Any]) -> list[Path]:
        """Output paths an interrupted job may have left a temporary of."""
        if kind in ("encryption.encrypt", "encryption.decrypt"):
            return [Path(params["target"])] if params.get("target") else []
        if kind == "encryption.rewrap":
            return [Path(p) for p in params.get("sources", [])]
        p = params.get("params", {})
        target = (p.get("target") or {}).get("path")
        if target:
            return [Path(target)]
        source = (p.get("source") or {}).get("path")
        if not source:
            return []
        src = Path(source)
        if p.get("operation") == "encrypt":
            return [src.with_name(src.name + ".age"), src.with_name(src.name + ".tar.age")]
        if p.get("operation") == "decrypt":
            return [src.with_name(src.name[: -len(sfx)]) for sfx in (".tar.age", ".age")
                    if src.name.endswith(sfx) and len(src.name) > len(sfx)]
        return []

    def recover_interrupted(self) -> list[str]:
        """Remove the temporary outputs of encryption jobs a crash interrupted (once per job)."""
        rows = self.app.db.all(
            "SELECT id, kind, params FROM jobs WHERE interrupted=1 AND (kind LIKE 'encryption.%' OR "
            "kind='agent.CIPHER') AND id NOT IN (SELECT job_id FROM encryption_recovered)")
        removed_all: list[str] = []
        for row in rows:
            removed = []
            try:
                outputs = self._outputs_of(row["kind"], json.loads(row["params"]))
            except (ValueError, TypeError, AttributeError):
                outputs = []
            for out in outputs:
                prefix = f".{out.name}{TEMP_MARK}"
                try:
                    entries = list(out.parent.iterdir())
                except OSError:
                    continue
                for entry in entries:
                    if entry.name.startswith(prefix) and _TEMP_SUFFIX.fullmatch(entry.name[len(prefix):]):
                        if entry.is_dir() and not entry.is_symlink():
                            shutil.rmtree(entry, ignore_errors=True)
                        else:
                            entry.unlink(missing_ok=True)
                        removed.append(str(entry))
            self.app.db.execute("INSERT INTO encryption_recovered(job_id, removed, created_at) VALUES(?,?,?)",
                                (row["id"], json.dumps(removed), state._now()))
            if removed:
                log.warning("removed %d temporary output(s) of interrupted job %s", len(removed), row["id"])
            removed_all += removed
        return removed_all

    # --- status and security ---------------------------------------------------------------------

    @operation("encryption.status", get="/encryption/status", response=Status,
               summary="Encryption status (quantum-resistant status)",
               description="Algorithms, post-quantum support and protection, backend, keys, counts, "
                           "verify runs.")
    def status(self) -> dict[str, Any]:
        ok, reason = xwing.supported()
        keys = self.keystore.list()
        active_pq = [k for k in keys if k.post_quantum and k.status == "active"]
        active_classic = [k for k in keys if not k.post_quantum and k.status == "active"]
        summary = state.summary(self.app.db)
        if not ok:
            protected, why = False, f"no post-quantum protection: {reason}"
        elif not active_pq:
            protected, why = False, ("ML-KEM-768 is available but no mlkem768x25519 key exists; "
                                     "files are protected by X25519 only")
        else:
            protected = True
            why = f"{reason}; {len(active_pq)} active hybrid ML-KEM-768 + X25519 (X-Wing) key(s)"
            if summary["items"]["classic"] or active_classic:
                why += (f"; {summary['items']['classic']} item(s) and {len(active_classic)} key(s) are "
                        "X25519-only and not quantum-resistant")
        return {
            "algorithms": {
                "format": "age-encryption.org/v1 (c2sp.org/age)",
                "payload": "ChaCha20-Poly1305 STREAM, 64 KiB chunks, final-chunk flag, HKDF-SHA-256 payload key",
                "header_mac": "HMAC-SHA-256 keyed by HKDF-SHA-256(file key, 'header')",
                "recipients": ["X25519", "mlkem768x25519 (X-Wing ML-KEM-768 + X25519, HPKE "
                               "HKDF-SHA256 / ChaCha20Poly1305)"],
                "keystore": f"age scrypt stanza (N=2^{self.keystore.scrypt_log_n}, r=8, p=1) + ChaCha20-Poly1305",
            },
            "post_quantum": {"supported": ok, "protected": protected, "reason": why},
            "backend": {"library": "cryptography", "version": cryptography.__version__,
                        "openssl": openssl_backend.openssl_version_text(), "mlkem": ok},
            "keys": [self.key_out(k).model_dump() for k in keys],
            "unlocked_keys": sum(self.keystore.is_unlocked(k.id) for k in keys),
            **summary,
        }

    def security_findings(self) -> list[dict[str, str]]:
        """Findings for the security audit: keystore modes, no ML-KEM backend, X25519-only keys."""
        findings: list[dict[str, str]] = list(self.keystore.mode_findings())
        ok, reason = xwing.supported()
        if not ok:
            findings.append({"id": "encryption.no_pq_backend", "severity": "medium",
                             "title": "no post-quantum encryption available", "detail": reason})
        classic = [k for k in self.keystore.list() if not k.post_quantum and k.status == "active"]
        if classic and ok:
            findings.append({"id": "encryption.classic_keys", "severity": "low",
                             "title": "X25519-only encryption keys are active",
                             "detail": f"{len(classic)} key(s) are not quantum-resistant: "
                                       + ", ".join(k.name for k in classic)})
        return findings
