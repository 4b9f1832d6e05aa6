"""Mesh address management: hand out addresses of the mesh CIDR without reuse conflicts.

Every address ever handed out stays in ``phantommesh_ipam``. A new allocation takes the lowest
address never used before; a released address is only handed out again when nothing else is left
and it has rested for ``quarantine`` seconds, so that stale routes, ARP/ND caches or allowed-IPs
of a removed peer elsewhere in the mesh never point at a new owner.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from sigmavault.errors import APIError, conflict

MIGRATIONS = [
    """
    CREATE TABLE phantommesh_ipam (
        address TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('allocated', 'released')),
        allocated_at REAL NOT NULL,
        released_at REAL
    );
    """,
]


class IPAM:
    """Address book of one mesh network, stored in the state database."""

    def __init__(self, db: Any, cidr: str, quarantine: float = 86400.0):
        self.db = db
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise APIError(400, "invalid_cidr", f"mesh CIDR {cidr!r} is not a network: {exc}") from None
        if self.network.num_addresses < 4:
            raise APIError(400, "invalid_cidr", f"mesh CIDR {cidr} is too small for a mesh")
        self.quarantine = quarantine

    def interface(self, address: str) -> str:
        """``address`` with the mesh prefix length (what goes on the interface)."""
        return f"{address}/{self.network.prefixlen}"

    def _check(self, address: str) -> str:
        try:
            ip = ipaddress.ip_address(address.split("/")[0])
        except ValueError:
            raise APIError(400, "invalid_address", f"{address!r} is not an IP address") from None
        if ip not in self.network or ip in (self.network.network_address, self.network.broadcast_address):
            raise APIError(400, "address_outside_mesh",
                           f"{ip} is not a usable host address of the mesh {self.network}")
        return str(ip)

    def allocate(self, owner: str) -> str:
        """A fresh address for ``owner`` (its existing one if it already holds one)."""
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT address FROM phantommesh_ipam WHERE owner=? AND state='allocated'",
                               (owner,)).fetchone()
            if row:
                return row[0]
            known = {r[0] for r in conn.execute("SELECT address FROM phantommesh_ipam")}
            chosen = None
            for host in self.network.hosts():
                if str(host) not in known:
                    chosen = str(host)
                    break
            if chosen is None:
                row = conn.execute(
                    "SELECT address FROM phantommesh_ipam WHERE state='released' AND released_at<=? "
                    "ORDER BY released_at LIMIT 1", (now - self.quarantine,)).fetchone()
                if row is None:
                    raise conflict(f"the mesh {self.network} has no free address left", "mesh_full")
                chosen = row[0]
            conn.execute(
                "INSERT INTO phantommesh_ipam(address, owner, state, allocated_at) VALUES(?,?,'allocated',?) "
                "ON CONFLICT(address) DO UPDATE SET owner=excluded.owner, state='allocated', "
                "allocated_at=excluded.allocated_at, released_at=NULL", (chosen, owner, now))
            return chosen

    def reserve(self, address: str, owner: str) -> str:
        """Record that ``owner`` holds ``address`` (learned from the mesh); 409 if someone else does."""
        address = self._check(address)
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT owner, state FROM phantommesh_ipam WHERE address=?",
                               (address,)).fetchone()
            if row and row[1] == "allocated" and row[0] != owner:
                raise conflict(f"mesh address {address} already belongs to {row[0]}",
                               "address_in_use", address=address, owner=row[0])
            conn.execute("UPDATE phantommesh_ipam SET state='released', released_at=? "
                         "WHERE owner=? AND state='allocated' AND address<>?", (now, owner, address))
            conn.execute(
                "INSERT INTO phantommesh_ipam(address, owner, state, allocated_at) VALUES(?,?,'allocated',?) "
                "ON CONFLICT(address) DO UPDATE SET owner=excluded.owner, state='allocated', "
                "allocated_at=excluded.allocated_at, released_at=NULL", (address, owner, now))
        return address

    def release(self, owner: str) -> str | None:
        """Release the address of ``owner``; returns it (None when it held none)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT address FROM phantommesh_ipam WHERE owner=? AND state='allocated'",
                               (owner,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE phantommesh_ipam SET state='released', released_at=? WHERE address=?",
                         (time.time(), row[0]))
            return row[0]

    def rename(self, old_owner: str, new_owner: str) -> None:
        self.db.execute("UPDATE phantommesh_ipam SET owner=? WHERE owner=? AND state='allocated'",
                        (new_owner, old_owner))

    def owner_of(self, address: str) -> str | None:
        row = self.db.one("SELECT owner FROM phantommesh_ipam WHERE address=? AND state='allocated'",
                          (address,))
        return row["owner"] if row else None

    def address_of(self, owner: str) -> str | None:
        row = self.db.one("SELECT address FROM phantommesh_ipam WHERE owner=? AND state='allocated'",
                          (owner,))
        return row["address"] if row else None

    def allocations(self) -> list[dict[str, Any]]:
        return self.db.all("SELECT * FROM phantommesh_ipam ORDER BY allocated_at")
