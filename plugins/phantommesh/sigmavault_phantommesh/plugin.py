"""SigmaVault hooks of PhantomMesh: config, migrations, drivers, routes, events, agents."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sigmavault import hookimpl
from sigmavault.app import get_app
from sigmavault.errors import APIError
from sigmavault.jobs import Job

from . import __version__
from .agents import AGENTS
from .drivers import KernelDriver, UserspaceDriver
from .models import (InviteCreate, InviteIssued, InviteView, JoinRequest, MeshConfig, MeshStatus,
                     NetworkEvent, PeerConfigExport, PeerCreate, PeerKeyChange, PeerUpdate, PeerView,
                     PQExchange, PQExchangeReply, RedeemRequest, RedeemResponse, RotateRequest)
from .service import MeshService
from .store import ALL_MIGRATIONS

BASE = "/network/phantommesh"


def mesh(app: Any) -> MeshService:
    svc = getattr(app, "phantommesh", None)
    if svc is None:
        raise APIError(503, "mesh_not_started", "PhantomMesh is not started yet")
    return svc


@hookimpl
def register_config(register):
    register("phantommesh", MeshConfig)


@hookimpl
def register_migrations(register):
    register("phantommesh", ALL_MIGRATIONS)


@hookimpl
def register_events(register):
    register("network.event", NetworkEvent, "PhantomMesh: peer up/down, peers added/removed, "
             "key and pre-shared key rotations, interface up/down")


@hookimpl
def register_network_drivers(register):
    register(KernelDriver())
    register(UserspaceDriver())


@hookimpl
def register_agents(register):
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_ui_pages(register):
    register(id="phantommesh", title="PhantomMesh", path="/network/phantommesh", icon="network",
             section="network")


@hookimpl
async def startup(app):
    app.phantommesh = MeshService(app, app.config.section("phantommesh"))
    await app.phantommesh.start()


@hookimpl
async def shutdown(app):
    svc = getattr(app, "phantommesh", None)
    if svc is not None:
        await svc.stop()


@hookimpl
def security_checks(app):
    findings = []
    db_path = app.data_dir / "sigmavault.db"
    if db_path.exists() and db_path.stat().st_mode & 0o077:
        findings.append({"id": "phantommesh.key_file_mode", "severity": "high",
                         "title": "WireGuard private key readable by others",
                         "detail": f"{db_path} holds the mesh private key and is not mode 0600"})
    svc = getattr(app, "phantommesh", None)
    if svc is not None:
        for p in svc.store.peers():
            if p.is_node and p.psk_mode == "none" and svc.cfg.post_quantum:
                findings.append({"id": f"phantommesh.no_pq_psk.{p.name}", "severity": "low",
                                 "title": f"peer {p.name} has no post-quantum pre-shared key",
                                 "detail": "rotate with POST /api/v1/network/phantommesh/rotate"})
    return findings


async def _verified(request: web.Request) -> Any:
    """The peer that signed this node-to-node request (401 otherwise)."""
    raw = await request.read()
    return mesh(get_app(request)).verify(request, raw)


@hookimpl
def register_routes(app):
    api = app.api

    @api.get(BASE, response=MeshStatus, summary="PhantomMesh status")
    async def status(request: web.Request) -> MeshStatus:
        """Interface, public key, listen port, driver and per-peer endpoint, allowed IPs,
        last handshake age, rx/tx bytes and up/down (handshake younger than 180 s)."""
        return await mesh(get_app(request)).status()

    @api.post(BASE + "/up", response=MeshStatus, status=200, summary="Bring the mesh interface up")
    async def up(request: web.Request) -> MeshStatus:
        svc = mesh(get_app(request))
        await svc.ensure_up()
        return await svc.status()

    @api.post(BASE + "/down", response=MeshStatus, status=200, summary="Take the mesh interface down")
    async def down(request: web.Request) -> MeshStatus:
        svc = mesh(get_app(request))
        await svc.down()
        return await svc.status()

    @api.get(BASE + "/peers", response=list[PeerView], summary="List peers")
    async def list_peers(request: web.Request) -> list[PeerView]:
        return (await mesh(get_app(request)).status()).peers

    @api.post(BASE + "/peers", body=PeerCreate, response=PeerView, summary="Add a WireGuard peer")
    async def add_peer(request: web.Request, body: PeerCreate) -> PeerView:
        """Add a plain WireGuard peer; omit ``public_key`` to have a key pair generated."""
        svc = mesh(get_app(request))
        peer = await svc.add_peer(body)
        return _view(await svc.status(), peer.name)

    @api.get(BASE + "/peers/{name}", response=PeerView, summary="One peer")
    async def get_peer(request: web.Request, name: str) -> PeerView:
        svc = mesh(get_app(request))
        svc.get_peer(name)
        return _view(await svc.status(), name)

    @api.patch(BASE + "/peers/{name}", body=PeerUpdate, response=PeerView, summary="Change a peer")
    async def update_peer(request: web.Request, name: str, body: PeerUpdate) -> PeerView:
        svc = mesh(get_app(request))
        await svc.update_peer(name, body)
        return _view(await svc.status(), name)

    @api.delete(BASE + "/peers/{name}", summary="Remove a peer")
    async def delete_peer(request: web.Request, name: str) -> None:
        """Remove the peer here (and tell it, when it is a SigmaVault node)."""
        await mesh(get_app(request)).remove_peer(name)

    @api.get(BASE + "/peers/{name}/config", response=PeerConfigExport, role="admin",
             summary="Export a peer's wg-quick config")
    async def export_config(request: web.Request, name: str) -> PeerConfigExport:
        """The wg-quick file the peer uses to reach this node (holds secrets: admin only)."""
        filename, text = mesh(get_app(request)).export(name, request.url.host)
        return PeerConfigExport(name=name, filename=filename, config=text)

    @api.get(BASE + "/invites", response=list[InviteView], summary="List invites")
    async def list_invites(request: web.Request) -> list[InviteView]:
        return mesh(get_app(request)).list_invites()

    @api.post(BASE + "/invites", body=InviteCreate, response=InviteIssued, summary="Issue a one-time invite")
    async def create_invite(request: web.Request, body: InviteCreate) -> InviteIssued:
        """A one-time token another node redeems with ``POST …/join`` to join this mesh."""
        row, text = mesh(get_app(request)).issue_invite(body.name, body.ttl_seconds)
        return InviteIssued(**row, invite=text)

    @api.delete(BASE + "/invites/{invite_id}", summary="Revoke a pending invite")
    async def revoke_invite(request: web.Request, invite_id: str) -> None:
        mesh(get_app(request)).revoke_invite(invite_id)

    @api.post(BASE + "/invites/redeem", body=RedeemRequest, response=RedeemResponse, status=200,
              public=True, summary="Redeem an invite (node to node)")
    async def redeem(request: web.Request, body: RedeemRequest) -> RedeemResponse:
        """Called by a joining node; the one-time token is the credential."""
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        return await mesh(get_app(request)).redeem(body, request.remote, sock[0] if sock else None)

    @api.post(BASE + "/join", body=JoinRequest, response=PeerView, summary="Join a mesh with an invite")
    async def join(request: web.Request, body: JoinRequest) -> PeerView:
        svc = mesh(get_app(request))
        peer = await svc.join(body.invite)
        return _view(await svc.status(), peer.name)

    @api.post(BASE + "/rotate", body=RotateRequest, response=Job, status=202,
              summary="Rotate WireGuard keys and/or post-quantum PSKs")
    async def rotate(request: web.Request, body: RotateRequest) -> Job:
        app_ = get_app(request)
        svc = mesh(app_)
        if body.peer:
            svc.get_peer(body.peer)

        async def run(ctx):
            return await svc.rotate(body.what, body.peer)

        return app_.jobs.submit("phantommesh.rotate", run, params=body.model_dump(),
                                lock="phantommesh:rotate", description=f"rotate {body.what}")

    @api.get(BASE + "/federation", response=list[dict], summary="Status of mesh peers (over the mesh)")
    async def federation(request: web.Request) -> list[dict]:
        return await mesh(get_app(request)).federation()

    # --- node to node: the peer's readonly API key gets it in, the HMAC signature with the
    # per-pair secret names the peer and binds method, path, body and time ---------------------

    @api.post(BASE + "/node/peer-key", body=PeerKeyChange, response=None, role="readonly",
              summary="A peer announces its new public key (signed)")
    async def node_peer_key(request: web.Request, body: PeerKeyChange) -> None:
        peer = await _verified(request)
        await mesh(get_app(request)).peer_changed_key(peer, body.new_public_key)

    @api.post(BASE + "/node/pq-exchange", body=PQExchange, response=PQExchangeReply, status=200,
              role="readonly", summary="ML-KEM-768 PSK exchange (signed)")
    async def node_pq(request: web.Request, body: PQExchange) -> PQExchangeReply:
        peer = await _verified(request)
        ct = await mesh(get_app(request)).pq_respond(peer, body.encapsulation_key)
        return PQExchangeReply(ciphertext=ct)

    @api.post(BASE + "/node/pq-rotate", response=dict, status=200, role="readonly",
              summary="Ask this node to run a PSK exchange with the caller (signed)")
    async def node_pq_rotate(request: web.Request) -> dict:
        peer = await _verified(request)
        svc = mesh(get_app(request))
        if not svc.initiates(peer):
            raise APIError(409, "not_initiator", "the calling node initiates this pair's exchanges")
        return await svc.initiate_psk(peer)

    @api.post(BASE + "/node/leave", response=None, role="readonly", summary="A peer removed us (signed)")
    async def node_leave(request: web.Request) -> None:
        peer = await _verified(request)
        await mesh(get_app(request)).remove_peer(peer.name, notify=False)

    @api.get(BASE + "/node/status", response=dict, summary="Node summary for HELIX (signed)")
    async def node_status(request: web.Request) -> dict:
        await _verified(request)
        app_ = get_app(request)
        st = await mesh(app_).status()
        return {"node_name": st.node_name, "version": __version__, "public_key": st.public_key,
                "address": st.address, "driver": st.driver,
                "peers": len(st.peers), "peers_up": sum(p.up for p in st.peers),
                "plugins": sorted(getattr(app_.plugins, "infos", {}).keys())}


def _view(status: MeshStatus, name: str) -> PeerView:
    return next(p for p in status.peers if p.name == name)
