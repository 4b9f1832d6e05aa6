"""Load test: mixed REST traffic plus many WebSocket clients against a real daemon on loopback.

    .venv/bin/python bench/load.py [--seconds 60] [--rate 200] [--ws-clients 500]

A real ``sigmavault serve`` process with every installed plugin runs on a temporary data dir.
REST: ``rate`` requests per second, open loop (each request has a scheduled send time; at most
``--concurrency`` in flight), cycling through system status, system metrics, pools, agents and the
jobs list. WebSocket: ``ws-clients`` connections (in a second process) subscribed to
``system.metrics``. Reported: errors (non-2xx, exceptions, dropped sockets, sockets that got no
event), the daemon's RSS growth between the end of the warm-up and the end, and REST latency
percentiles. Targets (issue 14): zero errors, RSS growth < 10 %, p99 printed.
The last line is ``RESULT key=value ...`` for bench/run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from sigmavault.testing import Daemon

ENDPOINTS = ["/api/v1/system/status", "/api/v1/system/metrics", "/api/v1/storage/pools",
             "/api/v1/agents", "/api/v1/jobs?limit=50"]
CONFIG = """
[system]
interval = 1.0
[storage]
monitor_interval = 30
smart_interval = 0
"""


# --- WebSocket clients (own process) -------------------------------------------------------------


async def _ws_clients(url: str, key: str, n: int, seconds: float, ready: Any, go: Any) -> dict:
    received = [0] * n
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        for i in range(0, n, 50):
            batch = await asyncio.gather(*(session.ws_connect(url, compress=0, heartbeat=None)
                                           for _ in range(min(50, n - i))), return_exceptions=True)
            for ws in batch:
                if isinstance(ws, BaseException):
                    errors.append(f"connect: {ws!r}")
                else:
                    sockets.append(ws)
        for ws in sockets:
            await ws.send_json({"type": "client.subscribe", "events": ["system.metrics"]})
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        stop = time.monotonic() + seconds

        async def consume(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            while (left := stop - time.monotonic()) > 0:
                try:
                    msg = await asyncio.wait_for(ws.receive(), left)
                except asyncio.TimeoutError:
                    return
                if msg.type != aiohttp.WSMsgType.TEXT:
                    errors.append(f"socket {i} closed: {msg.type.name} {msg.extra or ''}")
                    return
                if msg.data.startswith('{"type":"system.metrics"') or '"system.metrics"' in msg.data[:40]:
                    received[i] += 1

        await asyncio.gather(*(consume(i, ws) for i, ws in enumerate(sockets)))
        for ws in sockets:
            await ws.close()
    silent = sum(1 for i in range(len(sockets)) if received[i] == 0)
    if silent:
        errors.append(f"{silent} sockets received no system.metrics event")
    return {"connected": len(sockets), "events": sum(received), "errors": errors}


def ws_process(url: str, key: str, n: int, seconds: float, ready: Any, go: Any, out: Any) -> None:
    out.put(asyncio.run(_ws_clients(url, key, n, seconds, ready, go)))


# --- REST load -----------------------------------------------------------------------------------


async def rest_load(base: str, key: str, rate: float, seconds: float, concurrency: int) -> dict:
    total = int(rate * seconds)
    latencies: list[float] = []
    per_path: dict[str, list[float]] = {p: [] for p in ENDPOINTS}
    errors: list[str] = []
    late = 0
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, headers=headers, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        start = time.monotonic()

        async def one(i: int) -> None:
            path = ENDPOINTS[i % len(ENDPOINTS)]
            async with sem:
                t0 = time.monotonic()
                try:
                    async with session.get(path) as resp:
                        await resp.read()
                        if resp.status != 200:
                            errors.append(f"{path}: HTTP {resp.status}")
                except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                    errors.append(f"{path}: {exc!r}")
                latencies.append(time.monotonic() - t0)
                per_path[path].append(latencies[-1])

        tasks = []
        for i in range(total):  # bounded: exactly rate*seconds requests
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.05:
                late += 1
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
    latencies.sort()

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else float("nan")

    return {"requests": total, "elapsed": elapsed, "rps": total / elapsed, "p50_ms": pct(0.50),
            "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": 1000 * latencies[-1] if latencies else 0,
            "errors": errors, "late": late,
            "per_path": {p: 1000 * sorted(v)[min(len(v) - 1, int(len(v) * 0.99))] for p, v in per_path.items() if v}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--rate", type=float, default=200, help="REST requests per second")
    ap.add_argument("--ws-clients", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=64, help="REST requests in flight at most")
    ap.add_argument("--warmup", type=float, default=5, help="seconds of load before the RSS baseline")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp) / "data", CONFIG)
        daemon.start(timeout=60)
        try:
            proc = psutil.Process(daemon.proc.pid)
            ctx = mp.get_context("spawn")
            ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
            ws_seconds = args.seconds + args.warmup
            wsp = ctx.Process(target=ws_process, args=(f"{daemon.url}/api/v1/ws", daemon.admin_key,
                                                       args.ws_clients, ws_seconds, ready, go, out))
            wsp.start()
            if not ready.wait(120):
                raise SystemExit("WebSocket clients did not connect within 120 s")
            rss_idle = proc.memory_info().rss
            go.set()
            warm = asyncio.run(rest_load(daemon.url, daemon.admin_key, args.rate, args.warmup,
                                         args.concurrency))
            rss_start = proc.memory_info().rss
            cpu0 = proc.cpu_times()
            rest = asyncio.run(rest_load(daemon.url, daemon.admin_key, args.rate, args.seconds,
                                         args.concurrency))
            cpu1 = proc.cpu_times()
            rss_end = proc.memory_info().rss
            ws = out.get(timeout=ws_seconds + 120)
            wsp.join(30)
            alive = daemon.proc.poll() is None
        finally:
            daemon.stop()

    errors = warm["errors"] + rest["errors"] + ws["errors"]
    if not alive:
        errors.append("daemon died")
    growth = 100.0 * (rss_end - rss_start) / rss_start
    cpu = 100.0 * ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / rest["elapsed"]
    print(f"{args.seconds:g} s: {rest['requests']} REST requests at {rest['rps']:.0f}/s "
          f"(target {args.rate:g}/s, {rest['late']} sent > 50 ms late) + {ws['connected']}/"
          f"{args.ws_clients} WebSocket clients on system.metrics ({ws['events']} events)")
    print(f"latency ms: p50 {rest['p50_ms']:.1f}  p90 {rest['p90_ms']:.1f}  p99 {rest['p99_ms']:.1f}  "
          f"max {rest['max_ms']:.1f}")
    print("p99 ms by endpoint: " + ", ".join(f"{p.removeprefix('/api/v1/')} {v:.0f}"
                                             for p, v in rest["per_path"].items()))
    print(f"daemon RSS MB: idle {rss_idle / 2**20:.1f}, after warm-up {rss_start / 2**20:.1f}, end "
          f"{rss_end / 2**20:.1f} -> growth {growth:+.1f} % (target < 10 %); daemon CPU {cpu:.0f} %")
    print(f"errors: {len(errors)} ({'OK: zero errors' if not errors else 'FAIL'})")
    for e in errors[:10]:
        print(f"  {e}")
    print(f"RESULT rps={rest['rps']:.1f} p99_ms={rest['p99_ms']:.1f} p50_ms={rest['p50_ms']:.1f} "
          f"errors={len(errors)} rss_growth_pct={growth:.1f} ws_clients={ws['connected']} "
          f"ws_events={ws['events']} cpu_pct={cpu:.0f}")
    return 0 if not errors and growth < 10 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
