"""Agent VAULT: key backup (a passphrase-protected age bundle written to or read from a file) and
key rotation."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from sigmavault.files import atomic_write
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..keystore import FILE_MODE
from ..models import Target
from ..service import EncryptionService, keystore_call

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


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

    async def preflight(self, app: "SigmaVault") -> None:
        core = app.services[EncryptionService]
        for key_id in self.key_ids:
            core.key(key_id)
        if self.action == "export":
            assert self.path is not None  # the model's validator says so
            await core.resolve(self.path, must_exist=False)
        elif self.action == "import":
            assert self.path is not None
            await core.resolve(self.path)


async def run_vault(ctx: JobContext, p: VaultParams) -> dict[str, Any]:
    core = ctx.app.services[EncryptionService]
    ks = core.keystore
    secret = p.passphrase.get_secret_value()
    new_secret = p.new_passphrase.get_secret_value() if p.new_passphrase else None
    if p.action == "export":
        assert p.path is not None  # the model's validator says so
        path = await core.resolve(p.path, must_exist=False)
        ids = p.key_ids or [k.id for k in ks.list() if ks.is_unlocked(k.id)]
        data = await ctx.to_thread(lambda: keystore_call(ks.export, ids, secret))

        def write() -> None:
            with atomic_write(path) as f:
                os.fchmod(f.fileno(), FILE_MODE)
                f.write(data)
        await ctx.to_thread(write)
        return {"exported": ids, "path": str(path), "bytes": len(data)}
    if p.action == "import":
        assert p.path is not None and new_secret is not None
        path = await core.resolve(p.path)
        bundle = path.read_bytes()
        sealing = new_secret
        added = await ctx.to_thread(lambda: keystore_call(ks.import_bundle, bundle, secret, sealing))
        return {"imported": [core.key_out(r).model_dump() for r in added]}
    rotated = []
    for key_id in p.key_ids:
        ctx.check()
        core.check_kind(core.key(key_id).kind)
        new = await ctx.to_thread(lambda k=key_id: keystore_call(ks.rotate, k, secret, new_secret))
        core.publish("key_rotated", key_id=new.id, detail=f"replaces {key_id}")
        rotated.append({"old": key_id, "new": core.key_out(new).model_dump()})
    return {"rotated": rotated}


AGENT = Agent(name="VAULT", tier="security", specialty="key backup and rotation",
              params_model=VaultParams, run=run_vault, concurrency=1,
              description="export keys to a passphrase-protected age bundle, import a bundle, rotate keys",
              lock=lambda p: "encryption:keystore", tags=["encryption", "keys"])
