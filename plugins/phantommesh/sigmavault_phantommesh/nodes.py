"""Node-to-node calls: the HTTP client that signs requests to peer nodes, the check of the
requests they sign, and the readonly accounts two nodes grant each other when one joins."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from sigmavault.errors import APIError

from . import peerauth
from .store import Peer, Store

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

NODE_API = "/api/v1/network/phantommesh/node"


class NodeClient:
    """Signed calls to peer nodes and verification of theirs; owned by the mesh service."""

    def __init__(self, app: "SigmaVault", store: Store) -> None:
        self.app = app
        self.store = store
        self.verifier = peerauth.Verifier()
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    # --- accounts --------------------------------------------------------------------------------

    def grant(self) -> tuple[str, str]:
        """A readonly user + API key for one peer node; ``(username, key)``."""
        username = f"phantommesh-{secrets.token_hex(4)}"
        self.app.auth.create_user(username, secrets.token_urlsafe(32), "readonly")
        key, _ = self.app.auth.create_key(username, "phantommesh node", "readonly")
        return username, key

    def revoke(self, username: str | None) -> None:
        if username:
            with contextlib.suppress(APIError):
                self.app.auth.delete_user(username)

    # --- incoming --------------------------------------------------------------------------------

    def secret_for(self, public_key: str) -> str | None:
        peer = self.store.peer_by_key(public_key)
        return peer.peer_secret if peer else None

    async def verified(self, request: web.Request | None) -> Peer:
        """The peer that signed this node-to-node request (401 otherwise)."""
        if request is None:
            raise APIError(401, "unsigned", "node-to-node operations need a request signed by a peer")
        body = await request.read()
        sender = self.verifier.verify(request.headers, request.method, request.path, body,
                                      self.secret_for)
        peer = self.store.peer_by_key(sender)
        if peer is None:  # removed between the signature check and now
            raise APIError(401, "unknown_peer", "the signing peer is not a peer of this node")
        return peer

    # --- outgoing --------------------------------------------------------------------------------

    async def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._http

    async def post_json(self, url: str, payload: dict[str, Any], headers: dict[str, str],
                        method: str = "POST", body: bytes | None = None) -> Any:
        """Send JSON to another node's API; its errors come back as :class:`APIError`."""
        session = await self._session()
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

    async def signed(self, peer: Peer, method: str, suffix: str, payload: dict[str, Any] | None,
                     base: str | None = None, sender_key: str | None = None) -> Any:
        """Call ``NODE_API + suffix`` on a node peer, signed with the pair's secret."""
        if peer.peer_secret is None or (base or peer.api_url) is None:
            raise APIError(400, "not_a_node", f"peer {peer.name} is not a SigmaVault node")
        path = NODE_API + suffix
        body = b"" if method == "GET" else json.dumps(payload or {}).encode()
        headers = peerauth.sign(peer.peer_secret, sender_key or self.store.identity()["public_key"],
                                method, path, body)
        headers["Authorization"] = f"Bearer {peer.remote_api_key}"
        return await self.post_json(str(base or peer.api_url).rstrip("/") + path, payload or {},
                                    headers, method=method, body=body)

    async def signed_raw(self, peer: Peer, method: str, path: str, body: bytes, base: str,
                         content_type: str, timeout: float) -> tuple[int, str, bytes]:
        """A signed request to any ``/api/v1/`` path of a node peer (another plugin's node
        endpoint); ``(status, content type, body)`` of the answer, whatever the status."""
        if peer.peer_secret is None or peer.remote_api_key is None:
            raise APIError(400, "not_a_node", f"peer {peer.name} is not a SigmaVault node")
        headers = peerauth.sign(peer.peer_secret, self.store.identity()["public_key"],
                                method, urlsplit(path).path, body)
        headers["Authorization"] = f"Bearer {peer.remote_api_key}"
        headers["Content-Type"] = content_type
        session = await self._session()
        try:
            async with session.request(method, base.rstrip("/") + path,
                                       data=body if method != "GET" else None, headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                return r.status, r.content_type, await r.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise APIError(502, "peer_unreachable", f"cannot reach {urlsplit(base).netloc}: "
                           f"{exc or type(exc).__name__}") from None
