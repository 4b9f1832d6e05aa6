"""Invites and joining: this node issues one-time invites another node redeems to join the mesh,
and joins other meshes with theirs (the format of an invite is :mod:`.invites`)."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sigmavault import operation
from sigmavault.errors import APIError, conflict, not_found

from . import invites, links, pqpsk
from .models import (InviteCreate, InviteIssued, InviteView, JoinRequest, PeerView, RedeemRequest,
                     RedeemResponse)
from .service import BASE, SELF, MeshService
from .store import Peer

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


class InviteService:
    """Invites of this node and joining other nodes' meshes; reached as
    ``app.services[InviteService]``."""

    # 404: a peer a request names; 409: the mesh disabled, a peer or invite that exists
    route_defaults = {"errors": (404, 409)}

    def __init__(self, app: "SigmaVault", mesh: MeshService) -> None:
        self.app = app
        self.mesh = mesh

    # --- operations ------------------------------------------------------------------------------

    @operation("mesh.invites.list", get=BASE + "/invites", response=list[InviteView],
               summary="List invites")
    def list_invites(self) -> list[dict[str, Any]]:
        return self.app.db.all("SELECT id, name, created_at, expires_at, redeemed_at, redeemed_by "
                               "FROM phantommesh_invites ORDER BY created_at DESC")

    @operation("mesh.invites.create", post=BASE + "/invites", body=InviteCreate,
               response=InviteIssued, summary="Issue a one-time invite",
               description="A one-time token another node redeems with ``POST …/join`` to join "
               "this mesh.")
    def create_invite(self, name: str, ttl_seconds: int | None = None) -> InviteIssued:
        row, text = self.issue_invite(name, ttl_seconds)
        return InviteIssued(**row, invite=text)

    @operation("mesh.invites.delete", delete=BASE + "/invites/{invite_id}",
               summary="Revoke a pending invite")
    def revoke_invite(self, invite_id: str) -> None:
        cur = self.app.db.execute("DELETE FROM phantommesh_invites WHERE id=? AND redeemed_at IS NULL",
                                  (invite_id,))
        if cur.rowcount == 0:
            raise not_found("pending invite", invite_id)

    @operation(post=BASE + "/invites/redeem", body=RedeemRequest, response=RedeemResponse,
               status=200, public=True, summary="Redeem an invite (node to node)",
               description="Called by a joining node; the one-time token is the credential.")
    async def redeem_request(self, body: RedeemRequest, request: web.Request) -> RedeemResponse:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        return await self.redeem(body, request.remote, sock[0] if sock else None)

    @operation("mesh.join", post=BASE + "/join", body=JoinRequest, response=PeerView,
               summary="Join a mesh with an invite")
    async def join_mesh(self, invite: str) -> PeerView:
        peer = await self.join(invite)
        return await self.mesh.view(peer.name)

    # --- issuer and joiner sides -----------------------------------------------------------------

    def issue_invite(self, name: str, ttl: int | None) -> tuple[dict[str, Any], str]:
        self.mesh.require_enabled()
        self.mesh.check_new(name, None)
        secret = invites.new_secret()
        now = time.time()
        expires = now + (ttl or self.mesh.cfg.invite_ttl_seconds)
        invite_id = secrets.token_hex(8)
        self.app.db.execute("INSERT INTO phantommesh_invites(id, token_hash, name, created_at, expires_at) "
                            "VALUES(?,?,?,?,?)", (invite_id, invites.token_hash(secret), name, now, expires))
        text = invites.Invite(api_url=self.mesh.api_url(), public_key=self.mesh.store.identity()["public_key"],
                              secret=secret, name=name, expires_at=expires,
                              mesh_cidr=self.mesh.cfg.mesh_cidr).encode()
        row = self.app.db.one("SELECT id, name, created_at, expires_at, redeemed_at, redeemed_by "
                              "FROM phantommesh_invites WHERE id=?", (invite_id,))
        assert row is not None  # inserted just above
        return row, text

    async def redeem(self, body: RedeemRequest, remote: str | None, local: str | None) -> RedeemResponse:
        """Issuer side: check and burn the token, record the joiner as a peer, answer our side."""
        self.mesh.require_enabled()
        th = invites.token_hash(body.token)
        row = self.app.db.one("SELECT * FROM phantommesh_invites WHERE token_hash=?", (th,))
        if row is None:
            raise APIError(403, "invalid_token", "invite token is unknown or was revoked")
        if row["redeemed_at"] is not None:
            raise APIError(409, "invite_used", "invite was already redeemed")
        if row["expires_at"] < time.time():
            raise APIError(410, "invite_expired", "invite has expired")
        name = row["name"]
        self.mesh.check_new(name, body.public_key)
        await self.mesh.ensure_up()  # before anything is recorded: a node that cannot run keeps its token
        address = self.mesh.ipam.reserve(body.address, name) if body.address else self.mesh.ipam.allocate(name)
        endpoint = body.endpoint or (f"{remote}:{body.listen_port}" if remote else None)
        ident = self.mesh.store.identity()
        ct = psk = None
        if body.mlkem_encapsulation_key and self.mesh.cfg.post_quantum:
            try:
                ct, psk = pqpsk.respond(body.mlkem_encapsulation_key, ident["public_key"], body.public_key)
            except ValueError as exc:
                self.mesh.ipam.release(name)
                raise APIError(400, "invalid_mlkem_key", str(exc)) from None
        username, our_key = self.mesh.nodes.grant()
        peer = Peer(name=name, public_key=body.public_key, endpoint=endpoint,
                    allowed_ips=[f"{address}/32" if ":" not in address else f"{address}/128"],
                    address=address, keepalive=self.mesh.cfg.keepalive, preshared_key=psk,
                    psk_mode="pq" if psk else "none", psk_rotated_at=time.time() if psk else None,
                    peer_secret=secrets.token_hex(32), api_url=body.api_url, created_at=time.time(),
                    local_user=username, remote_api_key=body.api_key)
        try:
            with self.app.db.transaction() as conn:
                cur = conn.execute("UPDATE phantommesh_invites SET redeemed_at=?, redeemed_by=? "
                                   "WHERE token_hash=? AND redeemed_at IS NULL", (time.time(), body.node_name, th))
                if cur.rowcount != 1:
                    raise APIError(409, "invite_used", "invite was already redeemed")
                self.mesh.store.insert(peer, conn)
        except Exception:
            self.mesh.ipam.release(name)
            self.mesh.nodes.revoke(username)
            raise
        await self.mesh.ensure_up()
        await self.mesh.apply(self.mesh.peer_config(peer))
        self.mesh.publish("peer.added", peer, detail=f"joined by invite as {address}")
        host = self.mesh.cfg.endpoint_host or local or "127.0.0.1"
        own = self.mesh.ipam.address_of(SELF)
        return RedeemResponse(
            node_name=self.mesh.cfg.node_name, public_key=ident["public_key"],
            endpoint=f"[{host}]:{self.mesh.cfg.listen_port}" if ":" in host else f"{host}:{self.mesh.cfg.listen_port}",
            address=own, assigned_address=self.mesh.ipam.interface(address), mesh_cidr=self.mesh.cfg.mesh_cidr,
            keepalive=self.mesh.cfg.keepalive, peer_secret=peer.peer_secret, api_key=our_key,
            mlkem_ciphertext=ct)

    async def join(self, invite_text: str) -> Peer:
        """Joiner side: redeem the invite at the issuer and add it as our peer."""
        inv = invites.parse(invite_text)
        self.mesh.require_enabled()
        if inv.mesh_cidr != self.mesh.cfg.mesh_cidr:
            raise conflict(f"the inviting mesh uses {inv.mesh_cidr} but this node is configured for "
                           f"{self.mesh.cfg.mesh_cidr}", "mesh_cidr_mismatch")
        existing = self.mesh.store.peer_by_key(inv.public_key)
        if existing is not None:
            raise conflict(f"already joined: the issuer is peer {existing.name!r}", "already_joined")
        ident = self.mesh.store.identity()
        await self.mesh.ensure_up()  # fail here, before the issuer burns the token
        member = any(p.is_node for p in self.mesh.store.peers())
        init = pqpsk.Initiator.start() if self.mesh.cfg.post_quantum else None
        endpoint = None
        if self.mesh.cfg.endpoint_host:
            endpoint = f"{self.mesh.cfg.endpoint_host}:{self.mesh.cfg.listen_port}"
        username, our_key = self.mesh.nodes.grant()
        try:
            req = RedeemRequest(token=inv.secret, public_key=ident["public_key"], node_name=self.mesh.cfg.node_name,
                                listen_port=self.mesh.cfg.listen_port, endpoint=endpoint, api_url=self.mesh.api_url(),
                                address=self.mesh.ipam.address_of(SELF) if member else None,
                                mlkem_encapsulation_key=init.encapsulation_key if init else None,
                                api_key=our_key)
            data = await self.mesh.nodes.post_json(inv.api_url.rstrip("/") + "/api/v1/network/phantommesh/invites/redeem",
                                         req.model_dump(mode="json"), {})
            try:
                resp = RedeemResponse.model_validate(data)
            except ValueError:
                raise APIError(502, "bad_issuer_reply", "the issuing node answered something unexpected") from None
            if resp.public_key != inv.public_key:
                raise APIError(502, "issuer_mismatch", "the node that answered is not the one that issued the invite")
            name = resp.node_name
            if self.mesh.store.peer(name) is not None:
                raise conflict(f"a peer named {name!r} exists already; rename it first", "peer_exists")
        except BaseException:
            self.mesh.nodes.revoke(username)
            raise
        assigned = resp.assigned_address.split("/")[0]
        self.mesh.ipam.reserve(assigned, SELF)
        self.mesh.ipam.reserve(resp.address, name)
        psk = None
        if init and resp.mlkem_ciphertext:
            psk = init.finish(resp.mlkem_ciphertext, ident["public_key"], resp.public_key)
        peer = Peer(name=name, public_key=resp.public_key, endpoint=resp.endpoint,
                    allowed_ips=[f"{resp.address}/32" if ":" not in resp.address else f"{resp.address}/128"],
                    address=resp.address, keepalive=resp.keepalive, preshared_key=psk,
                    psk_mode="pq" if psk else "none", psk_rotated_at=time.time() if psk else None,
                    peer_secret=resp.peer_secret, api_url=inv.api_url, created_at=time.time(),
                    local_user=username, remote_api_key=resp.api_key)
        self.mesh.store.insert(peer)
        if self.mesh.running:
            await links.set_address(self.mesh.ifname, self.mesh.ipam.interface(assigned))
        await self.mesh.ensure_up()
        await self.mesh.apply(self.mesh.peer_config(peer))
        self.mesh.publish("peer.added", peer, detail=f"joined {name} as {assigned}")
        return peer
