"""Test harness: two network namespaces joined by a veth pair, cleaned up whatever happens.

Only addresses inside these private namespaces are used (10.x inside them, never routed out).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass, field

from pyroute2 import AsyncIPRoute, netns

from sigmavault.commands import run


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

    async def run(self, *argv: str, timeout: float = 30.0, check: bool = True):
        return await run(self.exec_argv(*argv), timeout=timeout, check=check)

    async def ping(self, address: str, count: int = 3, deadline: int = 15) -> bool:
        """Whether ``count`` echo replies arrive within ``deadline`` seconds."""
        res = await self.run("ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-w", str(deadline),
                             address, timeout=deadline + 10, check=False)
        return res.ok


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
async def namespace_pair(subnet: str = "10.231.7"):
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


def namespaces() -> list[str]:
    """Names of the network namespaces that exist now (for leak checks)."""
    return netns.listnetns()


def require_netns() -> None:
    """Skip (fail in CI) unless we are root with /dev/net/tun and network namespaces."""
    import pytest

    try:
        from sigmavault.testing import require_root, require_tool
    except ImportError:  # core without its testing helpers yet
        require_root = require_tool = None
    if require_root is not None:
        require_root()
        require_tool("ip")
        require_tool("wireguard-go")
    problem = None
    if os.geteuid() != 0:
        problem = "needs root"
    elif not os.path.exists("/dev/net/tun"):
        problem = "/dev/net/tun is missing"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
