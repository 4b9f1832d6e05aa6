"""Rotation: this node's WireGuard key pair (every node peer told first) and the post-quantum
pre-shared keys (ML-KEM-768) it shares with node peers, on demand and periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sigmavault import operation
from sigmavault.errors import APIError, conflict
from sigmavault.jobs import Job, JobContext

from . import keys, pqpsk
from .drivers.base import PeerConfig
from .models import PeerKeyChange, PQExchange, PQExchangeReply, RotateRequest
from .service import BASE, MeshService
from .store import Peer

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.phantommesh")


class RotationService:
    """Key and PSK rotation; reached as ``app.services[RotationService]``."""

    # 404: a peer a request names; 409: the mesh disabled, a peer or invite that exists
    route_defaults = {"errors": (404, 409)}

    def __init__(self, app: "SigmaVault", mesh: MeshService) -> None:
        self.app = app
        self.mesh = mesh
        self.psk_lock = asyncio.Lock()  # one PSK exchange or key change at a time on this node

    async def start(self) -> None:
        """Rotate due post-quantum PSKs every ``pq_rotate_seconds`` (checked at most every 30 s)."""
        self.app.spawn(self._pq_loop())

    @operation("mesh.rotate", post=BASE + "/rotate", body=RotateRequest, job=True,
               summary="Rotate WireGuard keys and/or post-quantum PSKs")
    async def start_rotation(self, body: RotateRequest) -> Job:
        if body.peer:
            self.mesh.get_peer(body.peer)

        async def run(ctx: JobContext) -> dict[str, Any]:
            return await self.rotate(body.what, body.peer)

        return self.app.jobs.submit("phantommesh.rotate", run, params=body.model_dump(),
                                    lock="phantommesh:rotate", description=f"rotate {body.what}")

    # --- node to node (signed; REST only, see MeshService.node_leave) --------------------------

    @operation(post=BASE + "/node/peer-key", body=PeerKeyChange, response=None, role="readonly",
               summary="A peer announces its new public key (signed)")
    async def node_peer_key(self, new_public_key: str, request: web.Request) -> None:
        peer = await self.mesh.nodes.verified(request)
        await self.peer_changed_key(peer, new_public_key)

    @operation(post=BASE + "/node/pq-exchange", body=PQExchange, response=PQExchangeReply,
               status=200, role="readonly", summary="ML-KEM-768 PSK exchange (signed)")
    async def node_pq_exchange(self, encapsulation_key: str, request: web.Request) -> PQExchangeReply:
        peer = await self.mesh.nodes.verified(request)
        return PQExchangeReply(ciphertext=await self.pq_respond(peer, encapsulation_key))

    @operation(post=BASE + "/node/pq-rotate", response=dict, status=200, role="readonly",
               summary="Ask this node to run a PSK exchange with the caller (signed)")
    async def node_pq_rotate(self, request: web.Request) -> dict[str, Any]:
        peer = await self.mesh.nodes.verified(request)
        if not self.initiates(peer):
            raise APIError(409, "not_initiator", "the calling node initiates this pair's exchanges")
        return await self.initiate_psk(peer)

    # --- rotation --------------------------------------------------------------------------------

    async def rotate_keys(self) -> dict[str, Any]:
        """New X25519 key pair: tell every node peer first, then switch the device."""
        async with self.psk_lock:
            return await self._rotate_keys()

    async def _rotate_keys(self) -> dict[str, Any]:
        old = self.mesh.store.identity()
        new = keys.generate()
        told: list[Peer] = []
        manual = []
        for peer in self.mesh.store.peers():
            if not peer.is_node:
                manual.append(peer.name)
                continue
            try:
                await self.mesh.nodes.signed(peer, "POST", "/peer-key", {"new_public_key": new.public_key})
                told.append(peer)
            except APIError as exc:
                for p in told:  # undo: they know us by the new key now
                    with contextlib.suppress(APIError):
                        await self.mesh.nodes.signed(p, "POST", "/peer-key", {"new_public_key": old["public_key"]},
                                           sender_key=new.public_key)
                raise APIError(502, "rotation_aborted", f"key rotation aborted, peer {peer.name} "
                               f"could not be told: {exc.message}") from None
        self.mesh.store.set_identity(new)
        await self.mesh.apply(private_key=new.private_key)
        self.mesh.publish("key.rotated", None, public_key=new.public_key,
                      detail=f"told {len(told)} node(s)")
        return {"public_key": new.public_key, "previous_public_key": old["public_key"],
                "peers_updated": [p.name for p in told], "peers_needing_manual_update": manual}

    async def peer_changed_key(self, peer: Peer, new_public_key: str) -> None:
        """A node peer announced its new public key."""
        if self.mesh.store.peer_by_key(new_public_key) is not None:
            raise conflict("that public key is already in use by a peer", "key_exists")
        self.mesh.store.update(peer.name, public_key=new_public_key)
        updated = self.mesh.get_peer(peer.name)
        await self.mesh.apply(PeerConfig(public_key=peer.public_key, remove=True), self.mesh.peer_config(updated))
        self.mesh.publish("key.rotated", updated, detail="peer rotated its key")

    def initiates(self, peer: Peer) -> bool:
        """Of two nodes, the one with the smaller public key runs every PSK exchange of the pair,
        so that two exchanges never cross and leave the sides with different keys."""
        return self.mesh.store.identity()["public_key"] < peer.public_key

    async def rotate_psk(self, peer: Peer) -> dict[str, Any]:
        """Fresh post-quantum PSK with a node peer (ML-KEM-768), applied on both sides."""
        if not peer.is_node:
            raise APIError(400, "not_a_node", f"peer {peer.name} is not a SigmaVault node; set its "
                           "pre-shared key with PATCH instead")
        if not self.initiates(peer):
            await self.mesh.nodes.signed(peer, "POST", "/pq-rotate", {})
            self.mesh.publish("psk.rotated", peer, detail="ML-KEM-768 (asked the peer to initiate)")
            return {"peer": peer.name, "psk_mode": "pq", "initiator": peer.name}
        return await self.initiate_psk(peer)

    async def initiate_psk(self, peer: Peer) -> dict[str, Any]:
        """Run the exchange as initiator (callers make sure this node is the pair's initiator)."""
        async with self.psk_lock:
            peer = self.mesh.get_peer(peer.name)
            return await self._initiate_psk(peer)

    async def _initiate_psk(self, peer: Peer) -> dict[str, Any]:
        init = pqpsk.Initiator.start()
        reply = await self.mesh.nodes.signed(peer, "POST", "/pq-exchange", {"encapsulation_key": init.encapsulation_key})
        try:
            psk = init.finish(str((reply or {}).get("ciphertext", "")), self.mesh.store.identity()["public_key"],
                              peer.public_key)
        except ValueError as exc:
            raise APIError(502, "bad_peer_reply", f"peer {peer.name}: {exc}") from None
        self._set_psk(peer, psk)
        await self.mesh.apply(self.mesh.peer_config(self.mesh.get_peer(peer.name)))
        self.mesh.publish("psk.rotated", peer, detail="ML-KEM-768")
        return {"peer": peer.name, "psk_mode": "pq", "initiator": self.mesh.cfg.node_name}

    def _set_psk(self, peer: Peer, psk: str) -> None:
        self.mesh.store.update(peer.name, preshared_key=psk, psk_mode="pq", psk_rotated_at=time.time())

    async def pq_respond(self, peer: Peer, encapsulation_key: str) -> str:
        if self.initiates(peer):
            raise conflict("this node initiates the pair's PSK exchanges", "not_initiator")
        try:
            ct, psk = pqpsk.respond(encapsulation_key, self.mesh.store.identity()["public_key"], peer.public_key)
        except ValueError as exc:
            raise APIError(400, "invalid_mlkem_key", str(exc)) from None
        self._set_psk(peer, psk)
        await self.mesh.apply(self.mesh.peer_config(self.mesh.get_peer(peer.name)))
        self.mesh.publish("psk.rotated", peer, detail="ML-KEM-768 (responder)")
        return ct

    async def rotate(self, what: str, only: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if what in ("psk", "all"):
            peers = [self.mesh.get_peer(only)] if only else [p for p in self.mesh.store.peers() if p.is_node]
            result["psk"] = [await self.rotate_psk(p) for p in peers]
        if what in ("keys", "all"):
            result["keys"] = await self.rotate_keys()
        return result

    async def _pq_loop(self) -> None:
        tick = min(30.0, self.mesh.cfg.pq_rotate_seconds / 2)
        while True:
            await asyncio.sleep(tick)
            if not (self.mesh.cfg.post_quantum and self.mesh.running):
                continue
            own = self.mesh.store.identity()["public_key"]
            for peer in self.mesh.store.peers():
                due = (peer.psk_rotated_at or 0) + self.mesh.cfg.pq_rotate_seconds <= time.time()
                if peer.is_node and due and own < peer.public_key:
                    try:
                        await self.initiate_psk(peer)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        log.warning("PSK rotation with %s failed: %s", peer.name, exc)
