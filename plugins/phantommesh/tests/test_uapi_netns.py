"""wireguard-go in two namespaces, configured only through our UAPI client: a real handshake."""

from __future__ import annotations

import asyncio
import os

import pytest
from pyroute2 import AsyncIPRoute

from sigmavault_phantommesh.netns_harness import namespace_pair, namespaces, require_netns
from sigmavault_phantommesh import keys
from sigmavault_phantommesh.drivers.base import PeerConfig
from sigmavault_phantommesh.uapi import UAPIClient, UAPIError


async def _start_wg(node, ifname: str) -> UAPIClient:
    proc = await asyncio.create_subprocess_exec(
        *node.exec_argv("wireguard-go", "-f", ifname), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    node.procs.append(proc)
    client = UAPIClient(ifname)
    for _ in range(200):
        if await client.alive():
            return client
        assert proc.returncode is None, "wireguard-go exited at start"
        await asyncio.sleep(0.05)
    raise AssertionError("wireguard-go never opened its UAPI socket")


async def _address(node, ifname: str, cidr: str) -> None:
    async with AsyncIPRoute(netns=node.ns) as ipr:
        (idx,) = await ipr.link_lookup(ifname=ifname)
        ip, prefix = cidr.split("/")
        await ipr.addr("add", index=idx, address=ip, prefixlen=int(prefix))
        await ipr.link("set", index=idx, state="up")


async def test_handshake_and_traffic_between_namespaces():
    require_netns()
    before = set(namespaces())
    ka, kb = keys.generate(), keys.generate()
    async with namespace_pair("10.231.7") as pair:
        tag = pair.a.ns[-6:]
        if_a, if_b = f"wa{tag}", f"wb{tag}"
        ca, cb = await _start_wg(pair.a, if_a), await _start_wg(pair.b, if_b)
        psk = keys.generate_psk()
        await ca.set(private_key=ka.private_key, listen_port=51820, peers=[PeerConfig(
            public_key=kb.public_key, endpoint=f"{pair.b.ip}:51821", allowed_ips=["10.99.0.2/32"],
            preshared_key=psk)])
        await cb.set(private_key=kb.private_key, listen_port=51821, peers=[PeerConfig(
            public_key=ka.public_key, endpoint=f"{pair.a.ip}:51820", allowed_ips=["10.99.0.1/32"],
            keepalive=5, preshared_key=psk)])
        await _address(pair.a, if_a, "10.99.0.1/24")
        await _address(pair.b, if_b, "10.99.0.2/24")

        state = await ca.get()
        assert state.public_key == ka.public_key and state.listen_port == 51820
        (peer,) = state.peers
        assert peer.public_key == kb.public_key and peer.allowed_ips == ["10.99.0.2/32"]
        assert peer.has_preshared_key

        assert await pair.a.ping("10.99.0.2"), "no ping through the tunnel"
        a_peer, b_peer = (await ca.get()).peers[0], (await cb.get()).peers[0]
        assert a_peer.is_up() and b_peer.is_up()
        assert a_peer.handshake_age() < 30
        assert a_peer.tx_bytes > 0 and a_peer.rx_bytes > 0
        assert b_peer.endpoint == f"{pair.a.ip}:51820"
        assert b_peer.keepalive == 5

        # a mismatching pre-shared key breaks new handshakes: the PSK slot really is used
        await cb.set(peers=[PeerConfig(public_key=ka.public_key, preshared_key=keys.generate_psk(),
                                       replace_allowed_ips=False)])
        a_peer_cfg = PeerConfig(public_key=kb.public_key, endpoint=f"{pair.b.ip}:51821",
                                allowed_ips=["10.99.0.2/32"], preshared_key=psk)
        # removing and re-adding drops A's sessions: a new handshake is needed
        await ca.set(peers=[PeerConfig(public_key=kb.public_key, remove=True), a_peer_cfg])
        assert not await pair.a.ping("10.99.0.2", count=1, deadline=3)
        await cb.set(peers=[PeerConfig(public_key=ka.public_key, preshared_key=psk,
                                       replace_allowed_ips=False)])
        assert await pair.a.ping("10.99.0.2", count=1, deadline=15)

        rx0 = (await cb.get()).peers[0].rx_bytes
        assert await pair.b.ping("10.99.0.1", count=3)
        assert (await cb.get()).peers[0].rx_bytes > rx0

        # removing the peer stops the traffic
        await cb.set(peers=[PeerConfig(public_key=ka.public_key, remove=True)])
        assert (await cb.get()).peers == []
        assert not await pair.b.ping("10.99.0.1", count=1, deadline=2)

        # a large device (replies far beyond one read buffer) round-trips
        many = [PeerConfig(public_key=keys.generate().public_key, endpoint=f"192.0.2.{i % 250 + 1}:{1000 + i}",
                           allowed_ips=[f"10.98.{i // 250}.{i % 250 + 1}/32"]) for i in range(600)]
        await cb.set(replace_peers=True, peers=many)
        got = {p.public_key: p for p in (await cb.get()).peers}
        assert len(got) == 600 and got[many[599].public_key].allowed_ips == many[599].allowed_ips
        procs = pair.a.procs + pair.b.procs
    assert all(p.returncode is not None for p in procs)
    assert set(namespaces()) == before
    for ifname in (if_a, if_b):
        assert not os.path.exists(f"/var/run/wireguard/{ifname}.sock")
        with pytest.raises(UAPIError):
            await UAPIClient(ifname).get()
