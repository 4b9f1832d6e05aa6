#!/usr/bin/env python3
"""The on-disk metrics history (issue 24) against its budget and against rrdtool (collectd's store).

Budget: at most 1 % of a core and 50 MB of disk a year for a default node.

1. Disk: a year (``--days``) of a default node — CPU, memory, swap, load, ``--nics`` interfaces,
   ``--disks`` disks, ``--pools`` pools, ``--temps`` sensors; 35 series by default — goes through
   the store's own code (``add``/``take``/``write``, rollups, pruning once a simulated hour) at
   accelerated time, one sample per 10 s bucket (``synchronous=OFF`` while simulating: no fsync,
   the same bytes), and ``metrics.db`` (+ WAL) is measured at the end.
   rrdtool gets the same series as one RRD per series with the same tiers (AVERAGE, MIN and MAX
   RRAs of 10 s × 1 day, 5 min × 30 days, 1 h × 2 years); an RRD is preallocated, so its size is
   the same from the first day.
2. CPU: a real ``Sampler`` at its default 1 s interval with the store attached for ``--seconds``;
   the store's share (accounting each sample, writing each closed 10 s bucket with its rollups) is
   timed with ``time.process_time()`` and shown as % of one core, next to the sampler's own cost.
   rrdtool's CPU is that of ``rrdtool -`` (one process fed through a pipe, as collectd's
   in-process librrd) updating every series once per 10 s step, from its rusage.

    .venv/bin/python bench/metrics_history.py                 # a year, 60 s of real sampling
    .venv/bin/python bench/metrics_history.py --days 40 --seconds 20   # quick: extrapolated year

The last line is ``RESULT key=value …`` for bench/run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sigmavault_system.sampler import Sampler
from sigmavault_system.store import DEFAULT_TIERS, MetricsStore, flatten, pool_values

DISK_BUDGET_MB = 50.0
CPU_BUDGET_PCT = 1.0
DAY = 86400
RANGES = [("1h", 3600, 10), ("24h", DAY, 300), ("7d", 7 * DAY, 1800), ("30d", 30 * DAY, 7200),
          ("1y", 365 * DAY, DAY)]


def node_sample(rng: random.Random, nics: int, disks: int, temps: int) -> dict:
    """One /system/metrics-like sample of the default node, with realistic non-integral values."""
    u = lambda a, b: round(rng.uniform(a, b), 2)
    return {
        "cpu": {"percent": u(0, 100), "user": u(0, 60), "system": u(0, 30), "iowait": u(0, 10)},
        "memory": {"used": rng.randrange(1 << 30, 8 << 30), "cached": rng.randrange(1 << 30, 4 << 30),
                   "percent": u(10, 90)},
        "swap": {"used": rng.randrange(0, 1 << 28)},
        "load": [u(0, 4), u(0, 4), u(0, 4)],
        "network": [{"interface": n, "rx_bytes_per_s": u(0, 1e8), "tx_bytes_per_s": u(0, 1e8)}
                    for n in ["lo", *[f"eth{i}" for i in range(nics - 1)]]],
        "disks": [{"device": f"sd{chr(97 + i)}", "read_bytes_per_s": u(0, 2e8),
                   "write_bytes_per_s": u(0, 2e8), "busy_percent": u(0, 100)} for i in range(disks)],
        "temperatures": [{"chip": "coretemp", "label": f"Core {i}", "celsius": u(30, 80)}
                         for i in range(temps)],
    }


def simulate_year(path: Path, days: int, args: argparse.Namespace) -> dict:
    rng = random.Random(1)
    store = MetricsStore(path, DEFAULT_TIERS).open()
    # No fsync at WAL checkpoints while simulating (the file's contents and size are the same);
    # samples come from a pool of 997 generated ones so the time goes to the store, not to random.
    store._conn().execute("PRAGMA synchronous=OFF")
    pool_of_samples = [flatten(node_sample(rng, args.nics, args.disks, args.temps))
                       for _ in range(997)]
    step = store.tiers[0].step
    start = 1_800_000_000 // DAY * DAY
    t0 = time.perf_counter()
    pools = [{"name": f"pool{i}", "size": 4 << 40, "used": 0} for i in range(args.pools)]
    series = 0
    for hour in range(days * 24):
        base = start + hour * 3600
        for ts in range(base, base + 3600, step):
            values = dict(pool_of_samples[(ts // step) % 997])
            if (ts - start) % 300 == 0:  # pool usage every 5 minutes, as the service reads it
                for p in pools:
                    p["used"] = rng.randrange(1 << 40, 3 << 40)
                values.update(pool_values(pools))
            store.add(ts, values)
            series = max(series, len(values))
        store.write(store.take(base + 3600))
        store.prune(now=base + 3600)
    elapsed = time.perf_counter() - t0
    stats = store.stats()
    end = start + days * DAY
    queries = {}
    for name, seconds, step in RANGES:  # the dashboard's ranges, all series
        c = time.process_time()
        doc = store.query(end - seconds, end, step, now=end)
        queries[name] = (1000 * (time.process_time() - c), doc["tier"], len(doc["timestamps"]))
    db = store._conn()
    hourly = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'tier_3600'").fetchone()[0]
    store.close()
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    return {"series": series, "bytes": size, "rows": stats["rows"], "elapsed": elapsed,
            "queries": queries,
            "hourly_row_bytes": hourly / max(1, stats["rows"][3600])}


def rrd_create_args(path: Path, start: int) -> list[str]:
    rras = []
    for cf in ("AVERAGE", "MIN", "MAX"):
        rras += [f"RRA:{cf}:0.5:1:8640", f"RRA:{cf}:0.5:30:8640", f"RRA:{cf}:0.5:360:17520"]
    return ["create", str(path), "--step", "10", "--start", str(start - 10), "DS:v:GAUGE:30:U:U",
            *rras]


def rrdtool_side(tmp: Path, series: int, updates: int) -> dict | None:
    """rrdtool with one RRD per series: bytes on disk and CPU per 10 s step of updates."""
    if shutil.which("rrdtool") is None:
        return None
    start = int(time.time()) // 10 * 10 - updates * 10
    files = [tmp / f"s{i}.rrd" for i in range(series)]
    for f in files:
        subprocess.run(["rrdtool", *rrd_create_args(f, start)], check=True)
    size = sum(f.stat().st_size for f in files)
    rng = random.Random(2)
    lines = [f"update {f} {start + k * 10}:{rng.uniform(0, 1e8):.2f}\n"
             for k in range(1, updates + 1) for f in files]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(["rrdtool", "-"], input="".join(lines), capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or "ERROR" in proc.stdout:
        raise RuntimeError(f"rrdtool update failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"bytes": size, "cpu_per_step_ms": 1000 * cpu / updates, "wall": wall}


async def real_ticks(path: Path, seconds: float) -> dict:
    """A real sampler at 1 s with the store attached; the store's share timed apart."""
    sampler = Sampler(1.0, 60, 10.0)
    store = MetricsStore(path, DEFAULT_TIERS).open()
    spent = {"add": 0.0, "write": 0.0, "writes": 0}

    def record(m: dict) -> None:
        c = time.process_time()
        store.add(m["ts"], flatten(m))
        spent["add"] += time.process_time() - c

    sampler.add_listener(record)
    await sampler.tick()  # priming read
    await asyncio.sleep(1.0)
    ticks, t0, c0 = 0, time.perf_counter(), time.process_time()
    next_at = time.monotonic()
    while time.perf_counter() - t0 < seconds:
        await sampler.tick()
        ticks += 1
        buckets = store.take(time.time())
        if buckets:
            c = time.process_time()
            store.write(buckets)
            spent["write"] += time.process_time() - c
            spent["writes"] += 1
        next_at += 1.0
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    wall = time.perf_counter() - t0
    total = time.process_time() - c0
    series = store.stats()["series"]
    store.close()
    store_cpu = spent["add"] + spent["write"]
    return {"ticks": ticks, "wall": wall, "series": series, "store_pct": 100 * store_cpu / wall,
            "all_pct": 100 * total / wall, "add_us": 1e6 * spent["add"] / max(1, ticks),
            "write_ms": 1000 * spent["write"] / max(1, spent["writes"]), "writes": spent["writes"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365, help="simulated days (fewer: extrapolated)")
    ap.add_argument("--seconds", type=float, default=60, help="real sampling time for the CPU figure")
    ap.add_argument("--nics", type=int, default=2, help="interfaces, lo included")
    ap.add_argument("--disks", type=int, default=4)
    ap.add_argument("--pools", type=int, default=2)
    ap.add_argument("--temps", type=int, default=4)
    ap.add_argument("--rrd-updates", type=int, default=360, help="10 s steps rrdtool is fed")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sv-bench-history-") as tmp_s:
        tmp = Path(tmp_s)
        print(f"simulating {args.days} days of a default node ({args.nics} NICs, {args.disks} disks, "
              f"{args.pools} pools, {args.temps} sensors) through the store …", flush=True)
        sim = simulate_year(tmp / "sim.db", args.days, args)
        mb = sim["bytes"] / 1e6
        per_year = mb
        print(f"ours: {sim['series']} series, metrics.db after {args.days} days: {mb:.1f} MB "
              f"(rows per tier {sim['rows']}; {sim['hourly_row_bytes']:.1f} B per 1 h row); "
              f"simulated in {sim['elapsed']:.0f} s")
        print("ours: dashboard range queries (all series), CPU: " + ", ".join(
            f"{k} {ms:.0f} ms ({n} buckets from the {tier} s tier)"
            for k, (ms, tier, n) in sim["queries"].items()))
        if args.days < 365:
            if args.days <= 31:
                sys.exit("--days must be over 31 to extrapolate (the 5 min tier fills in 30 days)")
            # past 30 days only the 1 h tier grows: one row per series per hour
            per_year = mb + (365 - args.days) * 24 * sim["series"] * sim["hourly_row_bytes"] / 1e6
            print(f"ours: a year extrapolated from the 1 h tier's bytes per row: {per_year:.1f} MB")

        print(f"real sampling for {args.seconds:.0f} s at the default 1 s interval …", flush=True)
        cpu = asyncio.run(real_ticks(tmp / "real.db", args.seconds))
        print(f"ours: {cpu['ticks']} ticks, {cpu['series']} series on this machine; store "
              f"{cpu['store_pct']:.3f} % of a core (account a sample {cpu['add_us']:.0f} µs, write a "
              f"10 s bucket {cpu['write_ms']:.2f} ms × {cpu['writes']}); sampler + store "
              f"{cpu['all_pct']:.2f} % of a core")

        (tmp / "rrd").mkdir()
        rrd = rrdtool_side(tmp / "rrd", sim["series"], args.rrd_updates)
        if rrd is None:
            print("rrdtool: not installed (apt-get install rrdtool) — no comparator")
        else:
            rrd_pct = rrd["cpu_per_step_ms"] / 10.0 / 10.0  # ms per 10 s → % of a core
            print(f"rrdtool: {sim['series']} RRDs (same tiers, AVERAGE/MIN/MAX): "
                  f"{rrd['bytes'] / 1e6:.1f} MB from day one; updating every series once per 10 s "
                  f"step: {rrd['cpu_per_step_ms']:.2f} ms CPU per step = {rrd_pct:.3f} % of a core")
        ours_step_ms = cpu["write_ms"] + 10 * cpu["add_us"] / 1000
        print()
        print(f"{'':28}{'ours':>12}{'rrdtool':>12}{'budget':>10}")
        print(f"{'disk a year, MB':28}{per_year:>12.1f}"
              f"{(rrd['bytes'] / 1e6 if rrd else math.nan):>12.1f}{DISK_BUDGET_MB:>10.0f}")
        print(f"{'CPU per 10 s of history, ms':28}{ours_step_ms:>12.2f}"
              f"{(rrd['cpu_per_step_ms'] if rrd else math.nan):>12.2f}{'':>10}")
        print(f"{'store CPU, % of a core':28}{cpu['store_pct']:>12.3f}"
              f"{(rrd['cpu_per_step_ms'] / 100 if rrd else math.nan):>12.3f}{CPU_BUDGET_PCT:>10.1f}")
        ok = per_year <= DISK_BUDGET_MB and cpu["store_pct"] <= CPU_BUDGET_PCT
        print(f"verdict: {'within' if ok else 'OVER'} budget")
        print(f"RESULT disk_mb_year={per_year:.2f} store_cpu_pct={cpu['store_pct']:.4f} "
              f"all_cpu_pct={cpu['all_pct']:.3f} series={sim['series']} days={args.days} "
              f"rrd_mb={(rrd['bytes'] / 1e6 if rrd else 'nan')} "
              f"rrd_cpu_pct={(rrd['cpu_per_step_ms'] / 100 if rrd else 'nan')} ok={int(ok)}")
        sys.exit(0)


if __name__ == "__main__":
    main()
