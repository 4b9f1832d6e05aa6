"""The mesh of this node: identity, interface, peers, health and federation; the device follows
the DB. Invites and joining are in :mod:`.membership`, key and PSK rotation in :mod:`.rotation`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from sigmavault import operation
from sigmavault.errors import APIError, conflict, not_found

from . import __version__, keys, links, wgquick
from .config import MeshConfig
from .drivers.base import DeviceState, DriverError, NetworkDriver, PeerConfig
from .drivers.select import select_driver
from .ipam import IPAM
from .models import MeshStatus, NetworkEvent, PeerConfigExport, PeerCreate, PeerUpdate, PeerView
from .nodes import NodeClient
from .store import Peer, Store

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.phantommesh")
SELF = "self"  # IPAM owner of this node's own address
BASE = "/network/phantommesh"


class MeshService:
    """One per daemon, reached as ``app.services[MeshService]``: the node's identity, its
    interface and the peers on it (the DB is the source of truth the device is synced from)."""

    # 404: a peer a request names; 409: the mesh disabled, a peer or invite that exists
    route_defaults = {"errors": (404, 409)}

    def __init__(self, app: "SigmaVault", cfg: MeshConfig) -> None:
        self.app = app
        self.cfg = cfg
        self.store = Store(app.db)
        self.ipam = IPAM(app.db, cfg.mesh_cidr, cfg.ipam_quarantine_seconds)
        self.nodes = NodeClient(app, self.store)
        self.driver: NetworkDriver | None = None
        self.running = False
        self.lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def ifname(self) -> str:
        return self.cfg.interface

    def drivers(self) -> dict[str, NetworkDriver]:
        return self.app.registries.get("network_drivers", {})

    def driver_report(self) -> dict[str, str]:
        report = {}
        for name, driver in sorted(self.drivers().items()):
            ok, why = driver.available()
            report[name] = ("available: " if ok else "unavailable: ") + why
        return report

    async def start(self) -> None:
        self.store.identity()
        if self.ipam.address_of(SELF) is None:
            self.ipam.allocate(SELF)
        if self.cfg.enabled and self.cfg.autostart and self.store.peers():
            try:
                await self.up()
            except APIError as exc:
                log.error("phantommesh interface did not come up: %s", exc.message)
        self.app.spawn(self._monitor_loop())

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.down()
        await self.nodes.close()

    def require_enabled(self) -> None:
        if not self.cfg.enabled:
            raise conflict("PhantomMesh is disabled on this node: set enabled = true in the "
                           "[phantommesh] configuration to let it create its interface", "mesh_disabled")

    async def up(self) -> None:
        """Create the interface with the selected driver and sync every peer onto it."""
        self.require_enabled()
        async with self.lock:
            if self.running:
                return
            try:
                self.driver = select_driver(self.drivers(), self.cfg.driver)
                ident = self.store.identity()
                await self.driver.up(self.ifname, private_key=ident["private_key"],
                                     listen_port=self.cfg.listen_port)
            except DriverError as exc:
                raise APIError(503, "mesh_unavailable", f"cannot bring {self.ifname} up: {exc}") from None
            try:
                await links.set_address(self.ifname, self.ipam.interface(self.own_address()))
                await links.set_up(self.ifname, self.cfg.mtu)
                await self._sync_locked(self.driver)
            except (DriverError, OSError) as exc:
                with contextlib.suppress(Exception):  # leave no half-configured interface behind
                    await self.driver.down(self.ifname)
                raise APIError(503, "mesh_unavailable", f"cannot configure {self.ifname}: {exc}") from None
            self.running = True
        self.publish("interface.up", detail=f"driver {self.driver.name}")

    async def down(self) -> None:
        async with self.lock:
            if self.driver is not None:
                await self.driver.down(self.ifname)
            was, self.running = self.running, False
        if was:
            self.publish("interface.down")

    def own_address(self) -> str:
        """This node's mesh address (allocated at start when it has none)."""
        return self.ipam.address_of(SELF) or self.ipam.allocate(SELF)

    async def _sync_locked(self, driver: NetworkDriver) -> None:
        peers = self.store.peers()
        await driver.configure(self.ifname, replace_peers=True,
                                    peers=[self.peer_config(p) for p in peers])
        for p in peers:
            await links.ensure_routes(self.ifname, p.allowed_ips, skip_inside=self.cfg.mesh_cidr)

    def peer_config(self, peer: Peer) -> PeerConfig:
        return PeerConfig(public_key=peer.public_key, endpoint=peer.endpoint,
                          allowed_ips=peer.allowed_ips, keepalive=peer.keepalive,
                          preshared_key=peer.preshared_key or "")

    async def apply(self, *changes: PeerConfig, private_key: str | None = None) -> None:
        """Push changes to the device when it is up (the DB already holds them)."""
        if not self.running or self.driver is None:
            return
        async with self.lock:
            try:
                await self.driver.configure(self.ifname, private_key=private_key, peers=list(changes))
                for c in changes:
                    if not c.remove:
                        await links.ensure_routes(self.ifname, c.allowed_ips, skip_inside=self.cfg.mesh_cidr)
            except DriverError as exc:
                raise APIError(503, "mesh_unavailable", f"{self.ifname}: {exc}") from None

    async def _drop_stale_routes(self, before: list[str]) -> None:
        """Routes for allowed IPs outside the mesh that no peer claims any more."""
        if not self.running:
            return
        claimed = {c for p in self.store.peers() for c in p.allowed_ips}
        stale = [c for c in before if c not in claimed and not links.inside(c, self.cfg.mesh_cidr)]
        if stale:
            async with self.lock:
                await links.drop_routes(self.ifname, stale)

    async def ensure_up(self) -> None:
        if not self.running:
            await self.up()

    # --- status ----------------------------------------------------------------------------------

    async def device(self) -> DeviceState | None:
        if not self.running or self.driver is None:
            return None
        try:
            return await self.driver.show(self.ifname)
        except DriverError as exc:
            log.warning("cannot read %s: %s", self.ifname, exc)
            return None

    @operation("mesh.status", get=BASE, response=MeshStatus, summary="PhantomMesh status",
               description="Interface, public key, listen port, driver and per-peer endpoint, "
               "allowed IPs,\nlast handshake age, rx/tx bytes and up/down (handshake younger than "
               "180 s).")
    async def status(self) -> MeshStatus:
        ident = self.store.identity()
        dev = await self.device()
        now = time.time()
        views = []
        for p in self.store.peers():
            st = dev.peer(p.public_key) if dev else None
            views.append(PeerView(
                name=p.name, public_key=p.public_key,
                endpoint=(st.endpoint if st and st.endpoint else p.endpoint),
                allowed_ips=p.allowed_ips, address=p.address, keepalive=p.keepalive,
                preshared_key=bool(p.preshared_key), psk_mode=p.psk_mode,
                psk_rotated_at=p.psk_rotated_at, node=p.is_node,
                last_handshake_age=st.handshake_age(now) if st else None,
                rx_bytes=st.rx_bytes if st else 0, tx_bytes=st.tx_bytes if st else 0,
                up=bool(st and st.is_up(now))))
        address = self.ipam.address_of(SELF)
        return MeshStatus(
            enabled=self.cfg.enabled, node_name=self.cfg.node_name, interface=self.ifname,
            driver=self.driver.name if self.driver else None, drivers=self.driver_report(),
            running=self.running, public_key=ident["public_key"],
            listen_port=dev.listen_port if dev else self.cfg.listen_port,
            address=self.ipam.interface(address) if address else None, mesh_cidr=self.cfg.mesh_cidr,
            post_quantum=self.cfg.post_quantum, peers=views)

    # --- peers -----------------------------------------------------------------------------------

    def get_peer(self, name: str) -> Peer:
        peer = self.store.peer(name)
        if peer is None:
            raise not_found("peer", name)
        return peer

    def check_new(self, name: str, public_key: str | None) -> None:
        if self.store.peer(name) is not None:
            raise conflict(f"peer {name!r} already exists", "peer_exists", name=name)
        if public_key is not None:
            if public_key == self.store.identity()["public_key"]:
                raise APIError(400, "own_key", "that public key is this node's own key")
            other = self.store.peer_by_key(public_key)
            if other is not None:
                raise conflict(f"public key already belongs to peer {other.name!r}", "key_exists",
                               name=other.name)

    async def add_peer(self, body: PeerCreate) -> Peer:
        """A plain WireGuard peer (a laptop, a phone) added by the admin."""
        self.check_new(body.name, body.public_key)
        client_private = None
        public_key = body.public_key
        if public_key is None:
            pair = keys.generate()
            public_key, client_private = pair.public_key, pair.private_key
        address = (self.ipam.reserve(body.address, body.name) if body.address
                   else self.ipam.allocate(body.name))
        psk = body.preshared_key or (keys.generate_psk() if body.generate_psk else None)
        peer = Peer(name=body.name, public_key=public_key, endpoint=body.endpoint,
                    allowed_ips=body.allowed_ips or [f"{address}/{32 if ':' not in address else 128}"],
                    address=address, keepalive=self.cfg.keepalive if body.keepalive is None else body.keepalive,
                    preshared_key=psk, psk_mode="static" if psk else "none",
                    client_private_key=client_private, created_at=time.time())
        try:
            self.store.insert(peer)
        except Exception:
            self.ipam.release(body.name)
            raise
        if self.cfg.autostart and self.cfg.enabled:
            await self.ensure_up()
        await self.apply(self.peer_config(peer))
        self.publish("peer.added", peer)
        return peer

    async def update_peer(self, name: str, body: PeerUpdate) -> Peer:
        peer = self.get_peer(name)
        old_ips = list(peer.allowed_ips)
        fields: dict[str, Any] = {}
        if body.endpoint is not None:
            fields["endpoint"] = body.endpoint
        if body.allowed_ips is not None:
            fields["allowed_ips"] = body.allowed_ips
        if body.keepalive is not None:
            fields["keepalive"] = body.keepalive
        if body.clear_preshared_key:
            fields.update(preshared_key=None, psk_mode="none")
        elif body.preshared_key is not None:
            fields.update(preshared_key=body.preshared_key, psk_mode="static")
        if fields:
            self.store.update(name, **fields)
        peer = self.get_peer(name)
        await self.apply(self.peer_config(peer))
        await self._drop_stale_routes(old_ips)
        return peer

    @operation("mesh.peers.delete", delete=BASE + "/peers/{name}", summary="Remove a peer",
               description="Remove the peer here (and tell it, when it is a SigmaVault node).")
    async def remove_peer(self, name: str, notify: bool = True) -> None:
        peer = self.get_peer(name)
        if notify and peer.is_node:
            try:
                await self.nodes.signed(peer, "POST", "/leave", {})
            except APIError as exc:
                log.warning("peer %s was not told about its removal: %s", name, exc.message)
        self.store.delete(name)
        self.ipam.release(name)
        self.nodes.revoke(peer.local_user)
        await self.apply(PeerConfig(public_key=peer.public_key, remove=True))
        await self._drop_stale_routes(peer.allowed_ips)
        self.publish("peer.removed", peer)

    def export(self, name: str, host_hint: str | None) -> tuple[str, str]:
        """``(filename, wg-quick text)`` for the peer to reach this node."""
        peer = self.get_peer(name)
        host = self.cfg.endpoint_host or host_hint
        endpoint = None
        if host:
            endpoint = f"[{host}]:{self.cfg.listen_port}" if ":" in host else f"{host}:{self.cfg.listen_port}"
        own = self.ipam.address_of(SELF)
        text = wgquick.render(
            address=self.ipam.interface(peer.address) if peer.address else None,
            private_key=peer.client_private_key, listen_port=None,
            peer_public_key=self.store.identity()["public_key"], peer_endpoint=endpoint,
            allowed_ips=[self.cfg.mesh_cidr], preshared_key=peer.preshared_key,
            keepalive=self.cfg.keepalive,
            comment=f"PhantomMesh peer {peer.name} -> node {self.cfg.node_name} ({own})")
        return f"{self.cfg.interface}.conf", text

    # --- operations on the interface and peers (remove_peer above is mesh.peers.delete) ---------

    @operation("mesh.up", post=BASE + "/up", response=MeshStatus, status=200,
               summary="Bring the mesh interface up")
    async def bring_up(self) -> MeshStatus:
        await self.ensure_up()
        return await self.status()

    @operation("mesh.down", post=BASE + "/down", response=MeshStatus, status=200,
               summary="Take the mesh interface down")
    async def take_down(self) -> MeshStatus:
        await self.down()
        return await self.status()

    @operation("mesh.peers.list", get=BASE + "/peers", response=list[PeerView], summary="List peers")
    async def list_peers(self) -> list[PeerView]:
        return (await self.status()).peers

    @operation("mesh.peers.create", post=BASE + "/peers", body=PeerCreate, response=PeerView,
               summary="Add a WireGuard peer", description="Add a plain WireGuard peer; omit "
               "``public_key`` to have a key pair generated.")
    async def create_peer(self, body: PeerCreate) -> PeerView:
        peer = await self.add_peer(body)
        return await self.view(peer.name)

    @operation("mesh.peers.get", get=BASE + "/peers/{name}", response=PeerView, summary="One peer")
    async def peer_view(self, name: str) -> PeerView:
        self.get_peer(name)
        return await self.view(name)

    @operation("mesh.peers.update", patch=BASE + "/peers/{name}", body=PeerUpdate, response=PeerView,
               summary="Change a peer")
    async def change_peer(self, name: str, body: PeerUpdate) -> PeerView:
        await self.update_peer(name, body)
        return await self.view(name)

    @operation("mesh.peers.config", get=BASE + "/peers/{name}/config", response=PeerConfigExport,
               role="admin", summary="Export a peer's wg-quick config",
               description="The wg-quick file the peer uses to reach this node (holds secrets: "
               "admin only).")
    async def export_config(self, name: str, request: web.Request | None = None) -> PeerConfigExport:
        filename, text = self.export(name, request.url.host if request is not None else None)
        return PeerConfigExport(name=name, filename=filename, config=text)

    async def view(self, name: str) -> PeerView:
        """The status view of one peer (device counters included)."""
        return next(p for p in (await self.status()).peers if p.name == name)

    # --- node to node: the peer's readonly API key gets it in, the HMAC signature with the
    # per-pair secret names the peer and binds method, path, body and time. REST only: the
    # signature is their credential, which an in-process caller cannot have. ------------------

    @operation(post=BASE + "/node/leave", response=None, role="readonly",
               summary="A peer removed us (signed)")
    async def node_leave(self, request: web.Request) -> None:
        peer = await self.nodes.verified(request)
        await self.remove_peer(peer.name, notify=False)

    @operation(get=BASE + "/node/status", response=dict, summary="Node summary for HELIX (signed)")
    async def node_status(self, request: web.Request) -> dict[str, Any]:
        await self.nodes.verified(request)
        st = await self.status()
        return {"node_name": st.node_name, "version": __version__, "public_key": st.public_key,
                "address": st.address, "driver": st.driver,
                "peers": len(st.peers), "peers_up": sum(p.up for p in st.peers),
                "plugins": sorted(getattr(self.app.plugins, "infos", {}).keys())}

    # --- signed node-to-node calls for other plugins (call-only: the pair's secret never leaves
    # this plugin) ----------------------------------------------------------------------------

    def mesh_base(self, peer: Peer) -> str:
        """The peer's API over its mesh address (through the tunnel), else its API URL."""
        assert peer.api_url is not None
        port = urlsplit(peer.api_url).port or 80
        return f"http://{peer.address}:{port}" if peer.address else peer.api_url

    @operation("mesh.node.request")
    async def node_request(self, peer: str, method: str, path: str, body: bytes = b"",
                           content_type: str = "application/json",
                           timeout: float = 60.0) -> dict[str, Any]:
        """(peer, method, path, body=b"", content_type, timeout) -> {status, content_type, body}:
        a request signed with the pair's secret to ``path`` (``/api/v1/...``, query allowed) of
        node peer ``peer``, over the mesh; any answer comes back, a network failure is 502
        ``peer_unreachable``. The receiver checks it with ``mesh.node.verify``."""
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE") or not path.startswith("/api/v1/"):
            raise APIError(400, "bad_request", "method must be an HTTP verb and path start with /api/v1/")
        p = self.get_peer(peer)
        if not p.is_node:
            raise APIError(400, "not_a_node", f"peer {peer} is not a SigmaVault node")
        status, ctype, data = await self.nodes.signed_raw(p, method, path, bytes(body),
                                                          self.mesh_base(p), content_type, timeout)
        return {"status": status, "content_type": ctype, "body": data}

    @operation("mesh.node.verify")
    async def node_verify(self, request: web.Request | None = None) -> dict[str, Any]:
        """(request) -> {peer, public_key}: the node peer that signed this incoming request
        (401 ``unsigned``, ``unknown_peer``, ``bad_signature``, ``stale_request``, ``replayed``)."""
        peer = await self.nodes.verified(request)
        return {"peer": peer.name, "public_key": peer.public_key}

    # --- node identity ---------------------------------------------------------------------------

    def api_url(self) -> str:
        return self.cfg.api_url or f"http://{self.app.config.host}:{self.app.config.port}"

    # --- health ----------------------------------------------------------------------------------

    async def check_health(self) -> dict[str, Any]:
        """Compare every peer's up/down with what was last seen; publish transitions."""
        dev = await self.device()
        now = time.time()
        report = []
        for peer in self.store.peers():
            st = dev.peer(peer.public_key) if dev else None
            up = bool(st and st.is_up(now))
            state = "up" if up else "down"
            if state != peer.last_state:
                self.store.update(peer.name, last_state=state)
                if not (peer.last_state == "unknown" and state == "down"):
                    self.publish(f"peer.{state}", peer,
                                  detail=f"last handshake {st.handshake_age(now):.0f} s ago"
                                  if st and st.last_handshake else "no handshake")
            report.append({"peer": peer.name, "up": up,
                           "last_handshake_age": st.handshake_age(now) if st else None,
                           "rx_bytes": st.rx_bytes if st else 0, "tx_bytes": st.tx_bytes if st else 0,
                           "endpoint": st.endpoint if st else peer.endpoint})
        return {"interface": self.ifname, "running": self.running, "peers": report,
                "unreachable": [r["peer"] for r in report if not r["up"]]}

    async def _monitor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.monitor_seconds)
            try:
                if self.running and self.driver is not None and not await self.driver.exists(self.ifname):
                    log.error("%s disappeared; bringing it back", self.ifname)
                    self.running = False
                    self.publish("interface.down", detail="interface disappeared")
                    await self.up()
                await self.check_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("phantommesh monitor tick failed")

    @operation("mesh.federation", get=BASE + "/federation", response=list[dict],
               summary="Status of mesh peers (over the mesh)")
    async def federation(self) -> list[dict[str, Any]]:
        """Status of every node peer, fetched over the mesh from its own API."""
        out = []
        for peer in self.store.peers():
            if not peer.is_node or peer.api_url is None:
                continue
            port = urlsplit(peer.api_url).port or 80
            base = f"http://{peer.address}:{port}" if peer.address else peer.api_url
            started = time.monotonic()
            try:
                status = await self.nodes.signed(peer, "GET", "/status", None, base=base)
                entry = {"peer": peer.name, "reachable": True, "via": base,
                         "latency_ms": round((time.monotonic() - started) * 1000, 1), "status": status}
                # the peer's own APIs, with the readonly key it gave us
                for key, path in (("system", "/api/v1/system/status"), ("storage", "/api/v1/storage/pools")):
                    try:
                        entry[key] = await self.nodes.post_json(
                            base + path, {}, {"Authorization": f"Bearer {peer.remote_api_key}"}, method="GET")
                    except APIError as exc:
                        entry[key] = {"unavailable": exc.message}
                out.append(entry)
            except APIError as exc:
                out.append({"peer": peer.name, "reachable": False, "via": base, "error": exc.message})
        return out

    # --- events ----------------------------------------------------------------------------------

    def publish(self, kind: str, peer: Peer | None = None, public_key: str | None = None,
                 detail: str = "") -> None:
        self.app.events.publish("network.event", NetworkEvent(
            kind=kind, interface=self.ifname, peer=peer.name if peer else None,
            public_key=public_key or (peer.public_key if peer else None), detail=detail))
