"""What every PhantomMesh network driver offers, and the device/peer state it reports.

A driver owns one WireGuard interface per call: it creates it (``up``), configures keys and peers
(``configure``, ``remove_peer``), reports its state (``show``) and deletes it (``down``).
Addresses, routes and link state are set with pyroute2 by :mod:`sigmavault_phantommesh.links`,
the same for every driver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

HANDSHAKE_UP_SECONDS = 180.0  # WireGuard's REJECT_AFTER_TIME: no handshake for longer = peer down


@dataclass
class PeerConfig:
    """The wanted configuration of one peer (keys base64, allowed IPs as CIDR strings)."""

    public_key: str
    endpoint: str | None = None          # "host:port" or "[v6]:port"
    allowed_ips: list[str] = field(default_factory=list)
    keepalive: int = 0                   # persistent keepalive seconds, 0 = off
    preshared_key: str | None = None     # None = leave as is; "" = clear
    remove: bool = False
    replace_allowed_ips: bool = True


@dataclass
class PeerState:
    """One peer as the device reports it."""

    public_key: str
    endpoint: str | None = None
    allowed_ips: list[str] = field(default_factory=list)
    keepalive: int = 0
    has_preshared_key: bool = False
    last_handshake: float = 0.0  # unix time, 0 = never
    rx_bytes: int = 0
    tx_bytes: int = 0

    def handshake_age(self, now: float | None = None) -> float | None:
        """Seconds since the last handshake, or None when there was none."""
        if not self.last_handshake:
            return None
        return max(0.0, (now if now is not None else time.time()) - self.last_handshake)

    def is_up(self, now: float | None = None) -> bool:
        age = self.handshake_age(now)
        return age is not None and age < HANDSHAKE_UP_SECONDS


@dataclass
class DeviceState:
    """The interface as the device reports it."""

    ifname: str
    public_key: str | None = None
    listen_port: int = 0
    fwmark: int = 0
    peers: list[PeerState] = field(default_factory=list)

    def peer(self, public_key: str) -> PeerState | None:
        return next((p for p in self.peers if p.public_key == public_key), None)


@runtime_checkable
class NetworkDriver(Protocol):
    """The interface registered through ``register_network_drivers``."""

    name: str

    def available(self) -> tuple[bool, str]:
        """Whether this driver can run on this machine, and why not when it cannot."""

    async def up(self, ifname: str, *, private_key: str, listen_port: int) -> None:
        """Create the interface (idempotent: adopt an existing one) and set key and port."""

    async def configure(self, ifname: str, *, private_key: str | None = None,
                        listen_port: int | None = None, peers: Sequence[PeerConfig] = (),
                        replace_peers: bool = False) -> None:
        """Apply device settings and peer changes in one operation."""

    async def show(self, ifname: str) -> DeviceState:
        """The current device state with per-peer counters and handshake times."""

    async def down(self, ifname: str) -> None:
        """Delete the interface (no error when it does not exist)."""

    async def exists(self, ifname: str) -> bool:
        """Whether the interface exists and is driven by this driver."""


class DriverError(RuntimeError):
    """A driver operation failed; the message says what and where."""
