"""Listing many btrfs snapshots: SigmaVault's API versus the raw ``btrfs subvolume list``.

Starts a real daemon (``sigmavault serve``, a process of its own, as the raw tool is), creates a
btrfs pool on a sparse loop device through its API, a tiny volume, then N read-only snapshots of
it (with ``btrfs subvolume snapshot -r``, the fastest way to make them), and times until the whole
output is received:

  raw: ``btrfs subvolume list <mount>``                       (what an admin would type)
  api: ``GET /api/v1/storage/pools/bench/volumes/tiny/snapshots?limit=N`` (sorted, every field;
       as with the raw call, parsing the output is the consumer's business and is reported
       separately)

API cases, each the best of ``--repeat`` samples, as the raw call is:

  first listing after a start   the daemon is restarted before each sample, so nothing of the
                                directory is kept: the whole root tree is read, and every row is
                                built, validated, sorted and encoded
  repeated, unchanged           the kept listing is still valid (directory stat and a
                                ``min_transid`` search of the root tree) and served as it is
  after an unrelated write+sync a new filesystem generation, the listing itself unchanged
  after a read-only flip        ``btrfs property set <snap> ro false``/``true``: one row changes
  after a snapshot made/gone    ``btrfs subvolume snapshot``/``delete``: the directory changed

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
from typing import Any

import aiohttp

from sigmavault.testing import Daemon

URL = "/api/v1/storage/pools/bench/volumes/tiny/snapshots"
CONFIG = "[storage]\nmonitor_interval = 0\nsmart_interval = 0\ninclude_loop_devices = true\n"


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


class Api:
    """A client session on the daemon; ``restart`` starts the daemon again (a new process)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self.session = self.daemon.session()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def restart(self) -> None:
        await self.close()
        self.daemon.stop()
        self.daemon.start()
        await self.open()
        # the first request of a process (its connection, the API key) is not the listing's
        async with self.session.get("/api/v1/storage/pools/bench/volumes") as resp:
            assert resp.status == 200, await resp.text()

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        async with self.session.request(method, path, **kw) as resp:
            body = await resp.json() if resp.status != 204 else None
            assert resp.status < 300, body
            return body

    async def page(self, total: int) -> tuple[float, float, dict]:
        """(seconds to the whole body, seconds including json.loads, page)"""
        t = time.perf_counter()
        async with self.session.get(URL, params={"limit": str(min(total, 10_000))}) as resp:
            body = await resp.read()
        took = time.perf_counter() - t
        page = json.loads(body)
        parsed = time.perf_counter() - t
        assert resp.status == 200 and page["total"] == total, page.get("error")
        assert len(page["items"]) == min(total, 10_000)
        return took, parsed, page


async def measure(api: Api, mnt: Path, uuid: str, count: int, repeat: int) -> dict[str, list]:
    times: dict[str, list[float]] = {k: [] for k in (
        "raw", "first", "warm", "parsed", "written", "flipped", "remade")}
    for _ in range(repeat):
        await api.restart()
        times["first"].append((await api.page(count))[0])
    for _ in range(repeat):
        t = time.perf_counter()
        out = subprocess.run(["btrfs", "subvolume", "list", str(mnt)], check=True,
                             capture_output=True, text=True).stdout
        times["raw"].append(time.perf_counter() - t)
        assert out.count("\n") >= count
        took, parsed, _ = await api.page(count)
        times["warm"].append(took)
        times["parsed"].append(parsed)

    flip = mnt / ".snapshots" / "tiny" / "snap-00000"
    extra = mnt / ".snapshots" / "tiny" / "extra"
    generation = Path(f"/sys/fs/btrfs/{uuid}/generation")
    for i in range(repeat):
        sh("btrfs", "subvolume", "snapshot", "-r", str(mnt / "tiny"), str(extra))
        times["remade"].append((await api.page(count + 1))[0])
        sh("btrfs", "subvolume", "delete", str(extra))
        times["remade"].append((await api.page(count))[0])
        sh("sync")   # no transaction left open: the write below starts a new one
        gen = generation.read_text()
        (mnt / "tiny" / f"write-{i}.txt").write_text("unrelated " * 100)
        sh("sync")
        assert generation.read_text() != gen
        took, _, page = await api.page(count)
        times["written"].append(took)
        assert not any(s["writable"] for s in page["items"])
        for ro, writable in (("false", 1), ("true", 0)):
            sh("btrfs", "property", "set", str(flip), "ro", ro)
            took, _, page = await api.page(count)
            times["flipped"].append(took)
            assert sum(s["writable"] for s in page["items"]) == writable
    return times


def report(times: dict[str, list[float]], count: int, repeat: int) -> None:
    raw = min(times["raw"])

    def line(label: str, samples: list[float], note: str) -> None:
        best = min(samples)
        print(f"{label:<38}: {best * 1000:8.1f} ms  {best / raw:5.2f}x raw  (best of "
              f"{len(samples)}; worst {max(samples) * 1000:.1f} ms) {note}")

    print(f"snapshots: {count}  (target: api <= 1.30x raw)")
    print(f"{'raw  btrfs subvolume list':<38}: {raw * 1000:8.1f} ms  (best of {repeat})")
    line("api  first listing after a start", times["first"], "(reads, validates, sorts, encodes)")
    line("api  repeated, unchanged", times["warm"], "")
    line("api  after an unrelated write+sync", times["written"], "")
    line("api  after a read-only flip", times["flipped"], "")
    line("api  after a snapshot made/gone", times["remade"], "")
    print(f"{'api  repeated + client json.loads':<38}: {min(times['parsed']) * 1000:8.1f} ms")


async def main(count: int, repeat: int, size: str) -> int:
    if os.geteuid() != 0:
        print("run as root (loop devices, btrfs)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="sv-bench-snap-"))
    image = work / "disk.img"
    sh("truncate", "-s", size, str(image))
    loop = sh("losetup", "-f", "--show", str(image)).strip()
    daemon = Daemon(work / "data", CONFIG)
    api = Api(daemon)
    try:
        daemon.start()
        await api.open()
        created = await api.call("POST", "/api/v1/storage/pools", json={
            "name": "bench", "backend": "btrfs", "topology": {"layout": "single"},
            "devices": [loop]})
        mnt, uuid = Path(created["mountpoint"]), created["properties"]["uuid"]
        try:
            await api.call("POST", "/api/v1/storage/pools/bench/volumes", json={"name": "tiny"})
            (mnt / "tiny" / "hello.txt").write_text("hello")
            await create_snapshots(mnt / "tiny", mnt / ".snapshots" / "tiny", count)
            sh("sync")
            report(await measure(api, mnt, uuid, count, repeat), count, repeat)
        finally:
            await api.call("DELETE", "/api/v1/storage/pools/bench", params={"confirm": "bench"})
    finally:
        await api.close()
        daemon.stop()
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
