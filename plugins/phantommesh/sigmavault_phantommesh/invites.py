"""One-time invite tokens: what one node issues and another redeems to join the mesh.

The invite string carries where to redeem (the issuer's API URL), the issuer's WireGuard public
key (so the joiner can check whom it talks to) and a 256-bit secret; only the secret's SHA-256 is
stored, and redeeming marks it used in the same transaction that checks it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sigmavault.errors import APIError

from . import keys

PREFIX = "pm1."

MIGRATIONS = [
    """
    CREATE TABLE phantommesh_invites (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        redeemed_at REAL,
        redeemed_by TEXT
    );
    """,
]


@dataclass(frozen=True)
class Invite:
    api_url: str
    public_key: str
    secret: str
    name: str          # the name the issuer gives the joiner
    expires_at: float
    mesh_cidr: str

    def encode(self) -> str:
        body = json.dumps({"api": self.api_url, "pub": self.public_key, "tok": self.secret,
                           "name": self.name, "exp": int(self.expires_at),
                           "net": self.mesh_cidr}, separators=(",", ":"))
        return PREFIX + base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def parse(text: str) -> Invite:
    """Decode an invite string; a 400 that says what is wrong otherwise."""
    def bad(why: str) -> APIError:
        return APIError(400, "invalid_invite", f"invite is not valid: {why}")

    text = text.strip()
    if not text.startswith(PREFIX):
        raise bad(f"it must start with {PREFIX!r}")
    raw = text[len(PREFIX):]
    try:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        invite = Invite(api_url=str(data["api"]), public_key=str(data["pub"]), secret=str(data["tok"]),
                        name=str(data["name"]), expires_at=float(data["exp"]),
                        mesh_cidr=str(data["net"]))
    except (ValueError, KeyError, TypeError):
        raise bad("it is truncated or corrupted") from None
    url = urlsplit(invite.api_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise bad("its API URL is not http(s)")
    if not keys.is_valid(invite.public_key):
        raise bad("its public key is malformed")
    if invite.expires_at < time.time():
        raise APIError(410, "invite_expired", "invite has expired; ask for a new one")
    return invite
