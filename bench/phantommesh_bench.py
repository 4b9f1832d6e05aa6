"""PhantomMesh benchmark: our UAPI client against wireguard-tools' `wg`, and tunnel throughput.

Two private network namespaces joined by a veth pair, `wireguard-go` in each (as PhantomMesh's
userspace driver runs it). Measures:
  * configuring N peers: one UAPI `set` from PhantomMesh vs `wg setconf` vs `wg set` per peer;
  * reading the device with N peers: UAPI `get` + parse vs `wg show IF dump`;
  * TCP throughput through the tunnel vs the bare veth (the data path is wireguard-go's).

Run as root: .venv/bin/python bench/phantommesh_bench.py --peers 200 --size 64
Everything it creates (namespaces, processes) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import secrets
import socket
import tempfile
import threading
import time

from pyroute2 import AsyncIPRoute, netns

from sigmavault.commands import run
from sigmavault_phantommesh import keys
from sigmavault_phantommesh.drivers.base import PeerConfig
from sigmavault_phantommesh.uapi import UAPIClient

CLONE_NEWNET = 0x40000000


def socket_in(ns: str, family: int = socket.AF_INET) -> socket.socket:
    out: dict[str, socket.socket] = {}

    def inside() -> None:
        fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            if ctypes.CDLL("libc.so.6", use_errno=True).setns(fd, CLONE_NEWNET) == 0:
                out["s"] = socket.socket(family, socket.SOCK_STREAM)
        finally:
            os.close(fd)

    t = threading.Thread(target=inside)
    t.start()
    t.join()
    return out["s"]


def tcp_throughput(ns_src: str, ns_dst: str, dst_ip: str, mib: int) -> float:
    """MiB/s of one TCP stream from ns_src to dst_ip:5201 in ns_dst."""
    srv = socket_in(ns_dst)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((dst_ip, 5201))
    srv.listen(1)
    received = [0]

    def sink() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(1 << 20):
                received[0] += len(data)

    t = threading.Thread(target=sink)
    t.start()
    cli = socket_in(ns_src)
    cli.connect((dst_ip, 5201))
    chunk = os.urandom(1 << 20)
    started = time.perf_counter()
    for _ in range(mib):
        cli.sendall(chunk)
    cli.close()
    t.join()
    elapsed = time.perf_counter() - started
    srv.close()
    assert received[0] == mib << 20
    return mib / elapsed


async def timed(coro) -> float:
    started = time.perf_counter()
    await coro
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    tag = secrets.token_hex(3)
    ns_a, ns_b = f"pmbA-{tag}", f"pmbB-{tag}"
    if_a, if_b = f"bwa{tag}", f"bwb{tag}"
    procs: list[asyncio.subprocess.Process] = []
    made: list[str] = []
    try:
        for ns in (ns_a, ns_b):
            netns.create(ns)
            made.append(ns)
        async with AsyncIPRoute(netns=ns_a) as ipr:
            await ipr.link("add", ifname="veth-a", kind="veth", peer={"ifname": "veth-b", "net_ns_fd": ns_b})
        for ns, veth, ip in ((ns_a, "veth-a", "10.231.9.1"), (ns_b, "veth-b", "10.231.9.2")):
            async with AsyncIPRoute(netns=ns) as ipr:
                for name in ("lo", veth):
                    (idx,) = await ipr.link_lookup(ifname=name)
                    await ipr.link("set", index=idx, state="up")
                (idx,) = await ipr.link_lookup(ifname=veth)
                await ipr.addr("add", index=idx, address=ip, prefixlen=24)
        for ns, ifname in ((ns_a, if_a), (ns_b, if_b)):
            procs.append(await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", ns, "wireguard-go", "-f", ifname,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
        ca, cb = UAPIClient(if_a), UAPIClient(if_b)
        for c in (ca, cb):
            for _ in range(200):
                if await c.alive():
                    break
                await asyncio.sleep(0.05)

        n = args.peers
        peers = [PeerConfig(public_key=keys.generate().public_key,
                            endpoint=f"192.0.2.{i % 250 + 1}:{40000 + i}",
                            allowed_ips=[f"10.232.{i // 250}.{i % 250 + 1}/32"], keepalive=0)
                 for i in range(n)]
        ours = await timed(ca.set(replace_peers=True, peers=peers))
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write("[Interface]\n")
            for p in peers:
                f.write(f"[Peer]\nPublicKey = {p.public_key}\nEndpoint = {p.endpoint}\n"
                        f"AllowedIPs = {p.allowed_ips[0]}\n")
            f.flush()
            setconf = await timed(run(["ip", "netns", "exec", ns_a, "wg", "setconf", if_a, f.name], timeout=600))
        per = min(n, args.per_peer)
        started = time.perf_counter()
        for p in peers[:per]:
            await run(["wg", "set", if_a, "peer", p.public_key, "endpoint", p.endpoint,
                       "allowed-ips", p.allowed_ips[0]])
        wg_set = (time.perf_counter() - started) * n / per
        get_ours = min([await timed(ca.get()) for _ in range(5)])
        get_wg = min([await timed(run(["wg", "show", if_a, "dump"])) for _ in range(5)])
        assert len((await ca.get()).peers) == n

        # tunnel: one peer each side
        ka, kb = keys.generate(), keys.generate()
        await ca.set(private_key=ka.private_key, listen_port=51820, replace_peers=True, peers=[PeerConfig(
            public_key=kb.public_key, endpoint="10.231.9.2:51820", allowed_ips=["10.231.99.2/32"])])
        await cb.set(private_key=kb.private_key, listen_port=51820, peers=[PeerConfig(
            public_key=ka.public_key, endpoint="10.231.9.1:51820", allowed_ips=["10.231.99.1/32"])])
        for ns, ifname, ip in ((ns_a, if_a, "10.231.99.1"), (ns_b, if_b, "10.231.99.2")):
            async with AsyncIPRoute(netns=ns) as ipr:
                (idx,) = await ipr.link_lookup(ifname=ifname)
                await ipr.addr("add", index=idx, address=ip, prefixlen=24)
                await ipr.link("set", index=idx, state="up", mtu=1420)
        raw = await asyncio.to_thread(tcp_throughput, ns_a, ns_b, "10.231.9.2", args.size)
        tun = await asyncio.to_thread(tcp_throughput, ns_a, ns_b, "10.231.99.2", args.size)

        print(f"configure {n} peers: PhantomMesh UAPI set {ours * 1000:.1f} ms | "
              f"wg setconf {setconf * 1000:.1f} ms | wg set per peer {wg_set * 1000:.0f} ms "
              f"(extrapolated from {per})")
        print(f"read device with {n} peers: UAPI get+parse {get_ours * 1000:.1f} ms | "
              f"wg show dump {get_wg * 1000:.1f} ms")
        print(f"TCP {args.size} MiB: bare veth {raw:.0f} MiB/s | through wireguard-go tunnel {tun:.0f} MiB/s")
    finally:
        for p in procs:
            if p.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.terminate()
                await p.wait()
        for ns in made:
            with contextlib.suppress(Exception):
                netns.remove(ns)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers", type=int, default=200, help="peers to configure")
    ap.add_argument("--per-peer", type=int, default=50, help="peers timed with one `wg set` each")
    ap.add_argument("--size", type=int, default=64, help="MiB sent for the throughput test")
    asyncio.run(main(ap.parse_args()))
