"""Replication between two full SigmaVault nodes, each a `sigmavault serve` in its own network
namespace, joined by a PhantomMesh invite through the API; every replication byte goes through the
WireGuard tunnel as signed node-to-node requests.

* dir → dir: a peer the target has not authorised is refused; authorised, the first run sends the
  snapshots, a second run sends only the new one, the target's files equal the source's; retention
  prunes the target; a file and a whole volume restored back from the replica;
* dir → dir encrypted (untrusted target): the target holds opaque blobs only — a scan of the
  target's whole data dir for known content finds nothing — and a restore is byte-exact;
* btrfs → btrfs on loop devices: full, then incremental from the newest common snapshot, the veth
  cut mid-stream and the run resumes at the target's offset; an encrypted incremental chain restored;
* zfs → zfs (zfs-fuse, one pool per node on a sparse file): full, then incremental with the veth cut
  mid-stream, resumed; the target's files equal the source's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest

from sigmavault.commands import run
from sigmavault.testing import Daemon, api_call, require_root, require_tool, wait_job
from sigmavault_phantommesh.netns_harness import (forward, namespace_pair, namespaces, node_config,
                                                  require_netns)
from sigmavault_zfs import daemon as zfs_daemon

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
    # only this pair's: other tests may be making and removing namespaces meanwhile
    assert not {pair.a.ns, pair.b.ns} & set(namespaces())


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


# run in the daemon's mount namespace (today the root one: Daemon enters only the network namespace)
TREE = ("import hashlib, json, os, sys\nout = {}\nfor d, _, fs in os.walk(sys.argv[1]):\n"
        "    for f in fs:\n        p = os.path.join(d, f)\n"
        "        out[os.path.relpath(p, sys.argv[1])] = hashlib.sha256(open(p, 'rb').read()).hexdigest()\n"
        "print(json.dumps(out))")


async def in_mounts(d: Daemon, *argv: str) -> str:
    assert d.proc is not None
    return (await run(["nsenter", "-t", str(d.proc.pid), "-m", *argv], timeout=60)).stdout


async def tree_in(d: Daemon, root: str) -> dict[str, str]:
    return json.loads(await in_mounts(d, sys.executable, "-c", TREE, root))


async def write_in(d: Daemon, path: str, data: bytes | None = None, random_mib: int = 0) -> None:
    if random_mib:
        await in_mounts(d, "dd", "if=/dev/urandom", f"of={path}", "bs=1M", f"count={random_mib}",
                        "status=none")
    else:
        await in_mounts(d, sys.executable, "-c", "import sys; open(sys.argv[1], 'wb').write("
                        "bytes.fromhex(sys.argv[2]))", path, (data or b"").hex())


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
        check = await api_call(a, "GET", f"/replication/{task['id']}/check")
        assert check == {"ok": False, "error": check["error"]} and check["error"]["code"] == "not_authorised"
        assert await api_call(b, "GET", "/storage/pools/backup/volumes") == []

        await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": "backup"})
        # authorised for "backup" only: a task into another pool of beta is still refused
        await api_call(b, "POST", "/storage/pools", 201, json={"name": "private", "backend": "dir"})
        other = await api_call(a, "POST", "/replication", 201, json={
            "pool": "src", "volume": "docs", "peer": "beta", "target_pool": "private"})
        await run_fails(a, other["id"], "not_authorised")

        assert await api_call(a, "GET", f"/replication/{task['id']}/check") == {"ok": True, "backend": "dir"}
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
        assert "manifest.age" in names, names     # the sealed catalog, for recovery without alpha's DB
        names.remove("manifest.age")
        assert len(names) == 4 and all(len(x) == 36 and x.endswith(".age") for x in names), names
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

        # a target that changes a sealed blob is caught before anything is decrypted or written
        blob = next(x["blob"] for x in rep["snapshots"] if x["name"] == "s4")
        victim = sealed_vol / f"{blob}.age"
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
        (vol / "a.txt").write_bytes(b"current")
        job = await api_call(a, "POST", f"/replication/{sealed['id']}/restore", 202, json={
            "snapshot": "s4", "path": "a.txt", "overwrite": True})
        job = await wait_job(a, job["id"], 60)
        assert job["state"] == "FAILED" and "changed or replaced on the target" in job["error"], job
        assert (vol / "a.txt").read_bytes() == b"current"

        # alpha loses the task (and its catalog): with its keys, the sealed manifest on beta is
        # enough to rebuild the volume
        await api_call(a, "DELETE", f"/replication/{sealed['id']}")
        job = await api_call(a, "POST", "/replication/recover", 202, json={
            "peer": "beta", "target_pool": "backup", "target_volume": "docs-sealed",
            "pool": "src", "volume": "docs-recovered", "snapshot": "s3"})   # s4's blob was changed
        job = await wait_job(a, job["id"], 60)
        assert job["state"] == "SUCCESS", (job["error"], job)
        assert job["result"]["snapshot"] == "s3" and job["result"]["chain"] == ["s3"], job["result"]
        assert job["result"]["manifest"]["snapshots"] == ["s1", "s2", "s3", "s4"]
        recovered = Path((await api_call(a, "GET", "/storage/pools/src/volumes/docs-recovered"))["path"])
        assert tree(recovered) == tree(Path(snap_path))
        # a replica can be handed over to the node that replaces a lost source
        err = await api_call(b, "PUT", "/replication/replicas/backup/docs-sealed/owner", 422,
                             json={"peer": "nobody"})
        assert err["error"]["details"]["field"] == "peer"
        await api_call(b, "PUT", "/replication/replicas/backup/docs-sealed/owner", 200, json={"peer": "alpha"})

        # the target's view and the fleet view
        replicas = await api_call(b, "GET", "/replication/replicas")
        assert {(r["volume"], r["sealed"]) for r in replicas} == {("docs", False), ("docs-sealed", True)}
        fleet = await api_call(a, "GET", "/replication/fleet")
        assert fleet[0]["peer"] == "beta" and fleet[0]["reachable"]
        assert "backup" in {p["name"] for p in fleet[0]["pools"]}
        last = fleet[0]["last_replication"]       # the sealed task is gone: the clash's run is last
        assert (last["task"], last["state"]) == (clash["id"], "failed"), last
        assert fleet[0]["tasks"] == 3
        assert fleet[0]["last_replication_from"] is None      # beta never replicated to alpha
        assert fleet[0]["system"]["hostname"] and isinstance(fleet[0]["alerts"], list), fleet[0]
        for node in fleet:   # healthy pools; an alert PULSE raised on this busy machine is said so
            health = node["health"]
            assert all(r["kind"] == "alert" for r in health["reasons"]), health
            assert health["state"] == ("degraded" if health["reasons"] else "ok"), health
            assert len(health["reasons"]) == len(node["alerts"]), node
        # from beta: alpha's last replication into it was the sealed chain (no name: sealed)
        back_fleet = await api_call(b, "GET", "/replication/fleet")
        assert back_fleet[0]["peer"] == "alpha" and back_fleet[0]["tasks"] == 0, back_fleet
        last_from = back_fleet[0]["last_replication_from"]
        assert (last_from["pool"], last_from["volume"], last_from["sealed"], last_from["snapshot"]) == \
            ("backup", "docs-sealed", True, None), last_from
        assert last_from["bytes"] > 0 and last_from["at"] > time.time() - 600, last_from


@pytest.fixture
async def loops(tmp_path: Path) -> AsyncIterator[list[str]]:
    """Two loop devices on sparse 512 MiB files (one pool per node), detached after the test."""
    require_tool("losetup", "mkfs.btrfs", "btrfs")
    devs = []
    for i in range(2):
        image = tmp_path / f"node{i}.img"
        with open(image, "wb") as f:
            f.truncate(512 << 20)
        devs.append((await run(["losetup", "-f", "--show", str(image)])).stdout.strip())
    try:
        yield devs
    finally:
        for dev in devs:
            await run(["losetup", "-d", dev], check=False)


async def test_btrfs_incremental_resumed_after_cut_link_and_sealed_chain(sv_daemon: Any,
                                                                        loops: list[str]) -> None:
    async with two_nodes(sv_daemon, "10.231.42") as n:
        a, b = n.a, n.b
        try:
            await api_call(a, "POST", "/storage/pools", 201, json={
                "name": "rsrc", "backend": "btrfs", "topology": {"layout": "single"}, "devices": [loops[0]]})
            await api_call(b, "POST", "/storage/pools", 201, json={
                "name": "rdst", "backend": "btrfs", "topology": {"layout": "single"}, "devices": [loops[1]]})
            await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": "rdst"})
            await api_call(a, "POST", "/storage/pools/rsrc/volumes", 201, json={"name": "data"})
            vol = (await api_call(a, "GET", "/storage/pools/rsrc/volumes/data"))["path"]
            await write_in(n.da, f"{vol}/big.bin", random_mib=8)
            await write_in(n.da, f"{vol}/notes.txt", b"first\n")
            await snap(a, "rsrc", "data", "b1")
            task = await api_call(a, "POST", "/replication", 201, json={
                "pool": "rsrc", "volume": "data", "peer": "beta", "target_pool": "rdst",
                "bwlimit": 4 << 20})
            res = await run_task(a, task["id"])
            assert res["incremental"] and res["sent"][0]["base"] is None, res

            await write_in(n.da, f"{vol}/more.bin", random_mib=24)
            await write_in(n.da, f"{vol}/notes.txt", b"second\n")
            await in_mounts(n.da, "ln", "-s", "/", f"{vol}/out")   # leads out of the snapshot
            await snap(a, "rsrc", "data", "b2")
            r = await api_call(a, "POST", f"/replication/{task['id']}/run", 202)
            deadline = time.monotonic() + 60
            while True:   # cut the link once a few MiB of the incremental stream went through
                job = await api_call(a, "GET", f"/jobs/{r['job_id']}")
                if (job["progress"].get("bytes_done") or 0) >= 4 << 20:
                    break
                assert job["state"] == "RUNNING" and time.monotonic() < deadline, job
                await asyncio.sleep(0.2)
            await n.pair.a.run("ip", "link", "set", n.pair.a.veth, "down")
            cut_at = time.monotonic()
            # the fleet view says why beta is down (and answers without it)
            fleet = await api_call(a, "GET", "/replication/fleet")
            assert fleet[0]["peer"] == "beta" and not fleet[0]["reachable"], fleet
            assert fleet[0]["health"]["state"] == "down", fleet[0]
            assert [r["kind"] for r in fleet[0]["health"]["reasons"]] == ["unreachable"], fleet[0]
            await asyncio.sleep(max(0.0, 10 - (time.monotonic() - cut_at)))
            cut = await api_call(a, "GET", f"/jobs/{r['job_id']}")
            assert cut["state"] == "RUNNING", cut
            await n.pair.a.run("ip", "link", "set", n.pair.a.veth, "up")
            job = await wait_job(a, r["job_id"], 120)
            assert job["state"] == "SUCCESS", job
            res = job["result"]
            assert [(x["snapshot"], x["base"]) for x in res["sent"]] == [("b2", "b1")], res
            assert res["retries"] > 0, res
            stream = res["sent"][0]["bytes"]
            assert stream < 30 << 20                     # incremental: not the 32 MiB volume
            assert res["wire_bytes"] < stream + (8 << 20), res   # resumed, not started again
            logs = await api_call(a, "GET", f"/jobs/{r['job_id']}/logs")
            assert any("link to beta down" in str(line) for line in logs), logs
            got = (await api_call(b, "GET", "/storage/pools/rdst/volumes/data/snapshots/b2"))["path"]
            source_tree = await tree_in(n.da, vol)
            assert len(source_tree) == 3 and await tree_in(n.db, got) == source_tree

            # browse the replica snapshot kept on beta, from alpha (over the mesh), paged
            files = f"/replication/{task['id']}/replica/snapshots/b2/files"
            page = await api_call(a, "GET", files)
            assert (page["peer"], page["snapshot"], page["path"], page["parent"], page["total"]) == \
                ("beta", "b2", "", None, 4), page
            assert {i["name"]: (i["type"], i["size"]) for i in page["items"]} == {
                "big.bin": ("file", 8 << 20), "more.bin": ("file", 24 << 20),
                "notes.txt": ("file", 7), "out": ("symlink", 1)}, page
            second = await api_call(a, "GET", files, params={"limit": "1", "offset": "1"})
            assert [i["name"] for i in second["items"]] == [page["items"][1]["name"]], second
            # leaving the snapshot: by .. (refused on alpha) or through a symlink (refused on beta)
            for bad in ("..", "../../etc", "a/../../x", "out/etc", "out"):
                err = await api_call(a, "GET", files, 400, params={"path": bad})
                assert err["error"]["details"]["field"] == "path", (bad, err)
                assert set(err["error"]["details"]) <= {"field", "path"}, err   # no path of beta's
            err = await api_call(a, "POST", f"/replication/{task['id']}/restore", 400, json={
                "snapshot": "b2", "path": "../etc/passwd"})
            assert err["error"]["details"]["field"] == "path", err
            await api_call(a, "GET", f"/replication/{task['id']}/replica/snapshots/nope/files", 404)
            # one file restored byte-exact from beta's replica into the live volume
            await in_mounts(n.da, "rm", f"{vol}/more.bin")
            job = await api_call(a, "POST", f"/replication/{task['id']}/restore", 202, json={
                "snapshot": "b2", "path": "more.bin"})
            assert (await wait_job(a, job["id"], 60))["state"] == "SUCCESS", job
            assert await tree_in(n.da, vol) == source_tree

            # a snapshot named like the source's but made on the target is not the same snapshot
            # (its received UUID says so): never taken as the common one, never overwritten
            await snap(b, "rdst", "data", "b3")
            await snap(a, "rsrc", "data", "b3")
            res = await run_task(a, task["id"])
            assert res["common"] == "b2" and res["sent"] == [] and res["skipped_name_taken"] == ["b3"], res

            # untrusted target: a sealed chain (full b1 + incremental b2), restored as a new volume
            await api_call(a, "POST", "/encryption/keys", 201, json={
                "name": "replica", "passphrase": "correct horse battery"})
            sealed = await api_call(a, "POST", "/replication", 201, json={
                "pool": "rsrc", "volume": "data", "peer": "beta", "target_pool": "rdst",
                "target_volume": "data-sealed", "encrypt": True, "pad": True, "match": "b[12]"})
            res = await run_task(a, sealed["id"])
            assert [(x["snapshot"], x["base"]) for x in res["sent"]] == [("b1", None), ("b2", "b1")]
            # beta holds only sealed streams: no listing, and the answer says what is possible
            err = await api_call(a, "GET", f"/replication/{sealed['id']}/replica/snapshots/b2/files", 409)
            assert err["error"]["code"] == "sealed_replica", err
            assert "decrypts it, receives it into a temporary volume" in err["error"]["message"], err
            from sigmavault_replication.transfer import padme
            for x in (await api_call(a, "GET", f"/replication/{sealed['id']}/replica"))["snapshots"]:
                # the target sees the padded size (+ age's overhead), not the stream's
                assert x["stored_bytes"] >= padme(x["plain_bytes"] + 16) > x["plain_bytes"], x
            sealed_vol = (await api_call(b, "GET", "/storage/pools/rdst/volumes/data-sealed"))["path"]
            marker = "second"   # notes.txt's content, in the b2 stream as plain bytes when unsealed
            found = await in_mounts(n.db, sys.executable, "-c", "import os, sys\nfor f in sorted("
                                    "os.listdir(sys.argv[1])):\n    d = open(os.path.join(sys.argv[1], f), 'rb')"
                                    ".read()\n    print(f, d.startswith(b'age-encryption.org/v1\\n-> "
                                    "mlkem768x25519 '), sys.argv[2].encode() in d)", sealed_vol, marker)
            rows = [line.split() for line in found.splitlines()]
            assert len(rows) == 3 and all(r[0].endswith(".age") and r[1:] == ["True", "False"]
                                          for r in rows), found       # 2 blobs + manifest.age
            job = await api_call(a, "POST", f"/replication/{sealed['id']}/restore", 202, json={
                "snapshot": "b2", "target_volume": "data-back"})
            assert (await wait_job(a, job["id"], 120))["state"] == "SUCCESS", job
            back = (await api_call(a, "GET", "/storage/pools/rsrc/volumes/data-back"))["path"]
            assert await tree_in(n.da, back) == source_tree
        finally:
            for s, pool in ((a, "rsrc"), (b, "rdst")):
                resp = await s.delete(f"/api/v1/storage/pools/{pool}", params={"confirm": pool})
                assert resp.status in (204, 404), await resp.text()


async def _wait_bytes(s: aiohttp.ClientSession, job_id: str, at_least: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = await api_call(s, "GET", f"/jobs/{job_id}")
        if (job["progress"].get("bytes_done") or 0) >= at_least:
            return job
        assert job["state"] == "RUNNING" and time.monotonic() < deadline, job
        await asyncio.sleep(0.2)


async def test_dir_replication_resumes_after_either_node_restarts(sv_daemon: Any) -> None:
    async with two_nodes(sv_daemon, "10.231.43") as n:
        a, b = n.a, n.b
        await api_call(a, "POST", "/storage/pools", 201, json={"name": "src", "backend": "dir"})
        await api_call(b, "POST", "/storage/pools", 201, json={"name": "backup", "backend": "dir"})
        await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": "backup"})
        await api_call(a, "POST", "/storage/pools/src/volumes", 201, json={"name": "media"})
        vol = Path((await api_call(a, "GET", "/storage/pools/src/volumes/media"))["path"])
        (vol / "one.bin").write_bytes(os.urandom(24 << 20))
        await snap(a, "src", "media", "m1")
        task = await api_call(a, "POST", "/replication", 201, json={
            "pool": "src", "volume": "media", "peer": "beta", "target_pool": "backup",
            "bwlimit": 3 << 20})

        # the target dies mid-stream (SIGKILL) and comes back: the same run carries on
        r = await api_call(a, "POST", f"/replication/{task['id']}/run", 202)
        job = await _wait_bytes(a, r["job_id"], 6 << 20)
        detail = job["progress"]["detail"]
        assert detail["speed_bps"] > 0 and detail["bytes_out"] >= 6 << 20, job["progress"]
        assert detail["speed_bps"] < 4.5 * (1 << 20), detail     # the bandwidth limit holds
        n.db.kill()
        await asyncio.sleep(3)
        await asyncio.to_thread(n.db.start, 60)
        job = await wait_job(a, r["job_id"], 120)
        assert job["state"] == "SUCCESS", job
        sent = job["result"]["sent"][0]
        assert sent["resumed_at"] and sent["resumed_at"][0] >= 4 << 20, sent
        assert job["result"]["wire_bytes"] < sent["bytes"] + (4 << 20), job["result"]
        m1 = Path((await api_call(b, "GET", "/storage/pools/backup/volumes/media/snapshots/m1"))["path"])
        assert tree(m1) == tree(vol)

        # the source dies mid-stream: the run is recorded aborted, the next run resumes the
        # prepared stream at the offset the target has
        (vol / "two.bin").write_bytes(os.urandom(24 << 20))
        await snap(a, "src", "media", "m2")
        r = await api_call(a, "POST", f"/replication/{task['id']}/run", 202)
        await _wait_bytes(a, r["job_id"], 6 << 20)
        n.da.kill()
        await asyncio.to_thread(n.da.start, 60)
        runs = await api_call(a, "GET", f"/replication/{task['id']}/runs")
        assert runs[0]["state"] == "aborted", runs[0]
        res = await run_task(a, task["id"], 120)
        sent = res["sent"][0]
        assert sent["snapshot"] == "m2" and sent["resumed_from"] >= 4 << 20, res
        m2 = Path((await api_call(b, "GET", "/storage/pools/backup/volumes/media/snapshots/m2"))["path"])
        assert tree(m2) == tree(vol)
        assert list((n.da.data_dir / "replication" / "outbox").iterdir()) == []



@pytest.fixture
def zfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """zfs-fuse answering (started here only if nothing answers, and then stopped again)."""
    require_root()
    require_tool("zpool", "zfs", "losetup")
    handle = asyncio.run(zfs_daemon.ensure_running(str(tmp_path_factory.mktemp("zfs-fuse") / "pid")))
    yield
    asyncio.run(zfs_daemon.stop(handle))


async def _cut_link_once_sending(n: Nodes, job_id: str, at_least: int, seconds: float) -> None:
    await _wait_bytes(n.a, job_id, at_least)
    await n.pair.a.run("ip", "link", "set", n.pair.a.veth, "down")
    await asyncio.sleep(seconds)
    cut = await api_call(n.a, "GET", f"/jobs/{job_id}")
    assert cut["state"] == "RUNNING", cut
    await n.pair.a.run("ip", "link", "set", n.pair.a.veth, "up")


async def test_zfs_incremental_resumed_after_cut_link(sv_daemon: Any, zfs: None, loops: list[str]) -> None:
    src, dst = f"svr{uuid.uuid4().hex[:8]}", f"svr{uuid.uuid4().hex[:8]}"   # zpool names are global
    async with two_nodes(sv_daemon, "10.231.44") as n:
        a, b = n.a, n.b
        try:
            await api_call(a, "POST", "/storage/pools", 201, json={
                "name": src, "backend": "zfs", "topology": {"layout": "stripe"}, "devices": [loops[0]]})
            await api_call(b, "POST", "/storage/pools", 201, json={
                "name": dst, "backend": "zfs", "topology": {"layout": "stripe"}, "devices": [loops[1]]})
            await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": dst})
            await api_call(a, "POST", f"/storage/pools/{src}/volumes", 201, json={"name": "data"})
            vol = (await api_call(a, "GET", f"/storage/pools/{src}/volumes/data"))["path"]
            await write_in(n.da, f"{vol}/base.bin", random_mib=2)
            await write_in(n.da, f"{vol}/notes.txt", b"first\n")
            await snap(a, src, "data", "z1")
            task = await api_call(a, "POST", "/replication", 201, json={
                "pool": src, "volume": "data", "peer": "beta", "target_pool": dst, "bwlimit": 4 << 20})
            res = await run_task(a, task["id"])
            assert res["incremental"] and [(x["snapshot"], x["base"]) for x in res["sent"]] == [("z1", None)]

            await write_in(n.da, f"{vol}/more.bin", random_mib=16)
            await write_in(n.da, f"{vol}/notes.txt", b"second\n")
            await snap(a, src, "data", "z2")
            r = await api_call(a, "POST", f"/replication/{task['id']}/run", 202)
            await _cut_link_once_sending(n, r["job_id"], 3 << 20, 6)
            job = await wait_job(a, r["job_id"], 120)
            assert job["state"] == "SUCCESS", job
            res = job["result"]
            assert res["common"] == "z1" and [(x["snapshot"], x["base"]) for x in res["sent"]] == [("z2", "z1")]
            stream = res["sent"][0]["bytes"]
            assert 16 << 20 < stream < 18 << 20, res          # only the changes
            # chunks failed while the link was down, the upload went on from the target's offset
            assert res["sent"][0]["resumed_at"] and res["wire_bytes"] < stream + (8 << 20), res
            got = (await api_call(b, "GET", f"/storage/pools/{dst}/volumes/data"))["path"]
            source_tree = await tree_in(n.da, vol)
            assert len(source_tree) == 3 and await tree_in(n.db, got) == source_tree
            page = await api_call(b, "GET", f"/storage/pools/{dst}/volumes/data/snapshots")
            assert sorted(x["name"] for x in page["items"]) == ["z1", "z2"], page
            assert list((n.da.data_dir / "replication" / "outbox").iterdir()) == []
        finally:
            for s, pool in ((a, src), (b, dst)):
                resp = await s.delete(f"/api/v1/storage/pools/{pool}", params={"confirm": pool})
                assert resp.status in (204, 404), await resp.text()
