"""Network interfaces read over netlink (pyroute2): addresses, MAC, MTU, state, speed, kind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sigmavault.errors import APIError

NETNS_DIR = Path("/run/netns")
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_FAMILIES = {2: "inet", 10: "inet6"}


def _speed(name: str) -> int | None:
    try:
        value = int((Path("/sys/class/net") / name / "speed").read_text().strip())
    except (OSError, ValueError):
        return None  # virtual links and links that are down have no speed
    return value if value > 0 else None


def _kind(link: Any, name: str, host_ns: bool) -> str:
    kind = link.get(("linkinfo", "kind"))
    if kind:
        return str(kind)
    if link["flags"] & _IFF_LOOPBACK:
        return "loopback"
    if host_ns and (Path("/sys/class/net") / name / "device").exists():
        return "device"
    return "unknown"


def _addresses(addrs: list[Any]) -> dict[int, list[dict[str, Any]]]:
    by_index: dict[int, list[dict[str, Any]]] = {}
    for a in addrs:
        family = _FAMILIES.get(a["family"])
        address = a.get("IFA_LOCAL") if a["family"] == 2 else None
        address = address or a.get("IFA_ADDRESS")
        if family is None or address is None:
            continue
        by_index.setdefault(a["index"], []).append({
            "family": family, "address": address, "prefixlen": a["prefixlen"],
            "scope": _SCOPES.get(a["scope"], str(a["scope"])),
            "broadcast": a.get("IFA_BROADCAST"),
        })
    return by_index


def netns_path(name: str) -> Path:
    """The bind-mount of a named namespace; 404 when ``ip netns`` does not know it."""
    path = NETNS_DIR / name
    if "/" in name or name.startswith(".") or not path.exists():
        raise APIError(404, "not_found", f"network namespace {name!r} does not exist",
                       {"kind": "netns", "name": name})
    return path


async def list_interfaces(netns: str | None = None) -> list[dict[str, Any]]:
    """Every link of the host namespace, or of the named namespace ``netns``."""
    # Imported on first use: pyroute2 costs ~8 MB of RSS that an idle daemon need not carry.
    from pyroute2 import AsyncIPRoute

    kwargs: dict[str, Any] = {}
    if netns is not None:
        kwargs["netns"] = os.fspath(netns_path(netns))
    async with AsyncIPRoute(**kwargs) as ipr:
        links = [link async for link in await ipr.get_links()]
        addrs = _addresses([a async for a in await ipr.get_addr()])
    names = {link["index"]: link.get("ifname") for link in links}
    out = []
    for link in sorted(links, key=lambda lk: lk["index"]):
        name = link.get("ifname")
        stats = link.get("stats64") or link.get("stats") or {}
        master = link.get("master")
        out.append({
            "index": link["index"],
            "name": name,
            "kind": _kind(link, name, netns is None),
            "mac": link.get("address"),
            "mtu": link.get("mtu") or 0,
            "state": str(link.get("operstate") or "unknown").lower(),
            "admin_up": bool(link["flags"] & _IFF_UP),
            "carrier": bool(link.get("carrier")),
            "speed_mbps": _speed(name) if netns is None else None,
            "peer_index": link.get("link"),
            "master": names.get(master) if master else None,
            "addresses": addrs.get(link["index"], []),
            "rx_bytes": int(stats.get("rx_bytes", 0)),
            "tx_bytes": int(stats.get("tx_bytes", 0)),
        })
    return out
