"""Agent CRYPTO: rotate this node's WireGuard key pair and/or the post-quantum pre-shared keys."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from ..rotation import RotationService
from ..service import MeshService


class CryptoParams(BaseModel):
    what: Literal["keys", "psk", "all"] = Field("psk", description="WireGuard key pair, "
                                                "post-quantum PSKs, or both")
    peer: Name | None = Field(None, description="only this peer (PSK rotation)")


async def run_crypto(ctx: JobContext, params: CryptoParams) -> dict[str, Any]:
    if params.peer:
        ctx.app.services[MeshService].get_peer(params.peer)
    ctx.progress(description=f"rotating {params.what}")
    result = await ctx.app.services[RotationService].rotate(params.what, params.peer)
    ctx.log(f"rotated {params.what}: {result}")
    return result


AGENT = Agent(
    name="CRYPTO", tier="support", specialty="rotate mesh WireGuard keys and post-quantum "
    "pre-shared keys", params_model=CryptoParams, run=run_crypto, timeout=300.0,
    lock=lambda p: "phantommesh:rotate",
    description="Rotates this node's X25519 key pair (telling every node peer first) and/or "
    "the ML-KEM-768 pre-shared keys shared with node peers.", tags=["network", "crypto"])
