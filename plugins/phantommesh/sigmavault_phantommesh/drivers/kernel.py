"""The kernel driver: the Linux ``wireguard`` module through pyroute2's generic netlink."""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import links
from .base import DeviceState, DriverError, PeerConfig, PeerState

SYSFS_MODULE = Path("/sys/module/wireguard")


def _genl_family_present() -> bool:
    """Whether the ``wireguard`` generic netlink family is registered (module loaded or built in).

    pyroute2's sync sockets run their own event loop, so the probe runs in a thread of its own.
    """
    from pyroute2.netlink import genlmsg
    from pyroute2.netlink.generic import GenericNetlinkSocket
    from pyroute2.netlink.exceptions import NetlinkError

    def probe() -> bool:
        sock = GenericNetlinkSocket()
        try:
            sock.bind("wireguard", genlmsg)
            return True
        except NetlinkError:
            return False
        finally:
            sock.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(probe).result(timeout=10)


class KernelDriver:
    """WireGuard in the kernel: ``ip link add … type wireguard`` + WG generic netlink."""

    name = "kernel"

    def __init__(self, module_probe: Callable[[], bool] | None = None, cache_seconds: float = 60.0):
        self._probe = module_probe or (lambda: SYSFS_MODULE.exists() or _genl_family_present())
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, bool] | None = None

    def available(self) -> tuple[bool, str]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self.cache_seconds:
            present = self._cached[1]
        else:
            try:
                present = bool(self._probe())
            except Exception as exc:  # a probe must never break driver selection
                return False, f"kernel module probe failed: {exc}"
            self._cached = (now, present)
        if present:
            return True, "wireguard kernel module loaded"
        return False, "no wireguard kernel module"

    @staticmethod
    def _wg():
        from pyroute2 import WireGuard
        return WireGuard()

    async def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        def run() -> Any:
            wg = self._wg()
            try:
                return fn(wg, *args, **kw)
            finally:
                wg.close()
        try:
            return await asyncio.to_thread(run)
        except OSError as exc:
            raise DriverError(f"WireGuard netlink: {exc}") from None

    async def up(self, ifname: str, *, private_key: str, listen_port: int) -> None:
        await links.create(ifname, "wireguard")
        await self.configure(ifname, private_key=private_key, listen_port=listen_port)

    async def configure(self, ifname: str, *, private_key: str | None = None,
                        listen_port: int | None = None, peers: Sequence[PeerConfig] = (),
                        replace_peers: bool = False) -> None:
        if replace_peers:
            current = await self.show(ifname)
            wanted = {p.public_key for p in peers}
            peers = [PeerConfig(public_key=p.public_key, remove=True)
                     for p in current.peers if p.public_key not in wanted] + list(peers)
        if private_key is not None or listen_port is not None:
            await self._call(lambda wg: wg.set(ifname, private_key=private_key, listen_port=listen_port))
        for peer in peers:
            await self._call(lambda wg, p=peer: wg.set(ifname, peer=netlink_peer(p)))

    async def show(self, ifname: str) -> DeviceState:
        msgs = await self._call(lambda wg: list(wg.info(ifname)))
        return parse_info(ifname, msgs)

    async def exists(self, ifname: str) -> bool:
        info = await links.link_info(ifname)
        return bool(info and info["kind"] == "wireguard")

    async def down(self, ifname: str) -> None:
        await links.delete(ifname)


def netlink_peer(peer: PeerConfig) -> dict[str, Any]:
    """A :class:`PeerConfig` as pyroute2's WireGuard ``peer`` dict."""
    out: dict[str, Any] = {"public_key": peer.public_key}
    if peer.remove:
        out["remove"] = True
        return out
    if peer.endpoint:
        host, _, port = peer.endpoint.rpartition(":")
        out["endpoint_addr"] = host.strip("[]")
        out["endpoint_port"] = int(port)
    if peer.preshared_key is not None:
        out["preshared_key"] = peer.preshared_key or "A" * 43 + "="
    out["persistent_keepalive"] = int(peer.keepalive)
    out["replace_allowed_ips"] = peer.replace_allowed_ips
    out["allowed_ips"] = list(peer.allowed_ips)
    return out


def parse_info(ifname: str, msgs: list[Any]) -> DeviceState:
    """Turn pyroute2 ``WireGuard.info`` messages into a :class:`DeviceState`."""
    device = DeviceState(ifname=ifname)
    for msg in msgs:
        pub = msg.get_attr("WGDEVICE_A_PUBLIC_KEY")
        if pub:
            device.public_key = pub.decode() if isinstance(pub, bytes) else pub
        device.listen_port = msg.get_attr("WGDEVICE_A_LISTEN_PORT") or device.listen_port
        device.fwmark = msg.get_attr("WGDEVICE_A_FWMARK") or device.fwmark
        for peer in msg.get_attr("WGDEVICE_A_PEERS") or []:
            key = peer.get_attr("WGPEER_A_PUBLIC_KEY")
            state = PeerState(public_key=key.decode() if isinstance(key, bytes) else key)
            ep = peer.get_attr("WGPEER_A_ENDPOINT")
            if ep and ep.get("addr") and ep.get("port"):
                addr = ep["addr"]
                state.endpoint = f"[{addr}]:{ep['port']}" if ":" in addr else f"{addr}:{ep['port']}"
            hs = peer.get_attr("WGPEER_A_LAST_HANDSHAKE_TIME") or {}
            state.last_handshake = (hs.get("tv_sec", 0) or 0) + (hs.get("tv_nsec", 0) or 0) / 1e9
            state.rx_bytes = peer.get_attr("WGPEER_A_RX_BYTES") or 0
            state.tx_bytes = peer.get_attr("WGPEER_A_TX_BYTES") or 0
            state.keepalive = peer.get_attr("WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL") or 0
            psk = peer.get_attr("WGPEER_A_PRESHARED_KEY")
            state.has_preshared_key = bool(psk) and psk not in (b"A" * 43 + b"=", "A" * 43 + "=")
            for aip in peer.get_attr("WGPEER_A_ALLOWEDIPS") or []:
                state.allowed_ips.append(_allowed_ip(aip))
            device.peers.append(state)
    return device


def _allowed_ip(aip: Any) -> str:
    """``addr/mask`` of one allowed-IP NLA (pyroute2 gives the address as colon-separated hex)."""
    if aip.get("addr"):
        return aip["addr"]
    family = aip.get_attr("WGALLOWEDIP_A_FAMILY")
    raw = bytes.fromhex(aip.get_attr("WGALLOWEDIP_A_IPADDR").replace(":", ""))
    return f"{socket.inet_ntop(family, raw)}/{aip.get_attr('WGALLOWEDIP_A_CIDR_MASK')}"
