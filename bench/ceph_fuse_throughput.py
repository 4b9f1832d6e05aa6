"""A file written and read through SigmaVault's CephFS mount vs a plain ``ceph-fuse`` mount of
the same file system.

    sudo .venv/bin/python bench/ceph_fuse_throughput.py [--size 1024] [--rounds 2]

Bootstraps a throw-away one-node cluster with the plugin's own bootstrap (1 BlueStore OSD on a
sparse file, 1 MDS), starts an in-process daemon adopting it, creates a pool (a CephFS file
system, one replica) and a volume through the API, and mounts the same file system a second
time by hand (``ceph-fuse --client_fs <fs> <dir>``, the command a user would type). A file of
random bytes on ``/dev/shm`` is copied with ``dd bs=4M conv=fsync`` into the volume (SigmaVault's
mount) and into a folder of the plain mount, then each is read back to ``/dev/null`` after the
page cache is dropped. The two take turns going first; the best of ``--rounds`` is compared. A
ratio is our throughput divided by the plain mount's (>= 0.95 is the target). Everything is
stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from jobharness import served_daemon
from sigmavault.commands import Process, run, start_process
from sigmavault_ceph.bootstrap import Spec, bootstrap

TARGET = 0.95


async def timed_dd(src: Path, dst: Path, sync: bool) -> float:
    await run(["sync"])
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    argv = ["dd", f"if={src}", f"of={dst}", "bs=4M"] + (["conv=fsync"] if sync else [])
    t = time.perf_counter()
    await run(argv, timeout=1800, check=True)
    return time.perf_counter() - t


async def bench(size_mib: int, rounds: int, tmp: Path) -> int:
    t = time.perf_counter()
    cluster = await bootstrap(tmp / "ceph" / "bench", Spec(name="bench", osds=1, mds=1,
                                                           osd_size=(2 * size_mib + 4096) << 20),
                              supervised=False)
    print(f"bootstrapped a one-node cluster in {time.perf_counter() - t:.1f} s")
    plain: Process | None = None
    plain_dir = tmp / "plain"
    source = Path(tempfile.mkstemp(prefix="svbench-ceph-", dir="/dev/shm")[1])
    try:
        with open(source, "wb") as f:
            for _ in range(size_mib):
                f.write(os.urandom(1 << 20))
        config = {"data_dir": tmp / "data", "storage": {"monitor_interval": 0},
                  "ceph": {"conf": str(cluster.conf), "keyring": str(cluster.admin_keyring)}}
        async with served_daemon(config) as (_, url, key), \
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            base = f"{url}/storage"
            pool = f"bench{uuid.uuid4().hex[:6]}"
            async with http.post(f"{base}/pools", json={"name": pool, "backend": "ceph",
                                                        "options": {"size": 1}}) as resp:
                assert resp.status == 201, await resp.text()
            try:
                async with http.post(f"{base}/pools/{pool}/volumes",
                                     json={"name": "media"}) as resp:
                    assert resp.status == 201, await resp.text()
                async with http.get(f"{base}/pools/{pool}/volumes/media") as resp:
                    ours = Path((await resp.json())["path"])
                plain_dir.mkdir()
                plain = start_process([*cluster.cli().base("ceph-fuse"), "-f",
                                       "--client_fs", pool, str(plain_dir)])
                for _ in range(200):
                    if os.path.ismount(plain_dir):
                        break
                    await asyncio.sleep(0.1)
                assert os.path.ismount(plain_dir), "the plain ceph-fuse mount did not appear"
                theirs = plain_dir / "plain-folder"
                theirs.mkdir()
                best = {(who, op): 1e9 for who in ("ours", "plain") for op in ("write", "read")}
                for rnd in range(rounds):
                    order = [("ours", ours), ("plain", theirs)]
                    for who, folder in order if rnd % 2 == 0 else order[::-1]:
                        target = folder / "big.bin"
                        best[who, "write"] = min(best[who, "write"],
                                                 await timed_dd(source, target, sync=True))
                        best[who, "read"] = min(best[who, "read"],
                                                await timed_dd(target, Path("/dev/null"),
                                                               sync=False))
                        target.unlink()
                mib = float(size_mib)
                print(f"{size_mib} MiB, best of {rounds}          seconds     MiB/s")
                for (who, op), sec in sorted(best.items()):
                    label = "sigmavault volume" if who == "ours" else "plain ceph-fuse"
                    print(f"  {label:18} {op:5}      {sec:8.3f}  {mib / sec:8.1f}")
                ratios = {op: best["plain", op] / best["ours", op] for op in ("write", "read")}
                for op, ratio in ratios.items():
                    print(f"{op}: sigmavault {ratio:.3f}x the plain ceph-fuse mount")
                ok = all(r >= TARGET for r in ratios.values())
                print(f"RESULT size_mib={size_mib} write_ratio={ratios['write']:.3f} "
                      f"read_ratio={ratios['read']:.3f} ok={int(ok)}")
                return 0 if ok else 1
            finally:
                if plain is not None:
                    await run(["fusermount", "-u", str(plain_dir)], check=False)
                    await plain.stop()
                async with http.delete(f"{base}/pools/{pool}", params={"confirm": pool}) as resp:
                    assert resp.status == 204, await resp.text()
    finally:
        source.unlink(missing_ok=True)
        await cluster.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024, help="file size in MiB")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="svbench-ceph-") as tmp:
        return asyncio.run(bench(args.size, args.rounds, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
