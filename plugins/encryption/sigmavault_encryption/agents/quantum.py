"""Agent QUANTUM: post-quantum (hybrid ML-KEM-768 + X25519) identities, and re-wrapping the file
keys of existing encrypted files to them without re-encrypting the payload."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from ..jobs import FileJobService
from ..models import Target
from ..recipients import Recipient
from ..service import EncryptionService, keystore_call

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


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

    async def preflight(self, app: "SigmaVault") -> None:
        app.services[EncryptionService].check_kind("mlkem768x25519")
        if self.action == "rewrap":
            await _rewrap_plan(app, self)


async def _rewrap_plan(app: "SigmaVault", p: QuantumParams) -> tuple[list[Path], list[Recipient]]:
    core = app.services[EncryptionService]
    if p.key_id:
        rec = core.key(p.key_id)
        if not rec.post_quantum:
            raise APIError(400, "not_post_quantum", f"key {p.key_id} is not a post-quantum key")
    else:
        pq = [k for k in core.keystore.list() if k.post_quantum and k.status == "active"]
        if not pq:
            raise APIError(409, "no_pq_key", "no active post-quantum key; run QUANTUM generate first")
        rec = pq[-1]
    paths = await app.services[FileJobService].plan_rewrap(p.sources)
    core.identities()
    return paths, core.recipients([rec.id], [])


async def run_quantum(ctx: JobContext, p: QuantumParams) -> dict[str, Any]:
    core = ctx.app.services[EncryptionService]
    core.check_kind("mlkem768x25519")
    if p.action == "generate":
        assert p.name is not None and p.passphrase is not None  # the model's validator says so
        name, secret = p.name, p.passphrase.get_secret_value()
        rec = await ctx.to_thread(lambda: keystore_call(core.keystore.create, name, "mlkem768x25519",
                                                        secret))
        core.publish("key_created", key_id=rec.id)
        return {"key": core.key_out(rec).model_dump()}
    paths, recips = await _rewrap_plan(ctx.app, p)
    return await ctx.app.services[FileJobService].run_rewrap(ctx, paths, recips)


AGENT = Agent(name="QUANTUM", tier="security", specialty="post-quantum identities and key re-wrapping",
              params_model=QuantumParams, run=run_quantum, concurrency=1,
              description="generate hybrid ML-KEM-768 + X25519 (X-Wing) identities; re-wrap the file "
                          "keys of existing encrypted files to them without re-encrypting the payload",
              tags=["encryption", "post-quantum"])
