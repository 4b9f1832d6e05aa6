"""Request, response and event models of the PhantomMesh API, and its validated string types."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from sigmavault.validation import Name

from . import keys


def _key(value: str) -> str:
    keys.decode(value, "WireGuard key")
    return value


def _cidr(value: str) -> str:
    return str(ipaddress.ip_network(value, strict=False))


def _endpoint(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("endpoint must be IP:PORT (or [IPv6]:PORT)")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError("endpoint host must be an IP address") from None
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _http_url(value: str) -> str:
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.query:
        raise ValueError("must be an http(s)://host[:port] URL without credentials or query")
    return value.rstrip("/")


def _ifname(value: str) -> str:
    if not (1 <= len(value) <= 15) or not all(c.isalnum() or c in "_-" for c in value) or value[0] == "-":
        raise ValueError("interface name: 1-15 letters, digits, '_' or '-', not starting with '-'")
    return value


# base64 of 32 bytes, as keys.decode takes it (stated in the schema)
WGKey = Annotated[str, Field(json_schema_extra={"pattern": "^[A-Za-z0-9+/]{43}=$"}),
                  AfterValidator(_key)]
# The schema states what the validators take (the fuzz run generates from these patterns): an
# IPv4 or IPv6 address with an optional prefix length; IP:PORT or [IPv6]:PORT; an http(s) URL
# of a host name or a bracketed IPv6 address, an optional port 1-65535 and a path, without
# credentials or query.
_H = "[0-9A-Fa-f]{1,4}"
_V6 = ("(?:(?:%(h)s:){7}%(h)s|(?:%(h)s:){1,7}:|(?:%(h)s:){1,6}:%(h)s|(?:%(h)s:){1,5}(?::%(h)s){1,2}"
       "|(?:%(h)s:){1,4}(?::%(h)s){1,3}|(?:%(h)s:){1,3}(?::%(h)s){1,4}|(?:%(h)s:){1,2}(?::%(h)s){1,5}"
       "|%(h)s:(?::%(h)s){1,6}|:(?:(?::%(h)s){1,7}|:))") % {"h": _H}
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_V4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
CIDR_PATTERN = (rf"^(?:{_V4}(?:/(?:3[0-2]|[12]?[0-9]))?"
                rf"|{_V6}(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$")
_PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
HTTP_URL_PATTERN = (rf"^https?://(?:[A-Za-z0-9.-]+|\[{_V6}\])(?::{_PORT})?"
                    r"(?:/[A-Za-z0-9._~%/-]*)?$")

ENDPOINT_PATTERN = rf"^(?:{_V4}|\[{_V6}\]):{_PORT}$"

CIDR = Annotated[str, StringConstraints(pattern=CIDR_PATTERN), AfterValidator(_cidr)]
Endpoint = Annotated[str, StringConstraints(pattern=ENDPOINT_PATTERN), AfterValidator(_endpoint)]
HttpURL = Annotated[str, StringConstraints(pattern=HTTP_URL_PATTERN), AfterValidator(_http_url)]
IfName = Annotated[str, AfterValidator(_ifname)]


class PeerView(BaseModel):
    name: str
    public_key: str
    endpoint: str | None
    allowed_ips: list[str]
    address: str | None
    keepalive: int
    preshared_key: bool = Field(description="whether a pre-shared key is set")
    psk_mode: Literal["none", "static", "pq"]
    psk_rotated_at: float | None
    node: bool = Field(description="a SigmaVault node joined by invite (else a plain WireGuard peer)")
    last_handshake_age: float | None = Field(description="seconds since the last handshake")
    rx_bytes: int
    tx_bytes: int
    up: bool = Field(description="handshake younger than 180 s")


class MeshStatus(BaseModel):
    enabled: bool
    node_name: str
    interface: str
    driver: str | None
    drivers: dict[str, str] = Field(description="every registered driver and whether it can run")
    running: bool
    public_key: str
    listen_port: int
    address: str | None
    mesh_cidr: str
    post_quantum: bool
    peers: list[PeerView]


class PeerCreate(BaseModel):
    name: Name
    public_key: WGKey | None = Field(None, description="omit to have a key pair generated for the "
                                     "peer (its wg-quick export then holds the private key)")
    endpoint: Endpoint | None = None
    allowed_ips: list[CIDR] | None = Field(None, description="default: the peer's mesh address")
    address: str | None = Field(None, description="mesh address; default: allocated")
    keepalive: int | None = Field(None, ge=0, le=3600)
    preshared_key: WGKey | None = None
    generate_psk: bool = False


class PeerUpdate(BaseModel):
    endpoint: Endpoint | None = None
    allowed_ips: list[CIDR] | None = None
    keepalive: int | None = Field(None, ge=0, le=3600)
    preshared_key: WGKey | None = None
    clear_preshared_key: bool = False


class PeerConfigExport(BaseModel):
    name: str
    filename: str
    config: str


class InviteCreate(BaseModel):
    name: Name = Field(description="the name this node gives the joining node")
    ttl_seconds: int | None = Field(None, ge=60, le=7 * 86400)


class InviteView(BaseModel):
    id: str
    name: str
    created_at: float
    expires_at: float
    redeemed_at: float | None
    redeemed_by: str | None


class InviteIssued(InviteView):
    invite: str = Field(description="hand this string to the joining node once")


class JoinRequest(BaseModel):
    invite: str = Field(min_length=8, max_length=4096)


class RedeemRequest(BaseModel):
    token: str = Field(min_length=16, max_length=256)
    public_key: WGKey
    node_name: Name
    listen_port: int = Field(ge=1, le=65535)
    endpoint: Endpoint | None = None
    api_url: Annotated[HttpURL, Field(max_length=512)]
    address: str | None = None
    mlkem_encapsulation_key: str | None = Field(None, max_length=4096)
    api_key: str = Field(min_length=16, max_length=256,
                         description="a readonly API key of the joiner for the issuer's calls")


class RedeemResponse(BaseModel):
    node_name: str
    public_key: str
    endpoint: str
    address: str
    assigned_address: str
    mesh_cidr: str
    keepalive: int
    peer_secret: str
    api_key: str = Field(description="a readonly API key of the issuer for the joiner's calls")
    mlkem_ciphertext: str | None = None


class RotateRequest(BaseModel):
    what: Literal["keys", "psk", "all"] = "all"
    peer: Name | None = Field(None, description="only this peer (PSK rotation)")


class PeerKeyChange(BaseModel):
    new_public_key: WGKey


class PQExchange(BaseModel):
    encapsulation_key: str = Field(max_length=4096)


class PQExchangeReply(BaseModel):
    ciphertext: str


class NetworkEvent(BaseModel):
    kind: Literal["peer.up", "peer.down", "peer.added", "peer.removed", "key.rotated",
                  "psk.rotated", "interface.up", "interface.down"]
    interface: str
    peer: str | None = None
    public_key: str | None = None
    detail: str = ""
