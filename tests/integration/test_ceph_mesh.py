"""Ceph over PhantomMesh: two full SigmaVault nodes, each a `sigmavault serve` in its own network
namespace, joined by a mesh invite through the API. Alpha bootstraps a cluster whose monitor
listens on alpha's mesh address; beta joins it with a join token (the bootstrap-osd key comes over
the mesh, never in the token) and contributes an OSD. A CephFS pool of size 2 keeps one copy on
each node's host bucket; beta's OSD stopped → `degraded` on alpha's event stream within 30 s;
started again → HEALTH_OK and the files written before are intact.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import sys
import time
from typing import Any, AsyncIterator

import aiohttp
import pytest

from sigmavault.commands import run
from sigmavault.testing import Daemon, api_call, next_event, require_tool, wait_job
from sigmavault_phantommesh.netns_harness import (Node, forward, namespace_pair, namespaces,
                                                  node_config, require_netns)

MESH = "10.231.150.0/24"
EXTRA = ("[storage]\nsmart_interval = 0\nmonitor_interval = 1\n"
         "[ceph]\nallow_bootstrap = true\n")
OSD_SIZE = 2 << 30

pytestmark = pytest.mark.root


@contextlib.asynccontextmanager
async def mesh_nodes(sv_daemon: Any) -> AsyncIterator[tuple[Any, dict[str, Daemon],
                                                            aiohttp.ClientSession,
                                                            aiohttp.ClientSession]]:
    """alpha and beta in their own namespaces, beta joined to alpha's mesh, tunnel up."""
    async with namespace_pair("10.231.51") as pair:
        tag = pair.a.ns[-6:]
        nodes: dict[str, Daemon] = {}
        try:
            for name, node, ifname in (("alpha", pair.a, f"cma{tag}"), ("beta", pair.b, f"cmb{tag}")):
                d = sv_daemon(name=name, start=False, netns=node.ns, host="0.0.0.0")
                d.config_path.write_text(node_config(node, name, ifname, d.port, MESH, extra=EXTRA))
                await asyncio.to_thread(d.start, 60)
                nodes[name] = d
            da, db = nodes["alpha"], nodes["beta"]
            async with forward(pair.a.ns, da.port) as url_a, forward(pair.b.ns, db.port) as url_b, \
                    aiohttp.ClientSession(url_a, headers={"Authorization": f"Bearer {da.admin_key}"},
                                          connector=aiohttp.TCPConnector(force_close=True)) as a, \
                    aiohttp.ClientSession(url_b, headers={"Authorization": f"Bearer {db.admin_key}"},
                                          connector=aiohttp.TCPConnector(force_close=True)) as b:
                invite = await api_call(a, "POST", "/network/phantommesh/invites", 201,
                                        json={"name": "beta"})
                await api_call(b, "POST", "/network/phantommesh/join", 201,
                               json={"invite": invite["invite"]})
                for s in (a, b):
                    await until(lambda s=s: api_call(s, "GET", "/network/phantommesh"),
                                lambda st: st["peers"] and st["peers"][0]["up"], 40)
                yield pair, nodes, a, b
        finally:
            for d in nodes.values():   # a graceful stop: each daemon stops its Ceph daemons
                await asyncio.to_thread(d.stop)


async def until(get: Any, ok: Any, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        last = await get()
        if ok(last):
            return last
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {last}"
        await asyncio.sleep(every)


async def ceph(node: Node, root: str, name: str, *args: str) -> Any:
    """The ceph CLI as alpha's admin, from inside alpha's namespace (the monitor is on the mesh)."""
    out = await node.run("ceph", "--cluster", name, "-c", f"{root}/{name}.conf", *args,
                         "--format", "json", timeout=60)
    return json.loads(out.stdout)


SUMS = ("import hashlib, json, os, sys\nout = {}\nfor f in sorted(os.listdir(sys.argv[1])):\n"
        "    out[f] = hashlib.sha256(open(os.path.join(sys.argv[1], f), 'rb').read()).hexdigest()\n"
        "print(json.dumps(out))")


def rss_mib(pid: int | None) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) // 1024 for ln in f if ln.startswith("VmRSS:"))


async def in_mounts(d: Daemon, *argv: str) -> str:
    """A command in the daemon's mount namespace (its ceph-fuse mount is only seen there)."""
    assert d.proc is not None
    return (await run(["nsenter", "-t", str(d.proc.pid), "-m", *argv], timeout=120)).stdout


async def test_second_node_joins_over_the_mesh_and_keeps_a_copy(sv_daemon: Any) -> None:
    require_netns()
    require_tool("ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph-fuse", "nsenter")
    started = time.monotonic()
    async with mesh_nodes(sv_daemon) as (pair, nodes, a, b):
        ours = {pair.a.ns, pair.b.ns}
        mesh_a = await api_call(a, "GET", "/network/phantommesh")
        addr_a = mesh_a["address"].split("/")[0]
        t_mesh = time.monotonic()

        job = await api_call(a, "POST", "/ceph/clusters/bootstrap", 202, json={
            "name": "svmesh", "osds": 1, "osd_size": OSD_SIZE, "mds": 2, "address": addr_a})
        done = await wait_job(a, job["id"], timeout=240)
        assert done["state"] == "SUCCESS", done
        fsid, root = done["result"]["fsid"], done["result"]["root"]
        assert done["result"]["details"]["mon"].startswith(f"v2:{addr_a}:")
        t_boot = time.monotonic()

        # a token names the monitor on the mesh and holds no key
        await api_call(a, "POST", f"/ceph/clusters/{fsid}/join-tokens", 400, json={"peer": "nobody"})
        tok = await api_call(a, "POST", f"/ceph/clusters/{fsid}/join-tokens", 201,
                             json={"peer": "beta"})
        assert tok["mon"].startswith(f"v2:{addr_a}:") and tok["node"] == "alpha"
        [entry] = await ceph(pair.a, root, "svmesh", "auth", "get", "client.bootstrap-osd")
        payload = tok["token"].split(".", 1)[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        assert entry["key"] not in tok["token"] and entry["key"] not in decoded
        await api_call(b, "POST", "/ceph/join", 400, json={"token": "svceph1.garbage"})
        # a token id alpha never issued: alpha refuses over the mesh, beta keeps nothing
        forged = json.loads(decoded) | {"id": "not-issued"}
        forged_token = "svceph1." + base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        job = await api_call(b, "POST", "/ceph/join", 202, json={"token": forged_token})
        failed = await wait_job(b, job["id"], timeout=60)
        assert failed["state"] == "FAILED" and "unknown, used or expired" in failed["error"], failed
        assert await api_call(b, "GET", "/ceph/joined") == []
        assert not (nodes["beta"].data_dir / "ceph" / "joined" / fsid).exists()

        job = await api_call(b, "POST", "/ceph/join", 202, json={
            "token": tok["token"], "osds": 1, "osd_size": OSD_SIZE})
        done = await wait_job(b, job["id"], timeout=240)
        assert done["state"] == "SUCCESS", done
        member = done["result"]
        mesh_b = await api_call(b, "GET", "/network/phantommesh")
        assert member["address"] == mesh_b["address"].split("/")[0] and member["crush_host"] == "beta"
        [osd_b] = [int(i) for i in member["osds"]]
        assert all(member["osds"].values())
        # joining the same cluster twice is refused
        await api_call(b, "POST", "/ceph/join", 409, json={"token": tok["token"]})
        t_join = time.monotonic()

        # each node's OSD in its own host bucket; B's OSD talks on B's mesh address
        tree = await ceph(pair.a, root, "svmesh", "osd", "tree")
        hosts = {n["name"]: n["children"] for n in tree["nodes"] if n["type"] == "host"}
        assert len(hosts) == 2 and hosts["beta"] == [osd_b], hosts
        osd_b_meta = await ceph(pair.a, root, "svmesh", "osd", "metadata", str(osd_b))
        assert member["address"] in osd_b_meta["front_addr"], osd_b_meta["front_addr"]

        pool = await api_call(a, "POST", "/storage/pools", 201, json={
            "name": "span", "backend": "ceph", "options": {"size": 2}})
        assert pool["properties"]["replicas"] == 2 and pool["state"] == "online", pool
        pgs = await ceph(pair.a, root, "svmesh", "pg", "dump", "pgs_brief")
        pgs = pgs["pg_stats"] if isinstance(pgs, dict) else pgs
        pool_ids = {p["pool_id"] for p in await ceph(pair.a, root, "svmesh", "osd", "pool", "ls",
                                                      "detail") if p["pool_name"].startswith("cephfs.span.")}
        acting = [sorted(pg["acting"]) for pg in pgs if int(pg["pgid"].split(".")[0]) in pool_ids]
        osd_a = hosts[next(h for h in hosts if h != "beta")]
        assert acting and all(len(s) == 2 and osd_b in s and set(s) & set(osd_a) for s in acting), acting
        rule = await ceph(pair.a, root, "svmesh", "osd", "crush", "rule", "dump", "replicated_host")
        assert {"op": "chooseleaf_firstn", "num": 0, "type": "host"} in rule["steps"], rule
        detail = await ceph(pair.a, root, "svmesh", "osd", "pool", "ls", "detail")
        assert {p["crush_rule"] for p in detail if p["pool_id"] in pool_ids} == {rule["rule_id"]}

        vol = await api_call(a, "POST", "/storage/pools/span/volumes", 201, json={"name": "docs"})
        for i in range(3):
            await in_mounts(nodes["alpha"], "dd", "if=/dev/urandom", f"of={vol['path']}/f{i}.bin",
                            "bs=1M", "count=4", "conv=fsync", "status=none")
        sums = json.loads(await in_mounts(nodes["alpha"], sys.executable, "-c", SUMS, vol["path"]))
        assert len(sums) == 3

        async with a.ws_connect("/api/v1/ws") as ws:
            await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
            stopped = await api_call(b, "POST", f"/ceph/joined/{fsid}/stop", 200)
            t_stop = time.monotonic()
            assert not any(stopped["osds"].values()), stopped
            ev = await next_event(ws, lambda e: e["type"] == "storage.event"
                                  and e["data"].get("pool") == "span"
                                  and e["data"].get("kind") == "pool_state", timeout=30)
            assert ev["data"]["new"] == "degraded", ev
            t_degraded = time.monotonic() - t_stop
            restarted = await api_call(b, "POST", f"/ceph/joined/{fsid}/start", 200)
            assert all(restarted["osds"].values()), restarted
            t_start = time.monotonic()
            info = await until(lambda: api_call(a, "GET", "/ceph/clusters"),
                               lambda cs: cs[0]["health"] == "HEALTH_OK", 120, every=1)
            assert info[0]["osds_up"] == 2
            t_ok = time.monotonic() - t_start
        assert json.loads(await in_mounts(nodes["alpha"], sys.executable, "-c", SUMS,
                                          vol["path"])) == sums
        pids = {**info[0]["daemons"], **{f"osd.{k} (beta)": v for k, v in restarted["osds"].items()}}
        rss = {k: rss_mib(v) for k, v in pids.items()}

        # beta's daemon restarted: it starts its OSDs of the joined cluster again
        await asyncio.to_thread(nodes["beta"].stop)
        await asyncio.to_thread(nodes["beta"].start, 60)
        [row] = await api_call(b, "GET", "/ceph/joined")
        assert row["fsid"] == fsid and all(row["osds"].values()), row
        await until(lambda: api_call(a, "GET", "/ceph/clusters"), lambda cs: cs[0]["osds_up"] == 2,
                    60)
        await api_call(a, "DELETE", "/storage/pools/span", 204, params={"confirm": "span"})
        print(f"\nceph over the mesh: mesh {t_mesh - started:.1f} s, bootstrap {t_boot - t_mesh:.1f} s, "
              f"join {t_join - t_boot:.1f} s, degraded after {t_degraded:.1f} s, HEALTH_OK after "
              f"{t_ok:.1f} s, total {time.monotonic() - started:.1f} s; RSS MiB {rss}")
    assert not ours & set(namespaces())   # (other tests may hold namespaces of their own)
