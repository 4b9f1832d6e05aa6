"""The userspace driver: ``wireguard-go`` configured through its UAPI socket."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .. import links
from ..uapi import UAPIClient
from ..wgproc import WireGuardGo
from .base import DeviceState, DriverError, PeerConfig


class UserspaceDriver:
    """WireGuard in userspace: one ``wireguard-go`` child per interface, driven over UAPI."""

    name = "userspace"

    def __init__(self, binary: str = "wireguard-go", log_dir: Path | None = None,
                 tun_path: str = "/dev/net/tun"):
        self.daemons = WireGuardGo(binary, log_dir)
        self.tun_path = tun_path

    def available(self) -> tuple[bool, str]:
        if not self.daemons.installed():
            return False, f"{self.daemons.binary} is not installed"
        if not os.path.exists(self.tun_path):
            return False, f"{self.tun_path} is missing (no TUN support)"
        return True, "wireguard-go present"

    async def up(self, ifname: str, *, private_key: str, listen_port: int) -> None:
        info = await links.link_info(ifname)
        if info and info["kind"] != "tun" and not await UAPIClient(ifname).alive():
            raise DriverError(f"interface {ifname} exists and is not a wireguard-go interface; "
                              "choose another [phantommesh] interface name")
        await self.daemons.start(ifname)
        await UAPIClient(ifname).set(private_key=private_key, listen_port=listen_port)

    async def configure(self, ifname: str, *, private_key: str | None = None,
                        listen_port: int | None = None, peers: Sequence[PeerConfig] = (),
                        replace_peers: bool = False) -> None:
        await UAPIClient(ifname).set(private_key=private_key, listen_port=listen_port,
                                     replace_peers=replace_peers, peers=list(peers))

    async def show(self, ifname: str) -> DeviceState:
        return await UAPIClient(ifname).get()

    async def exists(self, ifname: str) -> bool:
        return await UAPIClient(ifname).alive()

    async def down(self, ifname: str) -> None:
        await self.daemons.stop(ifname)
        # an adopted daemon (not our child) exits when its TUN device goes away
        await links.delete(ifname)
