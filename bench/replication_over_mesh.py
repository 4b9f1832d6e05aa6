"""Replication benchmark: an incremental btrfs snapshot replicated by SigmaVault over PhantomMesh
against `btrfs send -p | <tcp relay> | btrfs receive` over the same WireGuard link.

Two `sigmavault serve` daemons, each in its own network namespace (netns_harness), joined by an
invite; a btrfs pool on a loop device on each. A small base snapshot is replicated first (not
timed), then SIZE MiB of random data are written and snapshotted, and

  * ours: a replication run (POST /replication/{task}/run → job) — btrfs send into a spool file,
    uploaded in signed chunks through the tunnel while it is being written (SHA-256 on both sides
    on the way), then checked and received with btrfs receive on the target — timed from the
    request to the job's end (the job's own `seconds` is printed too);
  * baseline: `btrfs send -p base snap` piped into a plain TCP connection from namespace A to
    beta's mesh address (a Python relay standing in for nc/socat, which are not installed here),
    piped into `btrfs receive` on beta: what a person would script with nc over the same tunnel.

Both run inside the daemons' mount namespaces (nsenter), where their pools are mounted. Prints
both times, throughput and the ratio baseline/ours (1.0 = as fast). Root; removes everything.

    .venv/bin/python bench/replication_over_mesh.py [--size 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from sigmavault.commands import run
from sigmavault.testing import Daemon, api_call, wait_job
from sigmavault_phantommesh.netns_harness import forward, namespace_pair, node_config, socket_in

MESH = "10.231.150.0/24"
EXTRA = ("[storage]\nsmart_interval = 0\nmonitor_interval = 0\ninclude_loop_devices = true\n"
         "[replication]\ntick = 0\n")


def nsenter(d: Daemon, *argv: str) -> list[str]:
    assert d.proc is not None
    return ["nsenter", "-t", str(d.proc.pid), "-m", *argv]


def baseline(da: Daemon, db: Daemon, ns_a: str, ns_b: str, addr_b: str, base: str, snap: str,
             dest: str) -> float:
    """btrfs send -p | TCP over the tunnel | btrfs receive; seconds."""
    import socket
    lsock = socket_in(ns_b)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((addr_b, 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    recv = subprocess.Popen(nsenter(db, "btrfs", "receive", dest), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    errors: list[BaseException] = []

    def receiver() -> None:
        try:
            conn, _ = lsock.accept()
            with conn:
                assert recv.stdin is not None
                while data := conn.recv(1 << 20):
                    recv.stdin.write(data)
                recv.stdin.close()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    t = threading.Thread(target=receiver)
    t.start()
    started = time.monotonic()
    send = subprocess.Popen(nsenter(da, "btrfs", "send", "-q", "-p", base, snap), stdout=subprocess.PIPE)
    csock = socket_in(ns_a)
    csock.connect((addr_b, port))
    assert send.stdout is not None
    while data := send.stdout.read(1 << 20):
        csock.sendall(data)
    csock.close()
    assert send.wait() == 0
    t.join()
    assert recv.wait() == 0 and not errors, errors
    took = time.monotonic() - started
    lsock.close()
    return took


async def main(size_mib: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sv-repl-bench-"))
    loops: list[str] = []
    daemons: list[Daemon] = []
    try:
        for i in range(2):
            img = tmp / f"node{i}.img"
            with open(img, "wb") as f:
                f.truncate((size_mib * 3 + 1024) << 20)
            loops.append((await run(["losetup", "-f", "--show", str(img)])).stdout.strip())
        async with namespace_pair("10.231.51") as pair:
            tag = pair.a.ns[-6:]
            for name, node, ifname in (("alpha", pair.a, f"rba{tag}"), ("beta", pair.b, f"rbb{tag}")):
                d = Daemon(tmp / name, host="0.0.0.0", netns=node.ns)
                d.config_path.write_text(node_config(node, name, ifname, d.port, MESH, extra=EXTRA))
                await asyncio.to_thread(d.start, 60)
                daemons.append(d)
            da, db = daemons
            async with forward(pair.a.ns, da.port) as url_a, forward(pair.b.ns, db.port) as url_b, \
                    aiohttp.ClientSession(url_a, headers={"Authorization": f"Bearer {da.admin_key}"}) as a, \
                    aiohttp.ClientSession(url_b, headers={"Authorization": f"Bearer {db.admin_key}"}) as b:
                invite = await api_call(a, "POST", "/network/phantommesh/invites", 201, json={"name": "beta"})
                await api_call(b, "POST", "/network/phantommesh/join", 201, json={"invite": invite["invite"]})
                for s in (a, b):
                    while not ((st := await api_call(s, "GET", "/network/phantommesh"))["peers"]
                               and st["peers"][0]["up"]):
                        await asyncio.sleep(0.5)
                addr_b = (await api_call(b, "GET", "/network/phantommesh"))["address"].split("/")[0]
                for s, pool, dev in ((a, "bsrc", loops[0]), (b, "bdst", loops[1])):
                    await api_call(s, "POST", "/storage/pools", 201, json={
                        "name": pool, "backend": "btrfs", "topology": {"layout": "single"}, "devices": [dev]})
                await api_call(b, "POST", "/replication/targets", 201, json={"peer": "alpha", "pool": "bdst"})
                await api_call(a, "POST", "/storage/pools/bsrc/volumes", 201, json={"name": "data"})
                vol = (await api_call(a, "GET", "/storage/pools/bsrc/volumes/data"))["path"]
                await run(nsenter(da, "dd", "if=/dev/urandom", f"of={vol}/base.bin", "bs=1M", "count=8",
                                  "status=none"))
                await api_call(a, "POST", "/storage/pools/bsrc/volumes/data/snapshots", 201, json={"name": "base"})
                task = await api_call(a, "POST", "/replication", 201, json={
                    "pool": "bsrc", "volume": "data", "peer": "beta", "target_pool": "bdst"})
                r = await api_call(a, "POST", f"/replication/{task['id']}/run", 202)
                assert (await wait_job(a, r["job_id"], 300))["state"] == "SUCCESS"
                # the baseline needs the base on beta too, in its own directory (not timed)
                dst_mnt = (await api_call(b, "GET", "/storage/pools/bdst"))
                mnt = dst_mnt.get("mountpoint") or dst_mnt["properties"]["mountpoint"]
                dest = f"{mnt}/bench-baseline"
                await run(nsenter(db, "mkdir", "-p", dest))
                base_path = (await api_call(a, "GET", "/storage/pools/bsrc/volumes/data/snapshots/base"))["path"]
                send = subprocess.Popen(nsenter(da, "btrfs", "send", "-q", base_path), stdout=subprocess.PIPE)
                subprocess.run(nsenter(db, "btrfs", "receive", "-q", dest), stdin=send.stdout, check=True)
                send.wait()

                await run(nsenter(da, "dd", "if=/dev/urandom", f"of={vol}/new.bin", "bs=1M",
                                  f"count={size_mib}", "status=none"), timeout=600)
                await run(nsenter(da, "sync"))
                await api_call(a, "POST", "/storage/pools/bsrc/volumes/data/snapshots", 201, json={"name": "inc"})
                inc_path = (await api_call(a, "GET", "/storage/pools/bsrc/volumes/data/snapshots/inc"))["path"]

                started = time.monotonic()
                r = await api_call(a, "POST", f"/replication/{task['id']}/run", 202)
                job = await wait_job(a, r["job_id"], 3600)
                ours = time.monotonic() - started
                assert job["state"] == "SUCCESS", job
                sent = job["result"]["sent"]
                assert [(x["snapshot"], x["base"]) for x in sent] == [("inc", "base")], sent
                stream = sent[0]["bytes"]
                await run(nsenter(db, "sync"))
                base_s = await asyncio.to_thread(baseline, da, db, pair.a.ns, pair.b.ns, addr_b,
                                                 base_path, inc_path, dest)
                mib = stream / (1 << 20)
                print(f"incremental stream: {mib:.0f} MiB over PhantomMesh (wireguard-go, userspace)")
                print(f"  SigmaVault replication run : {ours:7.2f} s  {mib / ours:7.1f} MiB/s "
                      f"(job's own time {job['result']['seconds']:.2f} s: stream on alpha's disk after "
                      f"{sent[0]['prepare_s']} s, transfer {sent[0]['transfer_s']} s (overlapping), of it "
                      f"checked and applied on beta {sent[0]['apply_s']} s)")
                print(f"  btrfs send | tcp | receive : {base_s:7.2f} s  {mib / base_s:7.1f} MiB/s")
                print(f"  ratio (baseline / ours)    : {base_s / ours:.2f}x")
                print(f"RESULT mib={mib:.0f} ours_s={ours:.2f} baseline_s={base_s:.2f} ratio={base_s / ours:.2f} "
                      f"prepare_s={sent[0]['prepare_s']} transfer_s={sent[0]['transfer_s']} "
                      f"apply_s={sent[0]['apply_s']}")
                for s, pool in ((a, "bsrc"), (b, "bdst")):
                    await s.delete(f"/api/v1/storage/pools/{pool}", params={"confirm": pool})
            for d in daemons:
                await asyncio.to_thread(d.stop)
        return 0
    finally:
        for d in daemons:
            with contextlib.suppress(Exception):
                d.kill()
        for dev in loops:
            await run(["losetup", "-d", dev], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024, help="MiB written between the snapshots")
    sys.exit(asyncio.run(main(ap.parse_args().size)))
