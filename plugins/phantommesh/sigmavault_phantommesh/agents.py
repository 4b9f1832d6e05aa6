"""PhantomMesh agents: CRYPTO (key and PSK rotation), MESH (health), HELIX (federation)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.validation import Name


def _mesh(ctx):
    svc = getattr(ctx.app, "phantommesh", None)
    if svc is None:
        raise APIError(503, "mesh_not_started", "PhantomMesh is not started")
    return svc


class CryptoParams(BaseModel):
    what: Literal["keys", "psk", "all"] = Field("psk", description="WireGuard key pair, "
                                                "post-quantum PSKs, or both")
    peer: Name | None = Field(None, description="only this peer (PSK rotation)")


class MeshParams(BaseModel):
    max_handshake_age: float = Field(180.0, gt=0, le=86400, description="older = unhealthy")


class HelixParams(BaseModel):
    pass


async def run_crypto(ctx, params: CryptoParams) -> dict:
    svc = _mesh(ctx)
    if params.peer:
        svc.get_peer(params.peer)
    ctx.progress(description=f"rotating {params.what}")
    result = await svc.rotate(params.what, params.peer)
    ctx.log(f"rotated {params.what}: {result}")
    return result


async def run_mesh(ctx, params: MeshParams) -> dict:
    svc = _mesh(ctx)
    report = await svc.check_health()
    stale = [p["peer"] for p in report["peers"]
             if p["last_handshake_age"] is None or p["last_handshake_age"] > params.max_handshake_age]
    report["stale"] = stale
    report["healthy"] = report["running"] and not stale
    return report


async def run_helix(ctx, params: HelixParams) -> dict:
    svc = _mesh(ctx)
    nodes = await svc.federation()
    return {"node": svc.cfg.node_name, "nodes": nodes,
            "reachable": sum(n["reachable"] for n in nodes), "total": len(nodes)}


AGENTS = [
    Agent(name="CRYPTO", tier="support", specialty="rotate mesh WireGuard keys and post-quantum "
          "pre-shared keys", params_model=CryptoParams, run=run_crypto, timeout=300.0,
          lock=lambda p: "phantommesh:rotate",
          description="Rotates this node's X25519 key pair (telling every node peer first) and/or "
          "the ML-KEM-768 pre-shared keys shared with node peers.", tags=["network", "crypto"]),
    Agent(name="MESH", tier="support", specialty="mesh health: handshake ages, unreachable peers, "
          "network.event", params_model=MeshParams, run=run_mesh, timeout=60.0, concurrency=2,
          description="Reads the WireGuard device, reports per-peer handshake age and traffic, "
          "lists unreachable peers and publishes network.event on up/down changes.",
          tags=["network", "health"]),
    Agent(name="HELIX", tier="support", specialty="federation: gather status from the SigmaVault "
          "APIs of mesh peers", params_model=HelixParams, run=run_helix, timeout=120.0,
          description="Calls every node peer's signed status endpoint over the mesh addresses and "
          "aggregates reachability, latency and status.", tags=["network", "federation"]),
]
