"""Test harness shipped with the plugin (as ``sigmavault.testing`` is with the core): two network
namespaces joined by a veth pair, cleaned up whatever happens. Used by this plugin's tests and by
the end-to-end suite (tests/integration).

Only addresses inside these private namespaces are used (10.x inside them, never routed out).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import AsyncIterator

from pyroute2 import AsyncIPRoute, netns

from sigmavault.commands import Result, run


@dataclass
class Node:
    """One namespace with its end of the veth pair."""

    ns: str
    veth: str
    underlay: str            # "10.x.y.z/24" on the veth
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def ip(self) -> str:
        return self.underlay.split("/")[0]

    def exec_argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    async def run(self, *argv: str, timeout: float = 30.0, check: bool = True) -> Result:
        return await run(self.exec_argv(*argv), timeout=timeout, check=check)

    async def ping(self, address: str, count: int = 3, deadline: int = 15) -> bool:
        """Whether ``count`` ICMP echo replies arrive within ``deadline`` seconds (raw socket
        opened inside this namespace, like ping(8) without needing iputils)."""
        return await asyncio.to_thread(icmp_ping, self.ns, address, count, deadline)


@dataclass
class Pair:
    a: Node
    b: Node


async def _setup_node(node: Node) -> None:
    async with AsyncIPRoute(netns=node.ns) as ipr:
        for name in ("lo", node.veth):
            (idx,) = await ipr.link_lookup(ifname=name)
            await ipr.link("set", index=idx, state="up")
        (idx,) = await ipr.link_lookup(ifname=node.veth)
        ip, prefix = node.underlay.split("/")
        await ipr.addr("add", index=idx, address=ip, prefixlen=int(prefix))


@contextlib.asynccontextmanager
async def namespace_pair(subnet: str = "10.231.7") -> AsyncIterator[Pair]:
    """Yield a :class:`Pair` of fresh namespaces joined by a veth pair; remove all on exit."""
    tag = secrets.token_hex(3)
    a = Node(ns=f"pmA-{tag}", veth="veth-a", underlay=f"{subnet}.1/24")
    b = Node(ns=f"pmB-{tag}", veth="veth-b", underlay=f"{subnet}.2/24")
    made: list[str] = []
    try:
        for node in (a, b):
            netns.create(node.ns)
            made.append(node.ns)
        async with AsyncIPRoute(netns=a.ns) as ipr:
            await ipr.link("add", ifname=a.veth, kind="veth", peer={"ifname": b.veth, "net_ns_fd": b.ns})
        await _setup_node(a)
        await _setup_node(b)
        yield Pair(a, b)
    finally:
        for node in (a, b):
            for proc in node.procs:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.terminate()
                    try:
                        await asyncio.wait_for(proc.wait(), 10)
                    except asyncio.TimeoutError:
                        proc.kill()
                        await proc.wait()
        for name in made:
            # deleting a namespace deletes its veth and TUN devices; wireguard-go then exits
            with contextlib.suppress(Exception):
                netns.remove(name)


@contextlib.asynccontextmanager
async def spoke(hub: Node, subnet: str = "10.231.9") -> AsyncIterator[Node]:
    """One more namespace joined to ``hub`` by its own veth pair, default route via the hub."""
    tag = secrets.token_hex(3)
    node = Node(ns=f"pmC-{tag}", veth="veth-c", underlay=f"{subnet}.2/24")
    hub_end = f"veth-h{tag}"
    netns.create(node.ns)
    try:
        async with AsyncIPRoute(netns=hub.ns) as ipr:
            await ipr.link("add", ifname=hub_end, kind="veth", peer={"ifname": node.veth, "net_ns_fd": node.ns})
            (idx,) = await ipr.link_lookup(ifname=hub_end)
            await ipr.addr("add", index=idx, address=f"{subnet}.1", prefixlen=24)
            await ipr.link("set", index=idx, state="up")
        await _setup_node(node)
        async with AsyncIPRoute(netns=node.ns) as ipr:
            await ipr.route("add", dst="0.0.0.0", dst_len=0, gateway=f"{subnet}.1")
        yield node
    finally:
        for proc in node.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        with contextlib.suppress(Exception):
            netns.remove(node.ns)


def node_config(node: Node, name: str, ifname: str, port: int, mesh_cidr: str, *,
                extra: str = "") -> str:
    """The daemon config (TOML) of a mesh node living in ``node``'s namespace: the userspace
    driver, the API and WireGuard endpoint on the namespace's veth address; ``extra`` is appended
    (other sections, or more ``[phantommesh]`` keys when it starts with none)."""
    return f"""
[phantommesh]
enabled = true
interface = "{ifname}"
node_name = "{name}"
driver = "userspace"
mesh_cidr = "{mesh_cidr}"
api_url = "http://{node.ip}:{port}"
endpoint_host = "{node.ip}"
listen_port = 51820
keepalive = 5
monitor_seconds = 1
{extra}"""


def namespaces() -> list[str]:
    """Names of the network namespaces that exist now (for leak checks)."""
    return netns.listnetns()


def require_netns() -> None:
    """Skip (fail in CI) unless we are root with ``ip``, wireguard-go and /dev/net/tun."""
    from sigmavault.testing import require, require_root, require_tool

    require_root()
    require_tool("ip", "wireguard-go")
    require(os.path.exists("/dev/net/tun"), "/dev/net/tun is missing")


CLONE_NEWNET = 0x40000000


def socket_in(ns: str, kind: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
    """A socket that belongs to namespace ``ns`` (made by a short-lived thread inside it)."""
    out: dict[str, object] = {}

    def inside() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                out["err"] = OSError(ctypes.get_errno(), f"setns {ns} failed")
                return
            out["sock"] = socket.socket(socket.AF_INET, kind, proto)
        finally:
            os.close(fd)

    t = threading.Thread(target=inside)
    t.start()
    t.join()
    if "err" in out:
        raise out["err"]  # type: ignore[misc]
    return out["sock"]  # type: ignore[return-value]


@contextlib.asynccontextmanager
async def forward(ns: str, port: int) -> AsyncIterator[str]:
    """Yield ``http://127.0.0.1:P``: a loopback port relayed to ``127.0.0.1:port`` inside ``ns``.

    The test process stays in the root namespace and reaches each daemon through this relay.
    """
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = socket_in(ns)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
        except OSError:
            sock.close()
            writer.close()
            return
        r2, w2 = await asyncio.open_connection(sock=sock)
        for t in (asyncio.ensure_future(pipe(reader, w2)), asyncio.ensure_future(pipe(r2, writer))):
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_ping(ns: str, address: str, count: int, deadline: float) -> bool:
    """Send echo requests from namespace ``ns`` until ``count`` replies came or ``deadline`` passed."""
    sock = socket_in(ns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = secrets.randbits(16)
    replies, seq = 0, 0
    end = time.monotonic() + deadline
    try:
        while replies < count and time.monotonic() < end:
            seq += 1
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            payload = b"phantommesh-test" * 3
            packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
            sock.sendto(packet, (address, 0))
            wait_until = min(end, time.monotonic() + 0.5)
            while time.monotonic() < wait_until:
                sock.settimeout(max(0.01, wait_until - time.monotonic()))
                try:
                    data, _ = sock.recvfrom(2048)
                except socket.timeout:
                    break
                icmp = data[(data[0] & 0x0F) * 4:]
                typ, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
                if typ == 0 and rid == ident and rseq == seq:
                    replies += 1
                    time.sleep(0.1)
                    break
    finally:
        sock.close()
    return replies >= count
