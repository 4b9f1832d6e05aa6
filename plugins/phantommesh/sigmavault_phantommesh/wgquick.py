"""Render a peer's configuration in wg-quick(8) format."""

from __future__ import annotations


def render(*, address: str | None, private_key: str | None, listen_port: int | None,
           peer_public_key: str, peer_endpoint: str | None, allowed_ips: list[str],
           preshared_key: str | None, keepalive: int, dns: list[str] | None = None,
           comment: str = "") -> str:
    """A complete wg-quick file: ``[Interface]`` of the peer, ``[Peer]`` of this node."""
    lines = []
    if comment:
        lines += [f"# {line}" for line in comment.splitlines()]
    lines.append("[Interface]")
    if private_key:
        lines.append(f"PrivateKey = {private_key}")
    else:
        lines.append("# PrivateKey = <the peer's own private key; it never left the peer>")
    if address:
        lines.append(f"Address = {address}")
    if listen_port:
        lines.append(f"ListenPort = {listen_port}")
    if dns:
        lines.append(f"DNS = {', '.join(dns)}")
    lines += ["", "[Peer]", f"PublicKey = {peer_public_key}"]
    if preshared_key:
        lines.append(f"PresharedKey = {preshared_key}")
    if allowed_ips:
        lines.append(f"AllowedIPs = {', '.join(allowed_ips)}")
    if peer_endpoint:
        lines.append(f"Endpoint = {peer_endpoint}")
    if keepalive:
        lines.append(f"PersistentKeepalive = {keepalive}")
    return "\n".join(lines) + "\n"
