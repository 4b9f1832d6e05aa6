"""Agents CIPHER (encrypt/decrypt/verify), QUANTUM (post-quantum keys, re-wrap) and VAULT (key
backup and rotation). Secrets in params are ``SecretStr``: task records store them masked."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from sigmavault.errors import APIError
from sigmavault.files import atomic_write
from sigmavault.hookspecs import Agent
from sigmavault.validation import Name

from .keystore import FILE_MODE, KeystoreError
from .models import Target
from .service import service, to_api_error


def _ks(fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except KeystoreError as exc:
        raise to_api_error(exc) from None


# --- CIPHER --------------------------------------------------------------------------------------


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

    async def preflight(self, app: Any) -> None:
        await _cipher_plan(app, self)


async def _cipher_plan(app: Any, p: CipherParams) -> Any:
    svc = service(app)
    if p.operation == "encrypt":
        if not p.key_ids and not p.recipients and p.passphrase is None:
            raise APIError(400, "no_recipients", "encrypt needs 'key_ids', 'recipients' or 'passphrase'")
        return await svc.plan_encrypt(p.source, p.target, p.key_ids, p.recipients, p.overwrite,
                                      armor=p.armor, passphrase=p.passphrase)
    if p.operation == "decrypt":
        return await svc.plan_decrypt(p.source, p.target, p.folder, p.overwrite, passphrase=p.passphrase)
    path = await svc.resolve(p.source)
    if not path.is_file():
        raise APIError(400, "not_a_file", f"{path} is not a file")
    svc.file_identities(p.passphrase)
    return path


async def run_cipher(ctx: Any, p: CipherParams) -> dict:
    svc = service(ctx.app)
    plan = await _cipher_plan(ctx.app, p)
    if p.operation == "encrypt":
        return await svc.run_encrypt(ctx, plan)
    if p.operation == "decrypt":
        return await svc.run_decrypt(ctx, plan)
    return await svc.run_verify(ctx, plan, p.passphrase)


# --- QUANTUM -------------------------------------------------------------------------------------


class QuantumParams(BaseModel):
    action: Literal["generate", "rewrap"]
    name: Name | None = Field(None, description="generate: name of the new hybrid key")
    passphrase: SecretStr | None = Field(None, description="generate: seals the new key")
    key_id: str | None = Field(None, description="rewrap: the post-quantum key to re-wrap to (default: newest active)")
    sources: list[Target] = Field(default_factory=list, max_length=1000, description="rewrap: encrypted files")

    @model_validator(mode="after")
    def _fields(self) -> "QuantumParams":
        if self.action == "generate" and (not self.name or self.passphrase is None):
            raise ValueError("generate needs 'name' and 'passphrase'")
        if self.action == "rewrap" and not self.sources:
            raise ValueError("rewrap needs 'sources'")
        return self

    async def preflight(self, app: Any) -> None:
        svc = service(app)
        svc.check_kind("mlkem768x25519")
        if self.action == "rewrap":
            await _quantum_rewrap_plan(app, self)


async def _quantum_rewrap_plan(app: Any, p: QuantumParams) -> tuple[list, list]:
    svc = service(app)
    if p.key_id:
        rec = svc.key(p.key_id)
        if not rec.post_quantum:
            raise APIError(400, "not_post_quantum", f"key {p.key_id} is not a post-quantum key")
    else:
        pq = [k for k in svc.keystore.list() if k.post_quantum and k.status == "active"]
        if not pq:
            raise APIError(409, "no_pq_key", "no active post-quantum key; run QUANTUM generate first")
        rec = pq[-1]
    paths = [await svc.resolve(t) for t in p.sources]
    for path in paths:
        if not path.is_file():
            raise APIError(400, "not_a_file", f"{path} is not a file")
    svc.identities()
    return paths, svc.recipients([rec.id], [])


async def run_quantum(ctx: Any, p: QuantumParams) -> dict:
    svc = service(ctx.app)
    svc.check_kind("mlkem768x25519")
    if p.action == "generate":
        rec = await ctx.to_thread(lambda: _ks(svc.keystore.create, p.name, "mlkem768x25519",
                                              p.passphrase.get_secret_value()))
        svc.publish("key_created", key_id=rec.id)
        return {"key": svc.key_out(rec).model_dump()}
    paths, recips = await _quantum_rewrap_plan(ctx.app, p)
    return await svc.run_rewrap(ctx, paths, recips)


# --- VAULT ---------------------------------------------------------------------------------------


class VaultParams(BaseModel):
    action: Literal["export", "import", "rotate"]
    key_ids: list[str] = Field(default_factory=list, description="export/rotate: keys (default: all unlocked / none)")
    passphrase: SecretStr = Field(description="export: protects the bundle; import: opens it; rotate: opens the key")
    new_passphrase: SecretStr | None = Field(None, description="import: seals imported keys; rotate: seals the new key")
    path: Target | None = Field(None, description="export: bundle file to write; import: bundle file to read")

    @model_validator(mode="after")
    def _fields(self) -> "VaultParams":
        if self.action in ("export", "import") and self.path is None:
            raise ValueError(f"{self.action} needs 'path'")
        if self.action == "import" and self.new_passphrase is None:
            raise ValueError("import needs 'new_passphrase'")
        if self.action == "rotate" and not self.key_ids:
            raise ValueError("rotate needs 'key_ids'")
        return self

    async def preflight(self, app: Any) -> None:
        svc = service(app)
        for key_id in self.key_ids:
            svc.key(key_id)
        if self.action == "export":
            await svc.resolve(self.path, must_exist=False)
        elif self.action == "import":
            await svc.resolve(self.path)


async def run_vault(ctx: Any, p: VaultParams) -> dict:
    svc = service(ctx.app)
    ks = svc.keystore
    if p.action == "export":
        path = await svc.resolve(p.path, must_exist=False)
        ids = p.key_ids or [k.id for k in ks.list() if ks.is_unlocked(k.id)]
        data = await ctx.to_thread(lambda: _ks(ks.export, ids, p.passphrase.get_secret_value()))

        def write() -> None:
            with atomic_write(path) as f:
                os.fchmod(f.fileno(), FILE_MODE)
                f.write(data)
        await ctx.to_thread(write)
        return {"exported": ids, "path": str(path), "bytes": len(data)}
    if p.action == "import":
        path = await svc.resolve(p.path)
        data = path.read_bytes()
        added = await ctx.to_thread(lambda: _ks(ks.import_bundle, data, p.passphrase.get_secret_value(),
                                                p.new_passphrase.get_secret_value()))
        return {"imported": [svc.key_out(r).model_dump() for r in added]}
    rotated = []
    for key_id in p.key_ids:
        ctx.check()
        svc.check_kind(svc.key(key_id).kind)
        new = await ctx.to_thread(lambda k=key_id: _ks(
            ks.rotate, k, p.passphrase.get_secret_value(),
            p.new_passphrase.get_secret_value() if p.new_passphrase else None))
        svc.publish("key_rotated", key_id=new.id, detail=f"replaces {key_id}")
        rotated.append({"old": key_id, "new": svc.key_out(new).model_dump()})
    return {"rotated": rotated}


AGENTS = [
    Agent(name="CIPHER", tier="security", specialty="encrypt or decrypt a file or folder",
          params_model=CipherParams, run=run_cipher, concurrency=2,
          description="age v1 encryption (X25519 or post-quantum mlkem768x25519) of a file or a folder "
                      "(tar stream), decryption with the unlocked keys, or end-to-end verification",
          tags=["encryption"]),
    Agent(name="QUANTUM", tier="security", specialty="post-quantum identities and key re-wrapping",
          params_model=QuantumParams, run=run_quantum, concurrency=1,
          description="generate hybrid ML-KEM-768 + X25519 (X-Wing) identities; re-wrap the file keys "
                      "of existing encrypted files to them without re-encrypting the payload",
          tags=["encryption", "post-quantum"]),
    Agent(name="VAULT", tier="security", specialty="key backup and rotation",
          params_model=VaultParams, run=run_vault, concurrency=1,
          description="export keys to a passphrase-protected age bundle, import a bundle, rotate keys",
          lock=lambda p: "encryption:keystore", tags=["encryption", "keys"]),
]
