"""The real backends the other scenarios do not reach, in daemons with every bundled plugin:

* a ZFS mirror (zfs-fuse) on loop devices: dataset, file, snapshot, a file restored from it, a
  compression job on the pool, a member taken offline → the pool reported DEGRADED on the event
  stream and the API, back online, destroyed with its confirmation;
* two nodes in their own network namespaces joined by a PhantomMesh invite through the API, with
  traffic through the WireGuard tunnel.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest

from sigmavault.commands import run
from sigmavault.testing import Daemon, api_call, next_event, require_root, require_tool, wait_job
from sigmavault_phantommesh.netns_harness import (forward, namespace_pair, namespaces, node_config,
                                                  require_netns)
from sigmavault_zfs import daemon as zfs_daemon

MESH = "10.231.120.0/24"


@pytest.fixture(scope="module")
def zfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """zfs-fuse answering (started here only if nothing answers, and then stopped again)."""
    require_root()
    require_tool("zpool", "zfs", "losetup")
    pidfile = tmp_path_factory.mktemp("zfs-fuse") / "zfs-fuse.pid"
    handle = asyncio.run(zfs_daemon.ensure_running(str(pidfile)))
    yield
    asyncio.run(zfs_daemon.stop(handle))


@pytest.fixture
async def loops(tmp_path: Path) -> AsyncIterator[list[str]]:
    """Two loop devices on sparse 128 MiB files, detached after the test."""
    devs = []
    for i in range(2):
        image = tmp_path / f"member{i}.img"
        with open(image, "wb") as f:
            f.truncate(128 << 20)
        devs.append((await run(["losetup", "-f", "--show", str(image)])).stdout.strip())
    try:
        yield devs
    finally:
        for dev in devs:
            await run(["losetup", "-d", dev], check=False)


async def test_zfs_mirror_snapshot_compress_and_degrade(zfs: None, loops: list[str], tmp_path: Path,
                                                       sv_daemon: Any) -> None:
    area = tmp_path / "area"
    area.mkdir()
    sv = sv_daemon(f'[compression]\nallowed_roots = ["{area}"]\n'
                   "[storage]\nmonitor_interval = 0.5\nsmart_interval = 0\ninclude_loop_devices = true\n",
                   name="zfs-node")
    name = f"svi{uuid.uuid4().hex[:8]}"
    async with sv.session() as s:
        try:
            pool = await api_call(s, "POST", "/storage/pools", 201, json={
                "name": name, "backend": "zfs", "topology": {"layout": "mirror"}, "devices": loops})
            assert pool["layout"] == "mirror" and pool["state"] == "online", pool
            await api_call(s, "POST", f"/storage/pools/{name}/volumes", 201, json={"name": "docs"})
            vol = await api_call(s, "GET", f"/storage/pools/{name}/volumes/docs")
            data = b"sigmavault on zfs\n" * 20_000
            (Path(vol["path"]) / "report.txt").write_bytes(data)
            await api_call(s, "POST", f"/storage/pools/{name}/volumes/docs/snapshots", 201,
                           json={"name": "before"})
            page = await api_call(s, "GET", f"/storage/pools/{name}/volumes/docs/snapshots")
            assert [x["name"] for x in page["items"]] == ["before"]
            live = Path(vol["path"]) / "report.txt"
            live.write_bytes(b"overwritten")
            await api_call(s, "POST", f"/storage/pools/{name}/volumes/docs/snapshots/before/restore",
                           json={"path": "report.txt", "overwrite": True})
            assert live.read_bytes() == data

            # another plugin works on the pool: a zstd archive of the restored file, byte-exact back
            archive = area / "report.txt.zst"
            job = await api_call(s, "POST", "/compression/jobs", 202, json={
                "operation": "compress", "source": str(live), "target": str(archive), "codec": "zstd"})
            assert (await wait_job(s, job["id"], 60))["state"] == "SUCCESS"
            await run(["zstd", "-d", "-q", "-o", str(area / "back.txt"), str(archive)])
            assert (area / "back.txt").read_bytes() == data

            async with s.ws_connect("/api/v1/ws") as ws:
                await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
                off = await api_call(s, "POST", f"/zfs/pools/{name}/offline", json={"device": loops[1]})
                assert off["state"] == "DEGRADED"
                ev = await next_event(ws, lambda e: e["type"] == "storage.event"
                                      and e["data"]["pool"] == name and e["data"]["kind"] == "pool_state",
                                      timeout=20)
                assert ev["data"]["new"] == "degraded", ev
                assert (await api_call(s, "GET", f"/storage/pools/{name}"))["state"] == "degraded"
                await api_call(s, "POST", f"/zfs/pools/{name}/online", json={"device": loops[1]})
                # the zfs plugin and the storage monitor may both announce the degraded state: the
                # next announcement that matters is the way back
                ev = await next_event(ws, lambda e: e["type"] == "storage.event"
                                      and e["data"]["pool"] == name and e["data"]["kind"] == "pool_state"
                                      and e["data"]["new"] != "degraded", timeout=20)
                assert ev["data"]["new"] == "online", ev
        finally:
            resp = await s.delete(f"/api/v1/storage/pools/{name}", params={"confirm": name})
            assert resp.status in (204, 404), await resp.text()


async def _mesh_status(session: aiohttp.ClientSession, pred: Any, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = await api_call(session, "GET", "/network/phantommesh")
        if pred(st):
            return st
        assert time.monotonic() < deadline, f"condition not met: {st}"
        await asyncio.sleep(0.5)


async def test_two_full_nodes_join_a_mesh_in_namespaces(sv_daemon: Any) -> None:
    require_netns()
    before = set(namespaces())
    async with namespace_pair("10.231.12") as pair:
        tag = pair.a.ns[-6:]
        nodes: dict[str, Daemon] = {}
        for name, node, ifname in (("alpha", pair.a, f"pia{tag}"), ("beta", pair.b, f"pib{tag}")):
            d = sv_daemon(name=name, start=False, netns=node.ns, host="0.0.0.0")
            d.config_path.write_text(node_config(node, name, ifname, d.port, MESH,
                                                  extra="[storage]\nsmart_interval = 0\n"))
            await asyncio.to_thread(d.start, 60)
            nodes[name] = d
        da, db = nodes["alpha"], nodes["beta"]
        async with forward(pair.a.ns, da.port) as url_a, forward(pair.b.ns, db.port) as url_b:
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(url_a, headers={"Authorization": f"Bearer {da.admin_key}"},
                                             connector=connector) as a, \
                    aiohttp.ClientSession(url_b, headers={"Authorization": f"Bearer {db.admin_key}"},
                                          connector=aiohttp.TCPConnector(force_close=True)) as b:
                for session in (a, b):   # every bundled plugin is loaded on both nodes
                    assert len(await api_call(session, "GET", "/agents")) == 40
                invite = await api_call(a, "POST", "/network/phantommesh/invites", 201, json={"name": "beta"})
                joined = await api_call(b, "POST", "/network/phantommesh/join", 201,
                                        json={"invite": invite["invite"]})
                assert joined["name"] == "alpha"
                await _mesh_status(b, lambda s: s["peers"] and s["peers"][0]["up"])
                st = await _mesh_status(a, lambda s: s["peers"] and s["peers"][0]["up"])
                rx0 = st["peers"][0]["rx_bytes"]
                assert await pair.b.ping("10.231.120.1", count=3)
                assert await pair.a.ping("10.231.120.2", count=3)
                peer = await api_call(a, "GET", "/network/phantommesh/peers/beta")
                assert peer["rx_bytes"] > rx0
        for d in nodes.values():
            await asyncio.to_thread(d.stop)
    assert set(namespaces()) == before
