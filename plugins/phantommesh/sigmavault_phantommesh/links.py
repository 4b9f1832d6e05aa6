"""Links, addresses and routes of the mesh interface through pyroute2 (rtnetlink), any driver.

Everything acts on the network namespace the daemon runs in.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import Any

# pyroute2 costs ~0.3 s to import: loaded on first use, not at daemon start-up
AsyncIPRoute: Any = None
NetlinkError: type[Exception] = Exception


def _iproute() -> Any:
    global AsyncIPRoute, NetlinkError
    if AsyncIPRoute is None:
        from pyroute2 import AsyncIPRoute as iproute
        from pyroute2.netlink.exceptions import NetlinkError as netlink_error
        AsyncIPRoute, NetlinkError = iproute, netlink_error
    return AsyncIPRoute()

from .drivers.base import DriverError


def _code(exc: Exception) -> int | None:
    """The errno of a pyroute2 ``NetlinkError``."""
    return getattr(exc, "code", None)


def inside(cidr: str, outer: str) -> bool:
    """Whether network ``cidr`` lies within network ``outer`` (``False`` across IP versions)."""
    net, out = ipaddress.ip_network(cidr, strict=False), ipaddress.ip_network(outer, strict=False)
    return net.version == out.version and net.network_address in out and net.prefixlen >= out.prefixlen


async def _index(ipr: AsyncIPRoute, ifname: str) -> int | None:
    found = await ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


async def link_info(ifname: str) -> dict[str, Any] | None:
    """``{"index", "kind", "mtu", "up"}`` of ``ifname``, or None when it does not exist."""
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            return None
        (link,) = await ipr.link("get", index=idx)
        return {"index": idx, "kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
                "mtu": link.get("mtu"), "up": bool(link["flags"] & 1)}


async def set_up(ifname: str, mtu: int | None = None) -> None:
    """Bring ``ifname`` up (and set its MTU)."""
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            raise DriverError(f"interface {ifname} does not exist")
        kw: dict[str, Any] = {"state": "up"}
        if mtu:
            kw["mtu"] = mtu
        await ipr.link("set", index=idx, **kw)


async def addresses(ifname: str) -> list[str]:
    """The addresses of ``ifname`` as ``addr/prefix`` strings."""
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            return []
        return [f"{a.get('address')}/{a['prefixlen']}" async for a in await ipr.addr("dump", index=idx)]


async def set_address(ifname: str, interface: str) -> None:
    """Make ``interface`` (``addr/prefix``) the only address of its family on ``ifname``.

    The kernel adds the prefix route for the mesh subnet by itself.
    """
    wanted = ipaddress.ip_interface(interface)
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            raise DriverError(f"interface {ifname} does not exist")
        current = [a async for a in await ipr.addr("dump", index=idx)]
        for a in current:
            have = ipaddress.ip_interface(f"{a.get('address')}/{a['prefixlen']}")
            if have == wanted:
                continue
            if have.version == wanted.version:
                await ipr.addr("del", index=idx, address=str(have.ip), prefixlen=have.network.prefixlen)
        try:
            await ipr.addr("add", index=idx, address=str(wanted.ip), prefixlen=wanted.network.prefixlen)
        except NetlinkError as exc:
            if _code(exc) != errno.EEXIST:
                raise DriverError(f"cannot add {interface} to {ifname}: {exc}") from None


async def ensure_routes(ifname: str, cidrs: list[str], skip_inside: str | None = None) -> None:
    """Route each CIDR through ``ifname`` (those inside ``skip_inside`` are on-link already)."""
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            raise DriverError(f"interface {ifname} does not exist")
        for cidr in cidrs:
            if skip_inside is not None and inside(cidr, skip_inside):
                continue
            net = ipaddress.ip_network(cidr, strict=False)
            try:
                await ipr.route("replace", dst=str(net.network_address), dst_len=net.prefixlen, oif=idx)
            except NetlinkError as exc:
                raise DriverError(f"cannot route {cidr} via {ifname}: {exc}") from None


async def drop_routes(ifname: str, cidrs: list[str]) -> None:
    """Remove the routes of ``cidrs`` through ``ifname`` (missing ones are fine)."""
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            return
        for cidr in cidrs:
            net = ipaddress.ip_network(cidr, strict=False)
            try:
                await ipr.route("del", dst=str(net.network_address), dst_len=net.prefixlen, oif=idx)
            except NetlinkError as exc:
                if _code(exc) not in (errno.ESRCH, errno.ENOENT):
                    raise DriverError(f"cannot remove route {cidr} via {ifname}: {exc}") from None


async def create(ifname: str, kind: str) -> None:
    """Create a link of ``kind`` (``wireguard`` for the kernel driver); an existing link of the
    same kind is adopted, a different one is never touched."""
    async with _iproute() as ipr:
        try:
            await ipr.link("add", ifname=ifname, kind=kind)
            return
        except NetlinkError as exc:
            if _code(exc) != errno.EEXIST:
                raise DriverError(f"cannot create {kind} interface {ifname}: {exc}") from None
    info = await link_info(ifname)
    if not info or info["kind"] != kind:
        raise DriverError(f"interface {ifname} exists and is not a {kind} interface; "
                          "choose another [phantommesh] interface name")


async def delete(ifname: str) -> bool:
    """Delete ``ifname``; False when it did not exist."""
    async with _iproute() as ipr:
        idx = await _index(ipr, ifname)
        if idx is None:
            return False
        try:
            await ipr.link("del", index=idx)
        except NetlinkError as exc:
            if _code(exc) == errno.ENODEV:
                return False
            raise DriverError(f"cannot delete {ifname}: {exc}") from None
        return True
