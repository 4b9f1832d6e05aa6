"""Jobs over files and folders: encrypt, decrypt, verify and re-wrap. Every request is planned
(validated, paths resolved) before its job starts, so bad input is a 4xx and nothing changes;
the job bodies are shared with agents CIPHER and QUANTUM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from sigmavault import operation
from sigmavault.errors import APIError
from sigmavault.jobs import Job, JobContext

from . import age, files, state
from .errors import AuthenticationError, NoIdentityMatch
from .models import DecryptRequest, EncryptRequest, RewrapRequest, Target, VerifyRequest
from .recipients import Recipient
from .service import EncryptionService, to_api_error

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


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


def _reporter(ctx: JobContext, verb: str) -> files.OnProgress:
    def report(done: int, total: int | None) -> None:
        ctx.check()
        pct = min(100.0, 100.0 * done / total) if total else None
        ctx.progress(percent=pct, description=f"{verb} {done} bytes", bytes_done=done, bytes_total=total)
    return report


def _opening_error(exc: BaseException, passphrase: SecretStr | None) -> BaseException:
    """``to_api_error``, except that a passphrase that opens nothing is named as such."""
    if passphrase is not None and isinstance(exc, NoIdentityMatch):
        return APIError(422, "wrong_passphrase", "the passphrase does not open this file (wrong "
                        "passphrase, or the file is encrypted to keys)", {"field": "passphrase"})
    return to_api_error(exc)


class FileJobService:
    """Plans and runs the jobs of ``/api/v1/encryption/jobs``."""

    # 404: a key, pool, volume or file a request names; 409: a key locked, a target that exists
    route_defaults = {"errors": (404, 409)}

    def __init__(self, app: "SigmaVault") -> None:
        self.app = app

    @property
    def core(self) -> EncryptionService:
        return self.app.services[EncryptionService]

    # --- operations ------------------------------------------------------------------------------

    @operation("encryption.encrypt", post="/encryption/jobs/encrypt", body=EncryptRequest, job=True,
               summary="Encrypt a file or folder")
    async def encrypt(self, source: Target, target: Target | None, key_ids: list[str],
                      recipients: list[str], passphrase: SecretStr | None, armor: bool,
                      overwrite: bool) -> Job:
        plan = await self.plan_encrypt(source, target, key_ids, recipients, overwrite, armor=armor,
                                       passphrase=passphrase)
        return self.submit("encrypt", plan)

    @operation("encryption.decrypt", post="/encryption/jobs/decrypt", body=DecryptRequest, job=True,
               summary="Decrypt a file or folder archive")
    async def decrypt(self, source: Target, target: Target | None, folder: bool | None,
                      passphrase: SecretStr | None, overwrite: bool) -> Job:
        plan = await self.plan_decrypt(source, target, folder, overwrite, passphrase=passphrase)
        return self.submit("decrypt", plan)

    @operation("encryption.verify", post="/encryption/jobs/verify", body=VerifyRequest, job=True,
               summary="Authenticate an encrypted file end to end")
    async def verify(self, source: Target, passphrase: SecretStr | None) -> Job:
        path = await self.plan_verify(source, passphrase)
        return self.app.jobs.submit("encryption.verify", lambda ctx: self.run_verify(ctx, path, passphrase),
                                    params={"source": str(path), "passphrase": passphrase is not None},
                                    description=f"verify {path.name}")

    @operation("encryption.rewrap", post="/encryption/jobs/rewrap", body=RewrapRequest, job=True,
               summary="Re-wrap file keys to other recipients",
               description="Replace the headers of encrypted files; the payload is verified and kept "
                           "unchanged.")
    async def rewrap(self, sources: list[Target], key_ids: list[str], recipients: list[str]) -> Job:
        paths = await self.plan_rewrap(sources)
        recips = self.core.recipients(key_ids, recipients)
        self.core.identities()
        return self.app.jobs.submit("encryption.rewrap", lambda ctx: self.run_rewrap(ctx, paths, recips),
                                    params={"sources": [str(p) for p in paths],
                                            "recipients": [r.fingerprint for r in recips]},
                                    description=f"re-wrap {len(paths)} file(s)")

    # --- planning (all validation happens here, before any job starts) ---------------------------

    async def _default_output(self, source: Target, src: Path, name: str) -> Path:
        """``name`` beside ``src``, held to the containment an explicit target gets: inside the
        source's volume or allowed root, else 400 ``target_required``."""
        default = src.with_name(name)
        candidate: Target | None = None
        if source.path is not None:
            candidate = Target(path=str(default))
        else:
            volume_root = await self.core.resolve(Target(pool=source.pool, volume=source.volume))
            if default.parent == volume_root or volume_root in default.parent.parents:
                candidate = Target(pool=source.pool, volume=source.volume,
                                   subpath=str(default.relative_to(volume_root)))
        try:
            if candidate is not None:
                return await self.core.resolve(candidate, must_exist=False)
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
            path = await self.core.resolve(target, must_exist=False)
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

    async def plan_encrypt(self, source: Target, target: Target | None, key_ids: list[str],
                           recipients: list[str], overwrite: bool, *, armor: bool = False,
                           passphrase: SecretStr | None = None) -> Plan:
        src = await self.core.resolve(source)
        if not (src.is_file() or src.is_dir()):
            raise APIError(400, "unsupported_file_type", f"{src} is neither a regular file nor a folder")
        folder = src.is_dir()
        recips = self.core.file_recipients(key_ids, recipients, passphrase)
        dst = await self._output(source, src, target, src.name + (".tar.age" if folder else ".age"),
                                 overwrite, False)
        if dst == src or (folder and dst.is_relative_to(src)):
            raise APIError(400, "target_inside_source", "the encrypted output cannot be the source or inside it")
        return Plan(src, dst, folder, overwrite, recips, armored=armor)

    async def plan_decrypt(self, source: Target, target: Target | None, folder: bool | None,
                           overwrite: bool, *, passphrase: SecretStr | None = None) -> Plan:
        src = await self.core.resolve(source)
        if not src.is_file():
            raise APIError(400, "not_a_file", f"{src} is not a file")
        if passphrase is None and files.is_passphrase_file(src):
            raise APIError(400, "passphrase_required", f"{src.name} is encrypted with a passphrase, not to a "
                           "key: give its 'passphrase'", {"field": "passphrase"})
        self.core.file_identities(passphrase)
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

    async def plan_verify(self, source: Target, passphrase: SecretStr | None) -> Path:
        """The file to verify; 4xx unless it is a file something given or unlocked may open."""
        path = await self.core.resolve(source)
        if not path.is_file():
            raise APIError(400, "not_a_file", f"{path} is not a file")
        self.core.file_identities(passphrase)
        return path

    async def plan_rewrap(self, sources: list[Target]) -> list[Path]:
        """The files to re-wrap; 4xx unless each is a file."""
        paths = [await self.core.resolve(t) for t in sources]
        for p in paths:
            if not p.is_file():
                raise APIError(400, "not_a_file", f"{p} is not a file")
        return paths

    def submit(self, operation: Literal["encrypt", "decrypt"], plan: Plan) -> Job:
        """Run an encrypt/decrypt ``plan`` as a job (one at a time per target path), as
        ``POST /api/v1/encryption/jobs/{operation}`` does; returns the job."""
        run = self.run_encrypt if operation == "encrypt" else self.run_decrypt
        return self.app.jobs.submit(
            f"encryption.{operation}", lambda ctx: run(ctx, plan), params=plan.params(),
            lock=f"encryption:{plan.target}", description=f"{operation} {plan.source.name}")

    # --- job bodies ------------------------------------------------------------------------------

    async def run_encrypt(self, ctx: JobContext, plan: Plan) -> dict[str, Any]:
        recips = plan.recipients or []
        try:
            if plan.folder:
                outcome = await ctx.to_thread(lambda: files.encrypt_dir(
                    plan.source, plan.target, recips, on_progress=_reporter(ctx, "encrypted"),
                    armored=plan.armored))
            else:
                outcome = await ctx.to_thread(lambda: files.encrypt_file(
                    plan.source, plan.target, recips, on_progress=_reporter(ctx, "encrypted"),
                    overwrite=plan.overwrite, armored=plan.armored))
        except Exception as exc:
            raise to_api_error(exc) from None
        pq = all(r.post_quantum for r in recips)
        fingerprints = [r.fingerprint for r in recips]
        state.record_item(self.app.db, path=str(plan.target), kind=outcome.kind, source=str(plan.source),
                          recipients=fingerprints, post_quantum=pq, plaintext_bytes=outcome.plaintext_bytes,
                          ciphertext_bytes=outcome.ciphertext_bytes, job_id=getattr(ctx, "job_id", None))
        return {**outcome.as_dict(), "post_quantum": pq, "recipients": fingerprints, "armor": plan.armored}

    async def run_decrypt(self, ctx: JobContext, plan: Plan) -> dict[str, Any]:
        identities = self.core.file_identities(plan.passphrase)
        try:
            if plan.folder:
                outcome = await ctx.to_thread(lambda: files.decrypt_dir(
                    plan.source, plan.target, identities, on_progress=_reporter(ctx, "decrypted")))
            else:
                outcome = await ctx.to_thread(lambda: files.decrypt_file(
                    plan.source, plan.target, identities, on_progress=_reporter(ctx, "decrypted"),
                    overwrite=plan.overwrite))
        except AuthenticationError as exc:
            self.core.auth_failure(plan.source, exc, getattr(ctx, "job_id", None))
            raise to_api_error(exc) from None
        except Exception as exc:
            raise _opening_error(exc, plan.passphrase) from None
        state.record_event(self.app.db, "decrypt", str(plan.source), True, str(plan.target),
                           getattr(ctx, "job_id", None))
        return outcome.as_dict()

    async def run_verify(self, ctx: JobContext, path: Path,
                         passphrase: SecretStr | None = None) -> dict[str, Any]:
        identities = self.core.file_identities(passphrase)
        total = files.plaintext_size(path)
        report = _reporter(ctx, "verified")

        def work() -> int:
            with open(path, "rb") as f:
                return age.verify(f, identities, progress=lambda n: report(n, total))
        job_id = getattr(ctx, "job_id", None)
        try:
            n = await ctx.to_thread(work)
        except AuthenticationError as exc:
            state.record_event(self.app.db, "verify", str(path), False, str(exc), job_id)
            self.core.auth_failure(path, exc, job_id)
            raise to_api_error(exc) from None
        except Exception as exc:
            err = _opening_error(exc, passphrase)
            state.record_event(self.app.db, "verify", str(path), False, str(err), job_id)
            raise err from None
        state.record_event(self.app.db, "verify", str(path), True, f"{n} bytes authenticated", job_id)
        return {"path": str(path), "ok": True, "plaintext_bytes": n}

    async def run_rewrap(self, ctx: JobContext, paths: list[Path],
                         recipients: list[Recipient]) -> dict[str, Any]:
        identities = self.core.identities()
        done: list[str] = []
        failed: list[dict[str, str]] = []
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
                    self.core.auth_failure(path, exc, getattr(ctx, "job_id", None))
                failed.append({"path": str(path), "error": getattr(err, "message", str(err))})
                continue
            state.update_item_recipients(self.app.db, str(path), fingerprints, pq)
            state.record_event(self.app.db, "rewrap", str(path), True, ",".join(fingerprints))
            done.append(str(path))
        return {"rewrapped": done, "failed": failed, "recipients": fingerprints, "post_quantum": pq}
