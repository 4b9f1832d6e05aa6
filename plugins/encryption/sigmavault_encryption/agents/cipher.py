"""Agent CIPHER: encrypt, decrypt or verify a file or folder, as the jobs of
``/api/v1/encryption/jobs`` do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..jobs import FileJobService, Plan
from ..models import Target

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


class CipherParams(BaseModel):
    operation: Literal["encrypt", "decrypt", "verify"]
    source: Target
    target: Target | None = None
    key_ids: list[str] = Field(default_factory=list, description="encrypt: keystore keys")
    recipients: list[str] = Field(default_factory=list, description="encrypt: age1… / age1pq1… recipients")
    folder: bool | None = Field(None, description="decrypt: the file is a folder archive")
    passphrase: SecretStr | None = Field(None, min_length=1, max_length=1024,
                                         description="encrypt: instead of keys (scrypt, as `age -p`); "
                                         "decrypt/verify: the file's passphrase")
    armor: bool = Field(False, description="encrypt: ASCII armor (as `age -a`)")
    overwrite: bool = False

    async def preflight(self, app: "SigmaVault") -> None:
        await _plan(app, self)


async def _plan(app: "SigmaVault", p: CipherParams) -> Plan | Path:
    jobs = app.services[FileJobService]
    if p.operation == "encrypt":
        if not p.key_ids and not p.recipients and p.passphrase is None:
            raise APIError(400, "no_recipients", "encrypt needs 'key_ids', 'recipients' or 'passphrase'")
        return await jobs.plan_encrypt(p.source, p.target, p.key_ids, p.recipients, p.overwrite,
                                       armor=p.armor, passphrase=p.passphrase)
    if p.operation == "decrypt":
        return await jobs.plan_decrypt(p.source, p.target, p.folder, p.overwrite, passphrase=p.passphrase)
    return await jobs.plan_verify(p.source, p.passphrase)


async def run_cipher(ctx: JobContext, p: CipherParams) -> dict[str, Any]:
    jobs = ctx.app.services[FileJobService]
    plan = await _plan(ctx.app, p)
    if isinstance(plan, Path):
        return await jobs.run_verify(ctx, plan, p.passphrase)
    if p.operation == "encrypt":
        return await jobs.run_encrypt(ctx, plan)
    return await jobs.run_decrypt(ctx, plan)


AGENT = Agent(name="CIPHER", tier="security", specialty="encrypt or decrypt a file or folder",
              params_model=CipherParams, run=run_cipher, concurrency=2,
              description="age v1 encryption (X25519 or post-quantum mlkem768x25519) of a file or a "
                          "folder (tar stream), decryption with the unlocked keys, or end-to-end "
                          "verification",
              tags=["encryption"])
