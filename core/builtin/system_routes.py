"""Operating the daemon: configuration backup and restore, and the doctor's findings."""

from __future__ import annotations

import asyncio
import io
from typing import Any, Literal

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, Field, SecretStr

from sigmavault import backup, doctor, hookimpl
from sigmavault.app import get_app
from sigmavault.errors import APIError


class BackupRequest(BaseModel):
    passphrase: SecretStr | None = Field(None, description="encrypt with this passphrase (age "
                                         "scrypt; at least 8 characters)")
    recipients: list[str] = Field(default_factory=list, max_length=32,
                                  description="or to these age X25519 recipients (age1…)")


class RestoreStaged(BaseModel):
    restart_required: Literal[True] = True
    message: str
    sigmavault_version: str
    created_at: str
    hostname: str
    schema_versions: dict[str, int]
    files: list[str]


class Finding(BaseModel):
    id: str
    status: Literal["ok", "warning", "critical"]
    title: str
    detail: str = ""
    disables: str = Field("", description="what does not work until this is fixed")


class DoctorReport(BaseModel):
    status: Literal["ok", "warning", "critical"]
    findings: list[Finding]


async def _form(request: web.Request) -> tuple[bytes, str | None, list[str]]:
    """``archive`` (the file), ``passphrase`` or ``identity`` from a multipart upload, streamed
    (the archive may be larger than the API's usual request size limit)."""
    if not request.content_type.startswith("multipart/"):
        raise APIError(415, "unsupported_media_type", "upload the archive as multipart/form-data "
                       "with the fields archive and passphrase (or identity)")
    reader = await request.multipart()
    archive, passphrase, identity = None, None, None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):  # a nested multipart: not ours
            continue
        buf = io.BytesIO()
        while chunk := await part.read_chunk(1 << 20):
            buf.write(chunk)
            if buf.tell() > backup.MAX_ARCHIVE:
                raise APIError(413, "archive_too_large", "a configuration backup is at most 1 GiB")
        value = buf.getvalue()
        if part.name == "archive":
            archive = value
        elif part.name == "passphrase":
            passphrase = value.decode(errors="replace")
        elif part.name == "identity":
            identity = value.decode(errors="replace")
    if not archive:
        raise APIError(422, "archive_required", "the upload has no archive field (the backup file)")
    identities = backup.identities_from_text(identity) if identity else []
    return archive, passphrase or None, identities


@hookimpl
def register_routes(app: Any) -> None:
    @app.api.post("/system/backup", body=BackupRequest, role="admin", tags=["system"],
                  content_type="application/octet-stream", errors=(422,),
                  summary="Download a configuration backup")
    async def create_backup(request: web.Request, body: BackupRequest) -> web.Response:
        """One age-encrypted archive (tar.gz inside) of the database — an online, consistent copy
        — the config file, the TLS certificate and key, the data dir's secret files and what
        plugins name (encryption keystore …). Not the pools' data."""
        sv = get_app(request)
        secret = body.passphrase.get_secret_value() if body.passphrase else None
        data, manifest = await asyncio.to_thread(backup.create, sv, passphrase=secret,
                                                 recipients=body.recipients)
        return web.Response(body=data, content_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{backup.archive_name(manifest)}"',
            "Cache-Control": "no-store"})

    @app.api.post("/system/backup/restore", response=RestoreStaged, status=202, role="admin",
                  tags=["system"], errors=(400, 409, 413, 415, 422),
                  summary="Upload a configuration backup, restored at the next start")
    async def restore_backup(request: web.Request) -> dict:
        """multipart/form-data: ``archive`` (the file) and ``passphrase`` or ``identity``. The
        archive is decrypted and checked now (a wrong secret, a changed or cut archive, or a
        schema newer than this install is refused and nothing changes); it replaces the
        database, secrets and config file when the daemon next starts: restart it."""
        sv = get_app(request)
        data, passphrase, identities = await _form(request)
        opened = await asyncio.to_thread(backup.open_archive, data, passphrase=passphrase,
                                         identities=identities)
        backup.check_compatible(opened.manifest, backup.known_schema_versions(sv.plugins))
        await asyncio.to_thread(backup.stage_pending, opened, sv.data_dir)
        return {**backup.summary(opened.manifest), "restart_required": True,
                "message": "the backup is checked and staged; restart SigmaVault "
                           "(systemctl restart sigmavault) to restore it — until then "
                           "nothing has changed"}

    @app.api.get("/system/doctor", response=DoctorReport, role="admin", tags=["system"],
                 summary="Health of the installation")
    async def run_doctor(request: web.Request) -> dict:
        """Programs present (with versions) and what each missing one disables, data dir
        permissions and free space, the port, the clock, and plugins' own checks."""
        findings = await doctor.run_checks(get_app(request), serving=True)
        return {"status": doctor.verdict(findings), "findings": findings}
