#!/usr/bin/env python3
"""SigmaVault compression job vs the ``zstd`` CLI on the same semi-compressible file.

Generates a file (default 512 MiB) that is part log-like text, part random bytes, compresses it
with ``zstd -L -T<threads>`` and with a real SigmaVault compression job (a daemon app with the
compression plugin, the job submitted through the plugin's service exactly as
``POST /api/v1/compression/jobs`` does, in a child process so its peak RSS is the job's own), and
prints throughput ratio (target >= 0.95) and the job process's peak RSS (target <= 100 MB).

    .venv/bin/python bench/compression_vs_zstd.py --size 64     # quick
    .venv/bin/python bench/compression_vs_zstd.py               # 512 MiB, as the issue asks
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20


def generate(path: Path, size_mib: int, seed: int = 42) -> None:
    """Semi-compressible data: 64 KiB pieces of log-like text (75%) or random bytes (25%)."""
    rnd = random.Random(seed)
    words = ["pool", "volume", "snapshot", "scrub", "ok", "error", "disk", "sigma", "vault",
             "replicate", "latency", "bytes", "user", "GET", "POST", "/api/v1/storage/pools"]
    lines = []
    size = 0
    while size < 8 * MIB:  # an 8 MiB corpus, larger than zstd's window at the default level
        line = (f"2026-11-{rnd.randint(1, 30):02d}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}"
                f":{rnd.randint(0, 59):02d}Z host{rnd.randint(1, 64)} "
                f"{' '.join(rnd.choices(words, k=rnd.randint(4, 14)))} id={rnd.getrandbits(40):x}\n")
        lines.append(line)
        size += len(line)
    corpus = "".join(lines).encode()
    piece = 64 * 1024
    with open(path, "wb") as f:
        for _ in range(size_mib * MIB // piece):
            if rnd.random() < 0.25:
                f.write(rnd.randbytes(piece))
            else:
                start = rnd.randrange(0, len(corpus) - piece)
                f.write(corpus[start:start + piece])


async def child(source: Path, target: Path, level: int, threads: int) -> None:
    """Run one SigmaVault compression job in this process; print timings and peak RSS as JSON."""
    from jobharness import measure_job, plugin_daemon
    from sigmavault_compression.models import JobRequest
    from sigmavault_compression.service import CompressionService

    roots = {"compression": {"allowed_roots": [str(source.parent), str(target.parent)]}}
    async with plugin_daemon("sigmavault-compression", roots) as app:
        svc = app.services[CompressionService]

        async def submit() -> str:
            plan = await svc.plan(JobRequest(operation="compress", source=str(source),
                                             target=str(target), codec="zstd", level=level,
                                             threads=threads, overwrite=True))
            return svc.submit(plan).id

        figures = await measure_job(app, submit)
    result = figures.pop("result")
    print(json.dumps({**figures, "engine_seconds": result["seconds"],
                      "compressed": result["compressed"], "ratio_text": result["ratio_text"]}))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="MiB of input (default 512)")
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side, interleaved; "
                        "the best of each counts (the machine is shared, timings are noisy)")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--child", nargs=4, metavar=("SRC", "DST", "LEVEL", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        src, dst, level, threads = args.child
        await child(Path(src), Path(dst), int(level), int(threads))
        return

    from sigmavault.commands import run

    work = Path(tempfile.mkdtemp(prefix="svbench-", dir=args.dir))
    try:
        source = work / "input.bin"
        started = time.monotonic()
        generate(source, args.size)
        size = source.stat().st_size
        print(f"input: {size / MIB:.0f} MiB semi-compressible, generated in "
              f"{time.monotonic() - started:.1f} s; zstd level {args.level}, {args.threads} threads")
        with open(source, "rb") as f:  # warm the page cache for both sides alike
            while f.read(8 * MIB):
                pass
        cli_times, cli_durable, cli_cpu, job_runs = [], [], [], []
        for _ in range(args.rounds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            await run(["zstd", f"-{args.level}", f"-T{args.threads}", "-q", "-f", "-o",
                       str(work / "cli.zst"), str(source)], timeout=3600)
            cli_times.append(time.monotonic() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cli_cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            fd = os.open(work / "cli.zst", os.O_RDONLY)
            try:
                os.fsync(fd)  # the job's archive is fsync'd before its rename: compare like for like
            finally:
                os.close(fd)
            cli_durable.append(time.monotonic() - started)
            out = await run([sys.executable, __file__, "--child", str(source),
                             str(work / "job.zst"), str(args.level), str(args.threads)],
                            timeout=3600)
            job_runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        await run(["zstd", "-q", "-t", str(work / "job.zst")], timeout=3600)  # the CLI reads it
        cli, durable = min(cli_times), min(cli_durable)
        job = min(job_runs, key=lambda r: r["seconds"])
        peak = max(r["peak_rss_mb"] for r in job_runs)
        cli_size = (work / "cli.zst").stat().st_size
        print(f"zstd CLI      : {cli:6.2f} s  {size / cli / 1e6:8.1f} MB/s  "
              f"ratio {size / cli_size:.2f}x  (output not fsync'd)")
        print(f"zstd CLI+fsync: {durable:6.2f} s  {size / durable / 1e6:8.1f} MB/s")
        print(f"SigmaVault job: {job['seconds']:6.2f} s  {size / job['seconds'] / 1e6:8.1f} MB/s  "
              f"ratio {job['ratio_text']}  (engine {job['engine_seconds']:.2f} s)")
        ratio = durable / job["seconds"]
        print(f"throughput ratio job/(CLI+fsync): {ratio:.3f}  (target >= 0.95) "
              f"{'PASS' if ratio >= 0.95 else 'FAIL'}")
        print(f"throughput ratio job/CLI without its fsync: {cli / job['seconds']:.3f}")
        job_cpu = min(r["cpu"] for r in job_runs)
        print(f"CPU seconds (user+sys, best run): CLI {min(cli_cpu):.2f} s, job {job_cpu:.2f} s; "
              f"CPU efficiency ratio CLI/job {min(cli_cpu) / job_cpu:.3f} (independent of other "
              f"load on the machine; wall-clock ratios are not)")
        print(f"job process peak RSS during the job: {peak:.1f} MB (RSS before the job "
              f"{job['baseline_rss_mb']:.1f} MB; daemon start-up peak {job['startup_peak_mb']:.1f} MB "
              f"from the first-run argon2 hash, reset before the job)  (target <= 100 MB) "
              f"{'PASS' if peak <= 100 else 'FAIL'}")
        print(f"peak RSS ratio to budget: {peak / 100:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
