"""The mesh state in SQLite: this node's identity and its peers (the source of truth the device
is synced from)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import ipam, invites, keys

MIGRATIONS = [
    """
    CREATE TABLE phantommesh_identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created_at REAL NOT NULL,
        rotated_at REAL
    );
    CREATE TABLE phantommesh_peers (
        name TEXT PRIMARY KEY,
        public_key TEXT NOT NULL UNIQUE,
        endpoint TEXT,
        allowed_ips TEXT NOT NULL DEFAULT '[]',
        address TEXT,
        keepalive INTEGER NOT NULL DEFAULT 0,
        preshared_key TEXT,
        psk_mode TEXT NOT NULL DEFAULT 'none' CHECK (psk_mode IN ('none', 'static', 'pq')),
        psk_rotated_at REAL,
        peer_secret TEXT,
        api_url TEXT,
        client_private_key TEXT,
        last_state TEXT NOT NULL DEFAULT 'unknown',
        created_at REAL NOT NULL
    );
    """,
]

# node-to-node calls also carry an API key: the readonly user this node made for the peer, and the
# key the peer made for us
MIGRATIONS_2 = [
    """
    ALTER TABLE phantommesh_peers ADD COLUMN local_user TEXT;
    ALTER TABLE phantommesh_peers ADD COLUMN remote_api_key TEXT;
    """,
]

ALL_MIGRATIONS = MIGRATIONS + ipam.MIGRATIONS + invites.MIGRATIONS + MIGRATIONS_2  # append-only


@dataclass
class Peer:
    name: str
    public_key: str
    endpoint: str | None = None
    allowed_ips: list[str] = field(default_factory=list)
    address: str | None = None
    keepalive: int = 0
    preshared_key: str | None = None
    psk_mode: str = "none"
    psk_rotated_at: float | None = None
    peer_secret: str | None = None
    api_url: str | None = None
    client_private_key: str | None = None
    last_state: str = "unknown"
    created_at: float = 0.0
    local_user: str | None = None
    remote_api_key: str | None = None

    @property
    def is_node(self) -> bool:
        """A SigmaVault node (joined by invite) rather than a plain WireGuard client."""
        return bool(self.peer_secret and self.api_url and self.remote_api_key)


def _peer(row: dict[str, Any]) -> Peer:
    row = dict(row)
    row["allowed_ips"] = json.loads(row["allowed_ips"] or "[]")
    return Peer(**row)


class Store:
    def __init__(self, db: Any):
        self.db = db

    # identity
    def identity(self) -> dict[str, Any]:
        """This node's key pair, created on first use."""
        row = self.db.one("SELECT * FROM phantommesh_identity WHERE id=1")
        if row is None:
            pair = keys.generate()
            self.db.execute("INSERT OR IGNORE INTO phantommesh_identity(id, private_key, public_key, "
                            "created_at) VALUES(1,?,?,?)", (pair.private_key, pair.public_key, time.time()))
            row = self.db.one("SELECT * FROM phantommesh_identity WHERE id=1")
        return row

    def set_identity(self, pair: keys.KeyPair) -> None:
        self.db.execute("UPDATE phantommesh_identity SET private_key=?, public_key=?, rotated_at=? "
                        "WHERE id=1", (pair.private_key, pair.public_key, time.time()))

    # peers
    def peers(self) -> list[Peer]:
        return [_peer(r) for r in self.db.all("SELECT * FROM phantommesh_peers ORDER BY name")]

    def peer(self, name: str) -> Peer | None:
        row = self.db.one("SELECT * FROM phantommesh_peers WHERE name=?", (name,))
        return _peer(row) if row else None

    def peer_by_key(self, public_key: str) -> Peer | None:
        row = self.db.one("SELECT * FROM phantommesh_peers WHERE public_key=?", (public_key,))
        return _peer(row) if row else None

    def insert(self, peer: Peer, conn: Any = None) -> None:
        data = asdict(peer)
        data["allowed_ips"] = json.dumps(peer.allowed_ips)
        data["created_at"] = peer.created_at or time.time()
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        (conn or self.db).execute(f"INSERT INTO phantommesh_peers({cols}) VALUES({marks})",
                                  tuple(data.values()))

    def update(self, name: str, **fields: Any) -> None:
        if "allowed_ips" in fields:
            fields["allowed_ips"] = json.dumps(fields["allowed_ips"])
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE phantommesh_peers SET {sets} WHERE name=?", (*fields.values(), name))

    def delete(self, name: str) -> None:
        self.db.execute("DELETE FROM phantommesh_peers WHERE name=?", (name,))
