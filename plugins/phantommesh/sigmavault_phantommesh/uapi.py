"""Client of the WireGuard cross-platform userspace API (UAPI), as spoken by ``wireguard-go``.

The daemon listens on ``/var/run/wireguard/<ifname>.sock`` (stream socket). A request is
``get=1`` or ``set=1`` followed by ``key=value`` lines and an empty line; keys are hex. The reply
is ``key=value`` lines (for get) ending with ``errno=N`` and an empty line.
See https://www.wireguard.com/xplatform/#configuration-protocol.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Sequence

from . import keys
from .drivers.base import DeviceState, DriverError, PeerConfig, PeerState

SOCKET_DIRS = (Path("/var/run/wireguard"), Path("/run/wireguard"))
ZERO_KEY_HEX = "0" * 64
REPLY_LIMIT = 64 * 1024 * 1024  # a get with thousands of peers is megabytes long


class UAPIError(DriverError):
    """The daemon answered a non-zero errno, or the socket could not be used."""

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


def socket_path(ifname: str, socket_dir: Path | None = None) -> Path:
    """Where the UAPI socket of ``ifname`` lives (the first existing candidate, else the first)."""
    if socket_dir is not None:
        return socket_dir / f"{ifname}.sock"
    for d in SOCKET_DIRS:
        if (d / f"{ifname}.sock").exists():
            return d / f"{ifname}.sock"
    return SOCKET_DIRS[0] / f"{ifname}.sock"


def serialize_set(*, private_key: str | None = None, listen_port: int | None = None,
                  fwmark: int | None = None, replace_peers: bool = False,
                  peers: Sequence[PeerConfig] = ()) -> str:
    """The body of a ``set=1`` request (without the trailing empty line)."""
    lines = ["set=1"]
    if private_key is not None:
        lines.append(f"private_key={keys.to_hex(private_key)}")
    if listen_port is not None:
        lines.append(f"listen_port={int(listen_port)}")
    if fwmark is not None:
        lines.append(f"fwmark={int(fwmark)}")
    if replace_peers:
        lines.append("replace_peers=true")
    for peer in peers:
        lines.append(f"public_key={keys.to_hex(peer.public_key)}")
        if peer.remove:
            lines.append("remove=true")
            continue
        if peer.preshared_key is not None:
            psk = keys.to_hex(peer.preshared_key) if peer.preshared_key else ZERO_KEY_HEX
            lines.append(f"preshared_key={psk}")
        if peer.endpoint:
            lines.append(f"endpoint={_checked(peer.endpoint)}")
        lines.append(f"persistent_keepalive_interval={int(peer.keepalive)}")
        if peer.replace_allowed_ips:
            lines.append("replace_allowed_ips=true")
        for cidr in peer.allowed_ips:
            lines.append(f"allowed_ip={_checked(cidr)}")
    return "\n".join(lines) + "\n"


def _checked(value: str) -> str:
    if "\n" in value or "=" in value or not value:
        raise UAPIError(f"invalid UAPI value {value!r}")
    return value


def parse_get(text: str, ifname: str = "") -> DeviceState:
    """Parse the reply of ``get=1`` into a :class:`DeviceState` (errno must be 0)."""
    device = DeviceState(ifname=ifname)
    peer: PeerState | None = None
    hs_sec = hs_nsec = 0
    errno: int | None = None

    def finish() -> None:
        if peer is not None:
            peer.last_handshake = hs_sec + hs_nsec / 1e9
            device.peers.append(peer)

    for line in text.splitlines():
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise UAPIError(f"malformed UAPI line {line!r}")
        if key == "errno":
            errno = int(value)
        elif key == "public_key":
            finish()
            peer, hs_sec, hs_nsec = PeerState(public_key=keys.from_hex(value)), 0, 0
        elif peer is None:
            if key == "private_key":
                device.public_key = keys.public_from_private(keys.from_hex(value))
            elif key == "listen_port":
                device.listen_port = int(value)
            elif key == "fwmark":
                device.fwmark = int(value)
        elif key == "endpoint":
            peer.endpoint = value
        elif key == "allowed_ip":
            peer.allowed_ips.append(value)
        elif key == "persistent_keepalive_interval":
            peer.keepalive = int(value)
        elif key == "preshared_key":
            peer.has_preshared_key = value != ZERO_KEY_HEX
        elif key == "last_handshake_time_sec":
            hs_sec = int(value)
        elif key == "last_handshake_time_nsec":
            hs_nsec = int(value)
        elif key == "rx_bytes":
            peer.rx_bytes = int(value)
        elif key == "tx_bytes":
            peer.tx_bytes = int(value)
    finish()
    if errno is None:
        raise UAPIError("UAPI reply has no errno line")
    if errno != 0:
        raise UAPIError(f"UAPI get failed with errno {errno} ({os.strerror(errno)})", errno)
    return device


class UAPIClient:
    """Talks to one interface's UAPI socket; each call opens its own connection."""

    def __init__(self, ifname: str, socket_dir: Path | None = None, timeout: float = 5.0):
        self.ifname = ifname
        self.path = socket_path(ifname, socket_dir)
        self.timeout = timeout

    async def _request(self, body: str) -> str:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=REPLY_LIMIT), self.timeout)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise UAPIError(f"no WireGuard userspace daemon for {self.ifname} at {self.path}: {exc}") from None
        except asyncio.TimeoutError:
            raise UAPIError(f"UAPI socket {self.path} did not accept within {self.timeout:g} s") from None
        try:
            writer.write(body.encode() + b"\n")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(b"\n\n"), self.timeout)
        except asyncio.IncompleteReadError as exc:
            raise UAPIError(f"UAPI socket {self.path} closed mid-reply: {exc.partial[-200:]!r}") from None
        except asyncio.TimeoutError:
            raise UAPIError(f"UAPI socket {self.path} did not answer within {self.timeout:g} s") from None
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        return reply.decode()

    async def get(self) -> DeviceState:
        """The device with its peers, counters and handshake times."""
        return parse_get(await self._request("get=1\n"), self.ifname)

    async def set(self, **kwargs) -> None:
        """Apply a ``set=1`` (arguments as :func:`serialize_set`); raise on a non-zero errno."""
        reply = await self._request(serialize_set(**kwargs))
        errno = None
        for line in reply.splitlines():
            if line.startswith("errno="):
                errno = int(line[6:])
        if errno is None:
            raise UAPIError(f"UAPI set reply has no errno: {reply!r}")
        if errno != 0:
            raise UAPIError(f"UAPI set on {self.ifname} failed with errno {errno}", errno)

    async def alive(self) -> bool:
        """Whether a daemon answers on the socket."""
        try:
            await self.get()
            return True
        except UAPIError:
            return False
