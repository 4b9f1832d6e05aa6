"""Listing N snapshots through the SigmaVault API vs the raw ``zfs list -t snapshot``.

    sudo .venv/bin/python bench/zfs_snapshots.py [--count 10000] [--runs 5]

Builds a throw-away pool on a sparse file (zfs-fuse accepts file vdevs; the daemon is started
if nothing answers and stopped again afterwards), one volume with ``--count`` snapshots, then
times ``GET /api/v1/storage/pools/{pool}/volumes/{volume}/snapshots?limit=N`` on an in-process
daemon against ``zfs list -t snapshot``: once right after a write to the pool (the service's
cached listing is invalid, so zfs really lists — the number the target is about) and once more
with nothing changed (served from the service's cache behind ``snapshot_list_token``).
Target (issue 7): API ≤ 1.3x raw. The pool is destroyed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from sigmavault.app import SigmaVault
from sigmavault.commands import run
from sigmavault.config import Config
from sigmavault.testing import free_port
from sigmavault_zfs import daemon


async def make_snapshots(dataset: str, count: int, workers: int = 4) -> float:
    started = time.perf_counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await run(["zfs", "snapshot", f"{dataset}@bench-{i:06d}"], timeout=60)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started


async def bench(count: int, runs: int, tmp: Path) -> None:
    handle = await daemon.ensure_running(str(tmp / "zfs-fuse.pid"))
    pool = f"svbench{uuid.uuid4().hex[:6]}"
    vdev = tmp / "bench.vdev"
    with open(vdev, "wb") as f:
        f.truncate(512 << 20)
    await run(["zpool", "create", "-m", str(tmp / "mnt" / pool), pool, str(vdev)], timeout=120)
    try:
        await run(["zfs", "create", f"{pool}/vol"])
        made = await make_snapshots(f"{pool}/vol", count)
        print(f"created {count} snapshots in {made:.1f} s")

        app = await SigmaVault.create(Config.model_validate({
            "data_dir": tmp / "data", "storage": {"monitor_interval": 0}}))
        app.auth.create_user("bench", "bench-password-123", "admin")
        key, _ = app.auth.create_key("bench", "bench")
        runner = web.AppRunner(app.web)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = (f"http://127.0.0.1:{port}/api/v1/storage/pools/{pool}/volumes/vol/snapshots"
               f"?limit={max(count, 1)}")
        await run(["zfs", "create", f"{pool}/scratch"])
        raw_t, api_t, warm_t = [], [], []
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
                async with http.get(url) as resp:  # warm-up (adopts the pool, detects the CLI)
                    body = await resp.json()
                    assert resp.status == 200, body
                    assert body["total"] == count, body.get("total")
                for i in range(runs):
                    t = time.perf_counter()
                    res = await run(["zfs", "list", "-t", "snapshot"], timeout=600)
                    raw_t.append(time.perf_counter() - t)
                    assert res.stdout.count("\n") >= count
                    # write to the pool (untimed) so the service's cached listing is invalid:
                    # the next GET really lists the 10,000 snapshots with zfs
                    await run(["zfs", "snapshot", f"{pool}/scratch@cold-{i}"])
                    t = time.perf_counter()
                    async with http.get(url) as resp:
                        body = await resp.json()
                    api_t.append(time.perf_counter() - t)
                    assert len(body["items"]) == count
                    t = time.perf_counter()   # nothing changed since: served from the cache
                    async with http.get(url) as resp:
                        body = await resp.json()
                    warm_t.append(time.perf_counter() - t)
                    assert len(body["items"]) == count
        finally:
            await runner.cleanup()
        raw, api, warm = (statistics.median(x) for x in (raw_t, api_t, warm_t))
        print(f"listing {count} snapshots, median of {runs}")
        print(f"  zfs list -t snapshot            : {raw:.3f} s")
        print(f"  GET .../snapshots, pool changed : {api:.3f} s  ({api / raw:.2f}x; target <= 1.3x: "
              f"{'ok' if api / raw <= 1.3 else 'MISSED'})")
        print(f"  GET .../snapshots, unchanged    : {warm:.3f} s  ({warm / raw:.3f}x, service cache)")
        print(f"RESULT count={count} raw_s={raw:.3f} api_cold_s={api:.3f} ratio={api / raw:.2f} "
              f"api_cached_s={warm:.3f} cached_ratio={warm / raw:.3f}")
    finally:
        for attempt in range(10):
            if (await run(["zpool", "destroy", "-f", pool], check=False, timeout=300)).ok:
                break
            await asyncio.sleep(0.5 * (attempt + 1))
        await daemon.stop(handle)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000, help="snapshots to create and list")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="svbench-") as tmp:
        asyncio.run(bench(args.count, args.runs, Path(tmp)))


if __name__ == "__main__":
    main()
