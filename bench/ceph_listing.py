"""Listing N CephFS subvolumes through the SigmaVault API vs the raw ``ceph fs subvolume ls``.

    sudo .venv/bin/python bench/ceph_listing.py [--count 1000] [--runs 5]

Bootstraps a throw-away one-node cluster with the plugin's own bootstrap (1 BlueStore OSD on a
sparse file, 1 MDS) in a temporary directory, starts an in-process daemon adopting it, creates a
pool (a CephFS file system) through the API and ``--count`` subvolumes (through one librados
connection of the system Python, as ``fs subvolume create`` manager commands: the CLI would take
~0.3 s each), then times ``GET /api/v1/storage/pools/{pool}/volumes`` against
``ceph fs subvolume ls <fs> --format json``. The API answers with each volume's path, used bytes
and quota (read through the ceph-fuse mount); the raw command gives names only.
Everything is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from jobharness import served_daemon
from sigmavault.commands import run
from sigmavault_ceph.bootstrap import Spec, bootstrap

MAKER = r"""
import json, sys, rados
conf, keyring, fs, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = rados.Rados(conffile=conf, conf={"keyring": keyring})
c.connect()
for i in range(count):
    cmd = {"prefix": "fs subvolume create", "vol_name": fs, "sub_name": f"bench-{i:05d}"}
    ret, out, err = c.mgr_command(json.dumps(cmd), b"")
    if ret:
        sys.exit(f"subvolume {i}: {ret} {err}")
c.shutdown()
"""


async def bench(count: int, runs: int, tmp: Path) -> None:
    t = time.perf_counter()
    cluster = await bootstrap(tmp / "ceph" / "bench", Spec(name="bench", osds=1, mds=1,
                                                           osd_size=4 << 30), supervised=False)
    print(f"bootstrapped a one-node cluster in {time.perf_counter() - t:.1f} s")
    config = {"data_dir": tmp / "data", "storage": {"monitor_interval": 0},
              "ceph": {"conf": str(cluster.conf), "keyring": str(cluster.admin_keyring)}}
    try:
        async with served_daemon(config) as (app, url, key), \
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            base = f"{url}/storage"
            pool = f"bench{uuid.uuid4().hex[:6]}"
            raw_t, api_t = [], []
            async with http.post(f"{base}/pools", json={"name": pool, "backend": "ceph",
                                                        "options": {"size": 1}}) as resp:
                assert resp.status == 201, await resp.text()
            try:
                t = time.perf_counter()
                await run(["/usr/bin/python3", "-c", MAKER, str(cluster.conf),
                           str(cluster.admin_keyring), pool, str(count)], timeout=3600)
                print(f"created {count} subvolumes in {time.perf_counter() - t:.1f} s")
                cli = cluster.cli()
                async with http.get(f"{base}/pools/{pool}/volumes") as resp:  # warm-up (mount)
                    body = await resp.json()
                    assert resp.status == 200 and len(body) == count, (resp.status, len(body))
                for _ in range(runs):
                    t = time.perf_counter()
                    res = await run([*cli.base(), "fs", "subvolume", "ls", pool, "--format",
                                     "json"], timeout=600)
                    raw_t.append(time.perf_counter() - t)
                    assert len(json.loads(res.stdout)) == count
                    t = time.perf_counter()
                    async with http.get(f"{base}/pools/{pool}/volumes") as resp:
                        body = await resp.json()
                    api_t.append(time.perf_counter() - t)
                    assert len(body) == count and all(v["path"] for v in body)
                from sigmavault_ceph.service import CephService
                backend = app.services[CephService].backend
                t = time.perf_counter()
                await backend.volume_list(pool=pool)
                direct = time.perf_counter() - t
                vol_dir = Path(body[0]["path"])
                t = time.perf_counter()
                for v in body:
                    p = Path(v["path"])
                    os.getxattr(p, "ceph.dir.rbytes")
                    try:
                        os.getxattr(p, "ceph.quota.max_bytes")
                    except OSError:
                        pass   # ENODATA: no quota
                xattrs = time.perf_counter() - t
                t = time.perf_counter()
                for v in body:
                    os.listdir(Path(v["path"]).parent)
                dirs = time.perf_counter() - t
                print(f"  backend.volume_list alone: {direct:.3f} s; 2 xattrs x {count}: "
                      f"{xattrs:.3f} s; readdir x {count}: {dirs:.3f} s ({vol_dir.parent.name})")
            finally:
                async with http.delete(f"{base}/pools/{pool}", params={"confirm": pool}) as resp:
                    assert resp.status == 204, await resp.text()
        raw, api = statistics.median(raw_t), statistics.median(api_t)
        print(f"listing {count} subvolumes, median of {runs}")
        print(f"  ceph fs subvolume ls (names)          : {raw:.3f} s")
        print(f"  GET .../volumes (path, used, quota)   : {api:.3f} s  ({api / raw:.2f}x)")
        print(f"RESULT count={count} raw_s={raw:.3f} api_s={api:.3f} ratio={api / raw:.2f}")
    finally:
        await cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="subvolumes to create and list")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="svbench-ceph-") as tmp:
        asyncio.run(bench(args.count, args.runs, Path(tmp)))


if __name__ == "__main__":
    main()
