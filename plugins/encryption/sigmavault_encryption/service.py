"""The plugin's service layer: keystore, path resolution, recipients, and the job bodies shared
by the REST API, the agents and the registered encryptor."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend

from sigmavault.errors import APIError
from sigmavault.files import TEMP_MARK

from . import files, state, xwing
from pydantic import SecretStr

from .errors import (ArmorError, AuthenticationError, HeaderError, NoIdentityMatch, PassphraseRequired,
                     RecipientError)
from .keystore import Keystore, KeyRecord, KeystoreError
from sigmavault.locations import resolve as resolve_location

from .models import KeyOut, Target
from .recipients import Identity, Recipient, ScryptIdentity, ScryptRecipient, parse_recipient

log = logging.getLogger("sigmavault.encryption")
_services: "weakref.WeakKeyDictionary[Any, EncryptionService]" = weakref.WeakKeyDictionary()
_TEMP_SUFFIX = re.compile(r"[0-9a-f]{8}")


def service(app: Any) -> "EncryptionService":
    """The service of ``app`` (created on first use)."""
    svc = _services.get(app)
    if svc is None:
        svc = _services[app] = EncryptionService(app)
    return svc


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


@dataclass
class Plan:
    """A validated encrypt/decrypt request, ready to run as a job."""

    source: Path
    target: Path
    folder: bool
    overwrite: bool = False
    recipients: list[Recipient] | None = None
    armored: bool = False
    passphrase: SecretStr | None = None  # decrypt: the file's passphrase instead of the keys

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": str(self.source), "target": str(self.target), "folder": self.folder,
                               "overwrite": self.overwrite, "armor": self.armored,
                               "passphrase": self.passphrase is not None
                               or any(r.kind == "scrypt" for r in self.recipients or [])}
        if self.recipients is not None:
            out["recipients"] = [r.fingerprint for r in self.recipients]
        return out


class EncryptionService:
    def __init__(self, app: Any):
        self.app = app
        cfg = app.config.section("encryption")
        self.config = cfg
        self.keystore = Keystore(cfg.keystore_dir or Path(app.data_dir) / "encryption" / "keys",
                                 cfg.scrypt_log_n)

    # --- keys ------------------------------------------------------------------------------------

    def key_out(self, rec: KeyRecord) -> KeyOut:
        return KeyOut(id=rec.id, name=rec.name, kind=rec.kind, post_quantum=rec.post_quantum,
                      recipient=rec.recipient, fingerprint=rec.fingerprint,
                      state="unlocked" if self.keystore.is_unlocked(rec.id) else "locked",
                      status=rec.status, created_at=rec.created_at, rotated_at=rec.rotated_at,
                      rotated_from=rec.rotated_from, replaced_by=rec.replaced_by)

    def key(self, key_id: str) -> KeyRecord:
        try:
            return self.keystore.get(key_id)
        except KeystoreError as exc:
            raise to_api_error(exc) from None

    def check_kind(self, kind: str) -> None:
        if kind == "mlkem768x25519":
            ok, reason = xwing.supported()
            if not ok:
                raise APIError(501, "pq_unsupported", f"cannot create a post-quantum key: {reason}")

    def publish(self, action: str, **data: Any) -> None:
        self.app.events.publish("encryption.event", {"action": action, **data})

    # --- paths -----------------------------------------------------------------------------------

    def allowed_roots(self) -> list[Path]:
        return [Path(os.path.realpath(r)) for r in self.config.allowed_roots]

    async def resolve(self, target: Target, *, must_exist: bool = True) -> Path:
        """The real path of ``target``, kept inside its volume or an allowed root."""
        return await resolve_location(self.app, target, self.allowed_roots(), must_exist=must_exist)

    async def _default_output(self, source: Target, src: Path, name: str) -> Path:
        """``name`` beside ``src``, held to the containment an explicit target gets: inside the
        source's volume or allowed root, else 400 ``target_required``."""
        default = src.with_name(name)
        if source.path is not None:
            candidate = Target(path=str(default))
        else:
            volume_root = await self.resolve(Target(pool=source.pool, volume=source.volume))
            candidate = None
            if default.parent == volume_root or volume_root in default.parent.parents:
                candidate = Target(pool=source.pool, volume=source.volume,
                                   subpath=str(default.relative_to(volume_root)))
        try:
            if candidate is not None:
                return await self.resolve(candidate, must_exist=False)
        except APIError as exc:
            if exc.status != 400:
                raise
        raise APIError(400, "target_required",
                       f"the default output {default} would be outside the volume or allowed root of "
                       f"{source.label()}; give a 'target' inside it", {"field": "target"})

    async def _output(self, source: Target, src: Path, target: Target | None, default_name: str,
                      overwrite: bool, folder: bool) -> Path:
        """The resolved output path: ``target``, or ``default_name`` beside the source."""
        if target:
            path = await self.resolve(target, must_exist=False)
        else:
            path = await self._default_output(source, src, default_name)
        if not path.parent.is_dir():
            raise APIError(400, "no_parent_directory", f"{path.parent} is not a directory")
        if path.exists():
            if folder or path.is_dir():
                raise APIError(409, "target_exists", f"{path} already exists")
            if not overwrite:
                raise APIError(409, "target_exists", f"{path} already exists; pass overwrite=true to replace it")
        return path

    # --- recipients and identities ---------------------------------------------------------------

    def recipients(self, key_ids: Iterable[str], texts: Iterable[str]) -> list[Recipient]:
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
        ids = self.keystore.identities()
        if not ids:
            raise APIError(409, "no_unlocked_key", "no key is unlocked; unlock one with "
                           "POST /api/v1/encryption/keys/{id}/unlock")
        return ids

    # --- planning (all validation happens here, before any job starts) ---------------------------

    async def plan_encrypt(self, source: Target, target: Target | None, key_ids: list[str],
                           recipients: list[str], overwrite: bool, *, armor: bool = False,
                           passphrase: SecretStr | None = None) -> Plan:
        src = await self.resolve(source)
        if not (src.is_file() or src.is_dir()):
            raise APIError(400, "unsupported_file_type", f"{src} is neither a regular file nor a folder")
        folder = src.is_dir()
        recips = self.file_recipients(key_ids, recipients, passphrase)
        dst = await self._output(source, src, target, src.name + (".tar.age" if folder else ".age"),
                                 overwrite, False)
        if dst == src or (folder and dst.is_relative_to(src)):
            raise APIError(400, "target_inside_source", "the encrypted output cannot be the source or inside it")
        return Plan(src, dst, folder, overwrite, recips, armored=armor)

    async def plan_decrypt(self, source: Target, target: Target | None, folder: bool | None,
                           overwrite: bool, *, passphrase: SecretStr | None = None) -> Plan:
        src = await self.resolve(source)
        if not src.is_file():
            raise APIError(400, "not_a_file", f"{src} is not a file")
        if passphrase is None and files.is_passphrase_file(src):
            raise APIError(400, "passphrase_required", f"{src.name} is encrypted with a passphrase, not to a "
                           "key: give its 'passphrase'", {"field": "passphrase"})
        self.file_identities(passphrase)
        if folder is None:
            row = self.app.db.one("SELECT kind FROM encryption_items WHERE path=?", (str(src),))
            folder = row["kind"] == "folder" if row else src.name.endswith(".tar.age")
        name = src.name
        for suffix in ((".tar.age", ".age") if folder else (".age",)):
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        else:
            name += ".decrypted"
        dst = await self._output(source, src, target, name, overwrite, folder)
        return Plan(src, dst, folder, overwrite, passphrase=passphrase)

    def submit(self, operation: Literal["encrypt", "decrypt"], plan: Plan) -> Any:
        """Run an encrypt/decrypt ``plan`` as a job (one at a time per target path), as
        ``POST /api/v1/encryption/jobs/{operation}`` does; returns the job."""
        run = self.run_encrypt if operation == "encrypt" else self.run_decrypt
        return self.app.jobs.submit(
            f"encryption.{operation}", lambda ctx: run(ctx, plan), params=plan.params(),
            lock=f"encryption:{plan.target}", description=f"{operation} {plan.source.name}")

    # --- job bodies ------------------------------------------------------------------------------

    @staticmethod
    def _reporter(ctx: Any, verb: str) -> files.OnProgress:
        def report(done: int, total: int | None) -> None:
            ctx.check()
            pct = min(100.0, 100.0 * done / total) if total else None
            ctx.progress(percent=pct, description=f"{verb} {done} bytes", bytes_done=done, bytes_total=total)
        return report

    def _auth_failure(self, path: Path, exc: BaseException, job_id: str | None) -> None:
        state.record_event(self.app.db, "auth_failure", str(path), False, str(exc), job_id)
        self.publish("authentication_failed", path=str(path), detail=str(exc))
        self.app.events.publish("alert", {"id": f"encryption.auth_failure:{path}", "severity": "warning",
                                          "message": f"{path} failed to authenticate: {exc}",
                                          "source": "encryption", "active": True})

    @staticmethod
    def _opening_error(exc: BaseException, passphrase: SecretStr | None) -> BaseException:
        """``to_api_error``, except that a passphrase that opens nothing is named as such."""
        if passphrase is not None and isinstance(exc, NoIdentityMatch):
            return APIError(422, "wrong_passphrase", "the passphrase does not open this file (wrong "
                            "passphrase, or the file is encrypted to keys)", {"field": "passphrase"})
        return to_api_error(exc)

    async def run_encrypt(self, ctx: Any, plan: Plan) -> dict[str, Any]:
        op = files.encrypt_dir if plan.folder else files.encrypt_file
        kwargs = {"armored": plan.armored} if plan.folder else {"overwrite": plan.overwrite,
                                                                 "armored": plan.armored}
        try:
            outcome = await ctx.to_thread(lambda: op(plan.source, plan.target, plan.recipients,
                                                     on_progress=self._reporter(ctx, "encrypted"), **kwargs))
        except Exception as exc:
            raise to_api_error(exc) from None
        pq = all(r.post_quantum for r in plan.recipients or [])
        fingerprints = [r.fingerprint for r in plan.recipients or []]
        state.record_item(self.app.db, path=str(plan.target), kind=outcome.kind, source=str(plan.source),
                          recipients=fingerprints, post_quantum=pq, plaintext_bytes=outcome.plaintext_bytes,
                          ciphertext_bytes=outcome.ciphertext_bytes, job_id=getattr(ctx, "job_id", None))
        return {**outcome.as_dict(), "post_quantum": pq, "recipients": fingerprints, "armor": plan.armored}

    async def run_decrypt(self, ctx: Any, plan: Plan) -> dict[str, Any]:
        identities = self.file_identities(plan.passphrase)
        try:
            if plan.folder:
                outcome = await ctx.to_thread(lambda: files.decrypt_dir(
                    plan.source, plan.target, identities, on_progress=self._reporter(ctx, "decrypted")))
            else:
                outcome = await ctx.to_thread(lambda: files.decrypt_file(
                    plan.source, plan.target, identities, on_progress=self._reporter(ctx, "decrypted"),
                    overwrite=plan.overwrite))
        except AuthenticationError as exc:
            self._auth_failure(plan.source, exc, getattr(ctx, "job_id", None))
            raise to_api_error(exc) from None
        except Exception as exc:
            raise self._opening_error(exc, plan.passphrase) from None
        state.record_event(self.app.db, "decrypt", str(plan.source), True, str(plan.target),
                           getattr(ctx, "job_id", None))
        return outcome.as_dict()

    async def run_verify(self, ctx: Any, path: Path, passphrase: SecretStr | None = None) -> dict[str, Any]:
        from . import age
        identities = self.file_identities(passphrase)
        total = files.plaintext_size(path)
        report = self._reporter(ctx, "verified")

        def work() -> int:
            with open(path, "rb") as f:
                return age.verify(f, identities, progress=lambda n: report(n, total))
        job_id = getattr(ctx, "job_id", None)
        try:
            n = await ctx.to_thread(work)
        except AuthenticationError as exc:
            state.record_event(self.app.db, "verify", str(path), False, str(exc), job_id)
            self._auth_failure(path, exc, job_id)
            raise to_api_error(exc) from None
        except Exception as exc:
            err = self._opening_error(exc, passphrase)
            state.record_event(self.app.db, "verify", str(path), False, str(err), job_id)
            raise err from None
        state.record_event(self.app.db, "verify", str(path), True, f"{n} bytes authenticated", job_id)
        return {"path": str(path), "ok": True, "plaintext_bytes": n}

    async def run_rewrap(self, ctx: Any, paths: list[Path], recipients: list[Recipient]) -> dict[str, Any]:
        identities = self.identities()
        done, failed = [], []
        fingerprints = [r.fingerprint for r in recipients]
        pq = all(r.post_quantum for r in recipients)
        for i, path in enumerate(paths):
            ctx.check()
            ctx.progress(percent=100.0 * i / len(paths), description=f"re-wrapping {path.name}")
            try:
                await ctx.to_thread(lambda p=path: files.rewrap_file(p, identities, recipients))
            except Exception as exc:
                err = to_api_error(exc)
                if isinstance(exc, AuthenticationError):
                    self._auth_failure(path, exc, getattr(ctx, "job_id", None))
                failed.append({"path": str(path), "error": getattr(err, "message", str(err))})
                continue
            state.update_item_recipients(self.app.db, str(path), fingerprints, pq)
            state.record_event(self.app.db, "rewrap", str(path), True, ",".join(fingerprints))
            done.append(str(path))
        return {"rewrapped": done, "failed": failed, "recipients": fingerprints, "post_quantum": pq}

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

    # --- status ----------------------------------------------------------------------------------

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
