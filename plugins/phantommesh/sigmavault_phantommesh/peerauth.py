"""Node-to-node request signing: HMAC-SHA256 with the secret two peers agreed on when joining.

A signed request names its sender by WireGuard public key and carries a timestamp and a nonce;
the receiver rejects stale timestamps and replayed nonces.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable, Mapping

from sigmavault.errors import APIError

H_KEY, H_TIME, H_NONCE, H_SIG = ("X-PhantomMesh-Key", "X-PhantomMesh-Time",
                                 "X-PhantomMesh-Nonce", "X-PhantomMesh-Signature")
MAX_SKEW = 120.0


def _mac(secret: str, method: str, path: str, ts: str, nonce: str, body: bytes) -> str:
    msg = b"\n".join([method.upper().encode(), path.encode(), ts.encode(), nonce.encode(),
                      hashlib.sha256(body).hexdigest().encode()])
    return hmac.new(bytes.fromhex(secret), msg, hashlib.sha256).hexdigest()


def sign(secret: str, sender_key: str, method: str, path: str, body: bytes) -> dict[str, str]:
    """Headers that authenticate this request to the peer sharing ``secret``."""
    ts, nonce = f"{time.time():.3f}", secrets.token_hex(12)
    return {H_KEY: sender_key, H_TIME: ts, H_NONCE: nonce,
            H_SIG: _mac(secret, method, path, ts, nonce, body)}


class Verifier:
    """Checks signed requests; remembers nonces for the skew window."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def verify(self, headers: Mapping[str, str], method: str, path: str, body: bytes,
               secret_for: Callable[[str], str | None]) -> str:
        """Return the sender's public key, or raise 401."""
        sender, ts, nonce, sig = (headers.get(h, "") for h in (H_KEY, H_TIME, H_NONCE, H_SIG))
        if not (sender and ts and nonce and sig):
            raise APIError(401, "unsigned", "node-to-node request is not signed")
        secret = secret_for(sender)
        if secret is None:
            raise APIError(401, "unknown_peer", "the sending node is not a peer of this node")
        try:
            skew = abs(time.time() - float(ts))
        except ValueError:
            raise APIError(401, "bad_signature", "malformed timestamp") from None
        if skew > MAX_SKEW:
            raise APIError(401, "stale_request", f"request timestamp is {skew:.0f} s off")
        if not hmac.compare_digest(_mac(secret, method, path, ts, nonce, body), sig):
            raise APIError(401, "bad_signature", "request signature does not verify")
        now = time.time()
        self._seen = {n: t for n, t in self._seen.items() if now - t < 2 * MAX_SKEW}
        if nonce in self._seen:
            raise APIError(401, "replayed", "request was already seen")
        self._seen[nonce] = now
        return sender
