"""The mesh of this node: identity, peers, invites, rotation, monitoring; the device follows the DB."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from sigmavault.errors import APIError, conflict, not_found

from . import invites, keys, links, peerauth, pqpsk, wgquick
from .drivers.base import DeviceState, DriverError, NetworkDriver, PeerConfig
from .drivers.select import select_driver
from .ipam import IPAM
from .models import MeshConfig, MeshStatus, NetworkEvent, PeerView, RedeemRequest, RedeemResponse
from .store import Peer, Store

log = logging.getLogger("sigmavault.phantommesh")
SELF = "self"  # IPAM owner of this node's own address
NODE_API = "/api/v1/network/phantommesh/node"


class MeshService:
    """One per daemon, stored as ``app.phantommesh``."""

    def __init__(self, app: Any, cfg: MeshConfig):
        self.app = app
        self.cfg = cfg
        self.store = Store(app.db)
        self.ipam = IPAM(app.db, cfg.mesh_cidr, cfg.ipam_quarantine_seconds)
        self.driver: NetworkDriver | None = None
        self.running = False
        self.lock = asyncio.Lock()
        self.verifier = peerauth.Verifier()
        self.psk_lock = asyncio.Lock()  # one PSK exchange or key change at a time on this node
        self._http: aiohttp.ClientSession | None = None

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
        self.app.spawn(self._pq_loop())

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.down()
        if self._http is not None:
            await self._http.close()

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
                await links.set_address(self.ifname, self.ipam.interface(self.ipam.address_of(SELF)))
                await links.set_up(self.ifname, self.cfg.mtu)
                await self._sync_locked()
            except (DriverError, OSError) as exc:
                with contextlib.suppress(Exception):  # leave no half-configured interface behind
                    await self.driver.down(self.ifname)
                raise APIError(503, "mesh_unavailable", f"cannot configure {self.ifname}: {exc}") from None
            self.running = True
        self._publish("interface.up", detail=f"driver {self.driver.name}")

    async def down(self) -> None:
        async with self.lock:
            if self.driver is not None:
                await self.driver.down(self.ifname)
            was, self.running = self.running, False
        if was:
            self._publish("interface.down")

    async def _sync_locked(self) -> None:
        peers = self.store.peers()
        await self.driver.configure(self.ifname, replace_peers=True,
                                    peers=[self._peer_config(p) for p in peers])
        for p in peers:
            await links.ensure_routes(self.ifname, p.allowed_ips, skip_inside=self.cfg.mesh_cidr)

    def _peer_config(self, peer: Peer) -> PeerConfig:
        return PeerConfig(public_key=peer.public_key, endpoint=peer.endpoint,
                          allowed_ips=peer.allowed_ips, keepalive=peer.keepalive,
                          preshared_key=peer.preshared_key or "")

    async def _apply(self, *changes: PeerConfig, private_key: str | None = None) -> None:
        """Push changes to the device when it is up (the DB already holds them)."""
        if not self.running:
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
        mesh = ipaddress.ip_network(self.cfg.mesh_cidr)
        claimed = {c for p in self.store.peers() for c in p.allowed_ips}
        stale = [c for c in before if c not in claimed
                 and not (ipaddress.ip_network(c, strict=False).version == mesh.version
                          and ipaddress.ip_network(c, strict=False).subnet_of(mesh))]
        if stale:
            async with self.lock:
                await links.drop_routes(self.ifname, stale)

    async def ensure_up(self) -> None:
        if not self.running:
            await self.up()

    # --- status ----------------------------------------------------------------------------------

    async def device(self) -> DeviceState | None:
        if not self.running:
            return None
        try:
            return await self.driver.show(self.ifname)
        except DriverError as exc:
            log.warning("cannot read %s: %s", self.ifname, exc)
            return None

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

    def _check_new(self, name: str, public_key: str | None) -> None:
        if self.store.peer(name) is not None:
            raise conflict(f"peer {name!r} already exists", "peer_exists", name=name)
        if public_key is not None:
            if public_key == self.store.identity()["public_key"]:
                raise APIError(400, "own_key", "that public key is this node's own key")
            other = self.store.peer_by_key(public_key)
            if other is not None:
                raise conflict(f"public key already belongs to peer {other.name!r}", "key_exists",
                               name=other.name)

    async def add_peer(self, body: Any) -> Peer:
        """A plain WireGuard peer (a laptop, a phone) added by the admin."""
        self._check_new(body.name, body.public_key)
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
        await self._apply(self._peer_config(peer))
        self._publish("peer.added", peer)
        return peer

    async def update_peer(self, name: str, body: Any) -> Peer:
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
        await self._apply(self._peer_config(peer))
        await self._drop_stale_routes(old_ips)
        return peer

    async def remove_peer(self, name: str, notify: bool = True) -> None:
        peer = self.get_peer(name)
        if notify and peer.is_node:
            try:
                await self._signed(peer, "POST", "/leave", {})
            except APIError as exc:
                log.warning("peer %s was not told about its removal: %s", name, exc.message)
        self.store.delete(name)
        self.ipam.release(name)
        self._revoke(peer.local_user)
        await self._apply(PeerConfig(public_key=peer.public_key, remove=True))
        await self._drop_stale_routes(peer.allowed_ips)
        self._publish("peer.removed", peer)

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

    # --- invites and joining ---------------------------------------------------------------------

    def api_url(self) -> str:
        return self.cfg.api_url or f"http://{self.app.config.host}:{self.app.config.port}"

    def issue_invite(self, name: str, ttl: int | None) -> tuple[dict[str, Any], str]:
        self.require_enabled()
        self._check_new(name, None)
        secret = invites.new_secret()
        now = time.time()
        expires = now + (ttl or self.cfg.invite_ttl_seconds)
        invite_id = secrets.token_hex(8)
        self.app.db.execute("INSERT INTO phantommesh_invites(id, token_hash, name, created_at, expires_at) "
                            "VALUES(?,?,?,?,?)", (invite_id, invites.token_hash(secret), name, now, expires))
        text = invites.Invite(api_url=self.api_url(), public_key=self.store.identity()["public_key"],
                              secret=secret, name=name, expires_at=expires,
                              mesh_cidr=self.cfg.mesh_cidr).encode()
        return self.app.db.one("SELECT id, name, created_at, expires_at, redeemed_at, redeemed_by "
                               "FROM phantommesh_invites WHERE id=?", (invite_id,)), text

    def list_invites(self) -> list[dict[str, Any]]:
        return self.app.db.all("SELECT id, name, created_at, expires_at, redeemed_at, redeemed_by "
                               "FROM phantommesh_invites ORDER BY created_at DESC")

    def revoke_invite(self, invite_id: str) -> None:
        cur = self.app.db.execute("DELETE FROM phantommesh_invites WHERE id=? AND redeemed_at IS NULL",
                                  (invite_id,))
        if cur.rowcount == 0:
            raise not_found("pending invite", invite_id)

    async def redeem(self, body: RedeemRequest, remote: str | None, local: str | None) -> RedeemResponse:
        """Issuer side: check and burn the token, record the joiner as a peer, answer our side."""
        self.require_enabled()
        th = invites.token_hash(body.token)
        row = self.app.db.one("SELECT * FROM phantommesh_invites WHERE token_hash=?", (th,))
        if row is None:
            raise APIError(403, "invalid_token", "invite token is unknown or was revoked")
        if row["redeemed_at"] is not None:
            raise APIError(409, "invite_used", "invite was already redeemed")
        if row["expires_at"] < time.time():
            raise APIError(410, "invite_expired", "invite has expired")
        name = row["name"]
        self._check_new(name, body.public_key)
        await self.ensure_up()  # before anything is recorded: a node that cannot run keeps its token
        address = self.ipam.reserve(body.address, name) if body.address else self.ipam.allocate(name)
        endpoint = body.endpoint or (f"{remote}:{body.listen_port}" if remote else None)
        ident = self.store.identity()
        ct = psk = None
        if body.mlkem_encapsulation_key and self.cfg.post_quantum:
            try:
                ct, psk = pqpsk.respond(body.mlkem_encapsulation_key, ident["public_key"], body.public_key)
            except ValueError as exc:
                self.ipam.release(name)
                raise APIError(400, "invalid_mlkem_key", str(exc)) from None
        username, our_key = self._grant()
        peer = Peer(name=name, public_key=body.public_key, endpoint=endpoint,
                    allowed_ips=[f"{address}/32" if ":" not in address else f"{address}/128"],
                    address=address, keepalive=self.cfg.keepalive, preshared_key=psk,
                    psk_mode="pq" if psk else "none", psk_rotated_at=time.time() if psk else None,
                    peer_secret=secrets.token_hex(32), api_url=body.api_url, created_at=time.time(),
                    local_user=username, remote_api_key=body.api_key)
        try:
            with self.app.db.transaction() as conn:
                cur = conn.execute("UPDATE phantommesh_invites SET redeemed_at=?, redeemed_by=? "
                                   "WHERE token_hash=? AND redeemed_at IS NULL", (time.time(), body.node_name, th))
                if cur.rowcount != 1:
                    raise APIError(409, "invite_used", "invite was already redeemed")
                self.store.insert(peer, conn)
        except Exception:
            self.ipam.release(name)
            self._revoke(username)
            raise
        await self.ensure_up()
        await self._apply(self._peer_config(peer))
        self._publish("peer.added", peer, detail=f"joined by invite as {address}")
        host = self.cfg.endpoint_host or local or "127.0.0.1"
        own = self.ipam.address_of(SELF)
        return RedeemResponse(
            node_name=self.cfg.node_name, public_key=ident["public_key"],
            endpoint=f"[{host}]:{self.cfg.listen_port}" if ":" in host else f"{host}:{self.cfg.listen_port}",
            address=own, assigned_address=self.ipam.interface(address), mesh_cidr=self.cfg.mesh_cidr,
            keepalive=self.cfg.keepalive, peer_secret=peer.peer_secret, api_key=our_key,
            mlkem_ciphertext=ct)

    async def join(self, invite_text: str) -> Peer:
        """Joiner side: redeem the invite at the issuer and add it as our peer."""
        inv = invites.parse(invite_text)
        self.require_enabled()
        if inv.mesh_cidr != self.cfg.mesh_cidr:
            raise conflict(f"the inviting mesh uses {inv.mesh_cidr} but this node is configured for "
                           f"{self.cfg.mesh_cidr}", "mesh_cidr_mismatch")
        existing = self.store.peer_by_key(inv.public_key)
        if existing is not None:
            raise conflict(f"already joined: the issuer is peer {existing.name!r}", "already_joined")
        ident = self.store.identity()
        await self.ensure_up()  # fail here, before the issuer burns the token
        member = any(p.is_node for p in self.store.peers())
        init = pqpsk.Initiator.start() if self.cfg.post_quantum else None
        endpoint = None
        if self.cfg.endpoint_host:
            endpoint = f"{self.cfg.endpoint_host}:{self.cfg.listen_port}"
        username, our_key = self._grant()
        try:
            req = RedeemRequest(token=inv.secret, public_key=ident["public_key"], node_name=self.cfg.node_name,
                                listen_port=self.cfg.listen_port, endpoint=endpoint, api_url=self.api_url(),
                                address=self.ipam.address_of(SELF) if member else None,
                                mlkem_encapsulation_key=init.encapsulation_key if init else None,
                                api_key=our_key)
            data = await self._post_json(inv.api_url.rstrip("/") + "/api/v1/network/phantommesh/invites/redeem",
                                         req.model_dump(mode="json"), {})
            try:
                resp = RedeemResponse.model_validate(data)
            except ValueError:
                raise APIError(502, "bad_issuer_reply", "the issuing node answered something unexpected") from None
            if resp.public_key != inv.public_key:
                raise APIError(502, "issuer_mismatch", "the node that answered is not the one that issued the invite")
            name = resp.node_name
            if self.store.peer(name) is not None:
                raise conflict(f"a peer named {name!r} exists already; rename it first", "peer_exists")
        except BaseException:
            self._revoke(username)
            raise
        assigned = resp.assigned_address.split("/")[0]
        self.ipam.reserve(assigned, SELF)
        self.ipam.reserve(resp.address, name)
        psk = None
        if init and resp.mlkem_ciphertext:
            psk = init.finish(resp.mlkem_ciphertext, ident["public_key"], resp.public_key)
        peer = Peer(name=name, public_key=resp.public_key, endpoint=resp.endpoint,
                    allowed_ips=[f"{resp.address}/32" if ":" not in resp.address else f"{resp.address}/128"],
                    address=resp.address, keepalive=resp.keepalive, preshared_key=psk,
                    psk_mode="pq" if psk else "none", psk_rotated_at=time.time() if psk else None,
                    peer_secret=resp.peer_secret, api_url=inv.api_url, created_at=time.time(),
                    local_user=username, remote_api_key=resp.api_key)
        self.store.insert(peer)
        if self.running:
            await links.set_address(self.ifname, self.ipam.interface(assigned))
        await self.ensure_up()
        await self._apply(self._peer_config(peer))
        self._publish("peer.added", peer, detail=f"joined {name} as {assigned}")
        return peer

    # --- node-to-node ----------------------------------------------------------------------------

    def _grant(self) -> tuple[str, str]:
        """A readonly user + API key for one peer node; ``(username, key)``."""
        username = f"phantommesh-{secrets.token_hex(4)}"
        self.app.auth.create_user(username, secrets.token_urlsafe(32), "readonly")
        key, _ = self.app.auth.create_key(username, "phantommesh node", "readonly")
        return username, key

    def _revoke(self, username: str | None) -> None:
        if username:
            with contextlib.suppress(APIError):
                self.app.auth.delete_user(username)

    def secret_for(self, public_key: str) -> str | None:
        peer = self.store.peer_by_key(public_key)
        return peer.peer_secret if peer else None

    def verify(self, request: Any, body: bytes) -> Peer:
        sender = self.verifier.verify(request.headers, request.method, request.path, body, self.secret_for)
        return self.store.peer_by_key(sender)

    async def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._http

    async def _post_json(self, url: str, payload: dict[str, Any], headers: dict[str, str],
                         method: str = "POST", body: bytes | None = None) -> Any:
        session = await self._http_session()
        data = body if body is not None else json.dumps(payload).encode()
        try:
            async with session.request(method, url, data=data if method != "GET" else None,
                                       headers={"Content-Type": "application/json", **headers}) as r:
                text = await r.text()
                try:
                    reply = json.loads(text) if text else None
                except ValueError:
                    reply = None
                if r.status >= 400:
                    err = (reply or {}).get("error", {}) if isinstance(reply, dict) else {}
                    status = r.status if r.status in (400, 401, 403, 404, 409, 410, 422) else 502
                    raise APIError(status, err.get("code", "peer_error"),
                                   f"{urlsplit(url).netloc} answered {r.status}: "
                                   f"{err.get('message', text[:200])}")
                return reply
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise APIError(502, "peer_unreachable", f"cannot reach {urlsplit(url).netloc}: "
                           f"{exc or type(exc).__name__}") from None

    async def _signed(self, peer: Peer, method: str, suffix: str, payload: dict[str, Any] | None,
                      base: str | None = None, sender_key: str | None = None) -> Any:
        path = NODE_API + suffix
        body = b"" if method == "GET" else json.dumps(payload or {}).encode()
        headers = peerauth.sign(peer.peer_secret, sender_key or self.store.identity()["public_key"],
                                method, path, body)
        headers["Authorization"] = f"Bearer {peer.remote_api_key}"
        return await self._post_json((base or peer.api_url).rstrip("/") + path, payload or {}, headers,
                                     method=method, body=body)

    # --- rotation --------------------------------------------------------------------------------

    async def rotate_keys(self) -> dict[str, Any]:
        """New X25519 key pair: tell every node peer first, then switch the device."""
        async with self.psk_lock:
            return await self._rotate_keys()

    async def _rotate_keys(self) -> dict[str, Any]:
        old = self.store.identity()
        new = keys.generate()
        told: list[Peer] = []
        manual = []
        for peer in self.store.peers():
            if not peer.is_node:
                manual.append(peer.name)
                continue
            try:
                await self._signed(peer, "POST", "/peer-key", {"new_public_key": new.public_key})
                told.append(peer)
            except APIError as exc:
                for p in told:  # undo: they know us by the new key now
                    with contextlib.suppress(APIError):
                        await self._signed(p, "POST", "/peer-key", {"new_public_key": old["public_key"]},
                                           sender_key=new.public_key)
                raise APIError(502, "rotation_aborted", f"key rotation aborted, peer {peer.name} "
                               f"could not be told: {exc.message}") from None
        self.store.set_identity(new)
        await self._apply(private_key=new.private_key)
        self._publish("key.rotated", None, public_key=new.public_key,
                      detail=f"told {len(told)} node(s)")
        return {"public_key": new.public_key, "previous_public_key": old["public_key"],
                "peers_updated": [p.name for p in told], "peers_needing_manual_update": manual}

    async def peer_changed_key(self, peer: Peer, new_public_key: str) -> None:
        """A node peer announced its new public key."""
        if self.store.peer_by_key(new_public_key) is not None:
            raise conflict("that public key is already in use by a peer", "key_exists")
        self.store.update(peer.name, public_key=new_public_key)
        updated = self.get_peer(peer.name)
        await self._apply(PeerConfig(public_key=peer.public_key, remove=True), self._peer_config(updated))
        self._publish("key.rotated", updated, detail="peer rotated its key")

    def initiates(self, peer: Peer) -> bool:
        """Of two nodes, the one with the smaller public key runs every PSK exchange of the pair,
        so that two exchanges never cross and leave the sides with different keys."""
        return self.store.identity()["public_key"] < peer.public_key

    async def rotate_psk(self, peer: Peer) -> dict[str, Any]:
        """Fresh post-quantum PSK with a node peer (ML-KEM-768), applied on both sides."""
        if not peer.is_node:
            raise APIError(400, "not_a_node", f"peer {peer.name} is not a SigmaVault node; set its "
                           "pre-shared key with PATCH instead")
        if not self.initiates(peer):
            await self._signed(peer, "POST", "/pq-rotate", {})
            self._publish("psk.rotated", peer, detail="ML-KEM-768 (asked the peer to initiate)")
            return {"peer": peer.name, "psk_mode": "pq", "initiator": peer.name}
        return await self.initiate_psk(peer)

    async def initiate_psk(self, peer: Peer) -> dict[str, Any]:
        """Run the exchange as initiator (callers make sure this node is the pair's initiator)."""
        async with self.psk_lock:
            peer = self.get_peer(peer.name)
            return await self._initiate_psk(peer)

    async def _initiate_psk(self, peer: Peer) -> dict[str, Any]:
        init = pqpsk.Initiator.start()
        reply = await self._signed(peer, "POST", "/pq-exchange", {"encapsulation_key": init.encapsulation_key})
        try:
            psk = init.finish(str((reply or {}).get("ciphertext", "")), self.store.identity()["public_key"],
                              peer.public_key)
        except ValueError as exc:
            raise APIError(502, "bad_peer_reply", f"peer {peer.name}: {exc}") from None
        self._set_psk(peer, psk)
        await self._apply(self._peer_config(self.get_peer(peer.name)))
        self._publish("psk.rotated", peer, detail="ML-KEM-768")
        return {"peer": peer.name, "psk_mode": "pq", "initiator": self.cfg.node_name}

    def _set_psk(self, peer: Peer, psk: str) -> None:
        self.store.update(peer.name, preshared_key=psk, psk_mode="pq", psk_rotated_at=time.time())

    async def pq_respond(self, peer: Peer, encapsulation_key: str) -> str:
        if self.initiates(peer):
            raise conflict("this node initiates the pair's PSK exchanges", "not_initiator")
        try:
            ct, psk = pqpsk.respond(encapsulation_key, self.store.identity()["public_key"], peer.public_key)
        except ValueError as exc:
            raise APIError(400, "invalid_mlkem_key", str(exc)) from None
        self._set_psk(peer, psk)
        await self._apply(self._peer_config(self.get_peer(peer.name)))
        self._publish("psk.rotated", peer, detail="ML-KEM-768 (responder)")
        return ct

    async def rotate(self, what: str, only: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if what in ("psk", "all"):
            peers = [self.get_peer(only)] if only else [p for p in self.store.peers() if p.is_node]
            result["psk"] = [await self.rotate_psk(p) for p in peers]
        if what in ("keys", "all"):
            result["keys"] = await self.rotate_keys()
        return result

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
                    self._publish(f"peer.{state}", peer,
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
                    self._publish("interface.down", detail="interface disappeared")
                    await self.up()
                await self.check_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("phantommesh monitor tick failed")

    async def _pq_loop(self) -> None:
        tick = min(30.0, self.cfg.pq_rotate_seconds / 2)
        while True:
            await asyncio.sleep(tick)
            if not (self.cfg.post_quantum and self.running):
                continue
            own = self.store.identity()["public_key"]
            for peer in self.store.peers():
                due = (peer.psk_rotated_at or 0) + self.cfg.pq_rotate_seconds <= time.time()
                if peer.is_node and due and own < peer.public_key:
                    try:
                        await self.initiate_psk(peer)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        log.warning("PSK rotation with %s failed: %s", peer.name, exc)

    async def federation(self) -> list[dict[str, Any]]:
        """Status of every node peer, fetched over the mesh from its own API."""
        out = []
        for peer in self.store.peers():
            if not peer.is_node:
                continue
            port = urlsplit(peer.api_url).port or 80
            base = f"http://{peer.address}:{port}" if peer.address else peer.api_url
            started = time.monotonic()
            try:
                status = await self._signed(peer, "GET", "/status", None, base=base)
                entry = {"peer": peer.name, "reachable": True, "via": base,
                         "latency_ms": round((time.monotonic() - started) * 1000, 1), "status": status}
                # the peer's own APIs, with the readonly key it gave us
                for key, path in (("system", "/api/v1/system/status"), ("storage", "/api/v1/storage/pools")):
                    try:
                        entry[key] = await self._post_json(
                            base + path, {}, {"Authorization": f"Bearer {peer.remote_api_key}"}, method="GET")
                    except APIError as exc:
                        entry[key] = {"unavailable": exc.message}
                out.append(entry)
            except APIError as exc:
                out.append({"peer": peer.name, "reachable": False, "via": base, "error": exc.message})
        return out

    # --- events ----------------------------------------------------------------------------------

    def _publish(self, kind: str, peer: Peer | None = None, public_key: str | None = None,
                 detail: str = "") -> None:
        self.app.events.publish("network.event", NetworkEvent(
            kind=kind, interface=self.ifname, peer=peer.name if peer else None,
            public_key=public_key or (peer.public_key if peer else None), detail=detail))
