"""Listing many btrfs snapshots: SigmaVault's API versus the raw ``btrfs subvolume list``.

Creates a btrfs pool on a sparse loop device through the API, a tiny volume, then N read-only
snapshots of it (with ``btrfs subvolume snapshot -r``, the fastest way to make them), and times:

  raw: ``btrfs subvolume list <mount>``                       (what an admin would type)
  api: ``GET /api/v1/storage/pools/bench/volumes/tiny/snapshots?limit=N`` until the whole JSON
       body is received (sorted, every field); as with the raw call, parsing the output is the
       consumer's business and is reported separately, as is the first (uncached) call.

Best of ``--repeat`` runs each; prints both and the ratio (target: api <= 1.3 x raw), and the
uncached ("cold") API: the first call, the call after an unrelated write (a file written in the
volume + ``sync``: a new filesystem generation, the listing itself unchanged), the call after a
snapshot's read-only flag was flipped (``btrfs property set <snap> ro false``/``true``: the
listing changed, so it is validated, sorted and encoded again) and the call after a snapshot was
made or deleted with btrfs-progs (the snapshot directory is read again as well).
Run as root:  .venv/bin/python bench/storage_snapshots.py [--count 10000] [--repeat 5]
Small run:    .venv/bin/python bench/storage_snapshots.py --count 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from sigmavault.app import SigmaVault
from sigmavault.cli import settle_heap
from sigmavault.config import Config


def sh(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


async def create_snapshots(src: Path, parent: Path, count: int, jobs: int = 8) -> None:
    parent.mkdir(parents=True, exist_ok=True)
    sem = asyncio.Semaphore(jobs)

    async def one(i: int) -> None:
        async with sem:
            proc = await asyncio.create_subprocess_exec(
                "btrfs", "subvolume", "snapshot", "-r", str(src), str(parent / f"snap-{i:05d}"),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode:
                raise RuntimeError(err.decode())

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    print(f"created {count} snapshots in {time.monotonic() - started:.1f} s", file=sys.stderr)


def best(samples: list[float]) -> float:
    return min(samples)


async def main(count: int, repeat: int, size: str) -> int:
    if os.geteuid() != 0:
        print("run as root (loop devices, btrfs)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="sv-bench-snap-"))
    image = work / "disk.img"
    sh("truncate", "-s", size, str(image))
    loop = sh("losetup", "-f", "--show", str(image)).strip()
    try:
        config = Config.model_validate({
            "data_dir": work / "data",
            "storage": {"monitor_interval": 0, "smart_interval": 0, "include_loop_devices": True}})
        app = await SigmaVault.create(config)
        app.auth.create_user("bench", "bench-password-123", "admin")
        key, _ = app.auth.create_key("bench", "bench")
        server = TestServer(app.web, host="127.0.0.1")
        client = TestClient(server, headers={"Authorization": f"Bearer {key}"})
        await client.start_server()
        settle_heap()   # as `sigmavault serve` does once started
        try:
            resp = await client.post("/api/v1/storage/pools", json={
                "name": "bench", "backend": "btrfs", "topology": {"layout": "single"},
                "devices": [loop]})
            assert resp.status == 201, await resp.text()
            created = await resp.json()
            mnt, uuid = Path(created["mountpoint"]), created["properties"]["uuid"]
            resp = await client.post("/api/v1/storage/pools/bench/volumes", json={"name": "tiny"})
            assert resp.status == 201, await resp.text()
            (mnt / "tiny" / "hello.txt").write_text("hello")
            await create_snapshots(mnt / "tiny", mnt / ".snapshots" / "tiny", count)
            sh("sync")

            raw_times, api_times, parse_times = [], [], []
            url = "/api/v1/storage/pools/bench/volumes/tiny/snapshots"

            async def get_page(total: int = count) -> tuple[float, dict]:
                t = time.perf_counter()
                resp = await client.get(url, params={"limit": str(min(total, 10_000))})
                body = await resp.read()
                took = time.perf_counter() - t
                page = json.loads(body)
                assert resp.status == 200 and page["total"] == total, page.get("error")
                assert len(page["items"]) == min(total, 10_000)
                return took, page

            cold, _ = await get_page()
            for _ in range(repeat):
                t = time.perf_counter()
                out = subprocess.run(["btrfs", "subvolume", "list", str(mnt)], check=True,
                                     capture_output=True, text=True).stdout
                raw_times.append(time.perf_counter() - t)
                assert out.count("\n") >= count

                t = time.perf_counter()
                resp = await client.get(url, params={"limit": str(count)})
                body = await resp.read()
                api_times.append(time.perf_counter() - t)
                page = json.loads(body)
                parse_times.append(time.perf_counter() - t)
                assert resp.status == 200 and page["total"] == count, page.get("error")
                assert len(page["items"]) == count

            written, flipped, remade = [], [], []
            flip = mnt / ".snapshots" / "tiny" / "snap-00000"
            extra = mnt / ".snapshots" / "tiny" / "extra"
            for i in range(repeat):
                sh("btrfs", "subvolume", "snapshot", "-r", str(mnt / "tiny"), str(extra))
                took, page = await get_page(count + 1)
                remade.append(took)
                sh("btrfs", "subvolume", "delete", str(extra))
                took, page = await get_page()
                remade.append(took)
                sh("sync")   # no transaction left open: the write below starts a new one
                gen = Path(f"/sys/fs/btrfs/{uuid}/generation").read_text()
                (mnt / "tiny" / f"write-{i}.txt").write_text("unrelated " * 100)
                sh("sync")
                assert Path(f"/sys/fs/btrfs/{uuid}/generation").read_text() != gen
                took, page = await get_page()
                written.append(took)
                assert not any(s["writable"] for s in page["items"])
                for ro, writable in (("false", 1), ("true", 0)):
                    sh("btrfs", "property", "set", str(flip), "ro", ro)
                    took, page = await get_page()
                    flipped.append(took)
                    assert sum(s["writable"] for s in page["items"]) == writable
            raw, api = best(raw_times), best(api_times)

            def line(label: str, value: float, note: str) -> None:
                print(f"{label:<38}: {value * 1000:8.1f} ms  {value / raw:5.2f}x raw  {note}")

            print(f"snapshots: {count}  (target: api <= 1.30x raw)")
            print(f"{'raw  btrfs subvolume list':<38}: {raw * 1000:8.1f} ms  (best of {repeat})")
            line("api  warm (cached)", api, f"(best of {repeat})")
            line("api  cold: first call", cold, "(lists, validates, sorts, encodes)")
            line("api  after an unrelated write+sync", best(written),
                 f"(best of {repeat}; worst {max(written) * 1000:.1f} ms)")
            line("api  cold after a ro flip", best(flipped),
                 f"(best of {len(flipped)}; worst {max(flipped) * 1000:.1f} ms)")
            line("api  cold after a snapshot made/gone", best(remade),
                 f"(best of {len(remade)}; worst {max(remade) * 1000:.1f} ms)")
            print(f"{'api + client json.loads':<38}: {best(parse_times) * 1000:8.1f} ms")
        finally:
            resp = await client.delete("/api/v1/storage/pools/bench", params={"confirm": "bench"})
            await client.close()
    finally:
        subprocess.run(["umount", str(work / "data" / "btrfs" / "bench")], capture_output=True)
        subprocess.run(["losetup", "-d", loop], capture_output=True)
        subprocess.run(["rm", "-rf", str(work)], capture_output=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", default="2G", help="sparse device size")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.count, args.repeat, args.size)))
