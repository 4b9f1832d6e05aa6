"""1,000 WebSocket clients on one 10 Hz event stream: SigmaVault's hub vs a bare aiohttp loop.

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--seconds 10] [--rate 10]

Each server runs in its own process and publishes ``rate`` events per second carrying the send
time; the clients (one process) measure delivery latency. The bare loop is the ceiling: it sends
one pre-encoded string to every socket with no subscriptions, queues or auth.
Targets (issue 3): >= 70 % of the bare loop's throughput, p99 < 100 ms, no client dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import aiohttp
import psutil

from sigmavault.testing import free_port

BARE_SERVER = """
import asyncio, json, sys, time
from aiohttp import web
clients = set()
async def ws_handler(request):
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)
    return ws
async def health(request):
    return web.json_response({"status": "ok"})
async def publisher(app):
    async def loop():
        seq, period = 0, 1 / float(sys.argv[2])
        while True:
            seq += 1
            msg = json.dumps({"type": "bench.tick", "seq": seq, "data": {"sent": time.time()}})
            for ws in list(clients):
                try:
                    await ws.send_str(msg)
                except ConnectionError:
                    clients.discard(ws)
            await asyncio.sleep(period)
    task = asyncio.create_task(loop())
    yield
    task.cancel()
app = web.Application()
app.router.add_get("/api/v1/ws", ws_handler)
app.router.add_get("/api/v1/health", health)
app.cleanup_ctx.append(publisher)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""

SIGMAVAULT_SERVER = """
import asyncio, sys, time
from aiohttp import web
from sigmavault.app import SigmaVault
from sigmavault.config import Config
async def make():
    app = await SigmaVault.create(Config(data_dir=sys.argv[3], events={"client_queue": 256}))
    app.events.register("bench.tick", None, "benchmark ticks")
    async def loop():
        period = 1 / float(sys.argv[2])
        while True:
            app.events.publish("bench.tick", {"sent": time.time()})
            await asyncio.sleep(period)
    async def start(_):
        app.spawn(loop())
    app.web.on_startup.append(start)
    return app.web
web.run_app(make(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


async def run_clients(url: str, n: int, seconds: float, headers: dict[str, str]) -> dict:
    latencies: list[float] = []
    received = 0
    dropped = 0
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for i in range(0, n, 100):
            sockets += await asyncio.gather(*(session.ws_connect(url, compress=0, autoping=True)
                                              for _ in range(min(100, n - i))))
        for ws in sockets:
            await ws.send_json({"type": "client.subscribe", "events": ["bench.*"]})
        await asyncio.sleep(1)  # settle
        start = time.time()
        stop = start + seconds

        async def consume(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received, dropped
            while True:
                left = stop - time.time()
                if left <= 0:
                    return
                try:
                    msg = await asyncio.wait_for(ws.receive(), left)
                except asyncio.TimeoutError:
                    return
                if msg.type != aiohttp.WSMsgType.TEXT:
                    dropped += 1
                    return
                if '"bench.tick"' not in msg.data:
                    continue
                sent = float(msg.data[msg.data.rindex('"sent":') + 7:].split("}", 1)[0])
                if sent >= start:
                    received += 1
                    latencies.append(time.time() - sent)

        await asyncio.gather(*(consume(ws) for ws in sockets))
        for ws in sockets:
            await ws.close()
    return {"received": received, "latencies": latencies, "dropped": dropped}


def client_worker(url: str, n: int, seconds: float, headers: dict[str, str]) -> dict:
    return asyncio.run(run_clients(url, n, seconds, headers))


def measure(kind: str, args: argparse.Namespace, tmp: Path) -> dict:
    port = free_port()
    headers: dict[str, str] = {}
    if kind == "bare":
        argv = [sys.executable, "-c", BARE_SERVER, str(port), str(args.rate)]
    else:
        data = tmp / "sv"
        subprocess.run([sys.executable, "-m", "sigmavault.cli", "user", "create", "admin", "--role",
                        "admin", "--password-stdin", "--data-dir", str(data)], input="benchmark-pass\n",
                       text=True, check=True, capture_output=True)
        key = subprocess.run([sys.executable, "-m", "sigmavault.cli", "apikey", "admin", "--data-dir",
                              str(data)], text=True, check=True, capture_output=True).stdout.strip()
        headers = {"Authorization": f"Bearer {key}"}
        argv = [sys.executable, "-c", SIGMAVAULT_SERVER, str(port), str(args.rate), str(data)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import urllib.request
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        server = psutil.Process(proc.pid)
        server.cpu_percent()
        url = f"http://127.0.0.1:{port}/api/v1/ws"
        share = args.clients // args.procs
        with ProcessPoolExecutor(args.procs) as pool:
            parts = list(pool.map(client_worker, [url] * args.procs, [share] * args.procs,
                                  [args.seconds] * args.procs, [headers] * args.procs))
        latencies = sorted(x for p in parts for x in p["latencies"])
        result = {"events_per_s": sum(p["received"] for p in parts) / args.seconds,
                  "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
                  "dropped": sum(p["dropped"] for p in parts)}
        result["server_cpu_percent"] = server.cpu_percent()
        result["server_rss_mb"] = server.memory_info().rss / 2**20
        return result
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=float, default=10)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = measure("bare", args, Path(tmp))
        ours = measure("sigmavault", args, Path(tmp))
    expected = args.clients * args.rate
    print(f"{args.clients} clients x {args.rate:g} Hz for {args.seconds:g} s (ideal {expected:.0f} events/s)")
    print(f"{'':22}{'events/s':>10}{'p99 ms':>9}{'dropped':>9}{'cpu %':>8}{'rss MB':>8}")
    for name, r in (("bare aiohttp loop", bare), ("sigmavault hub", ours)):
        print(f"{name:22}{r['events_per_s']:10.0f}{r['p99_ms']:9.1f}{r['dropped']:9d}"
              f"{r['server_cpu_percent']:8.1f}{r['server_rss_mb']:8.1f}")
    ratio = ours["events_per_s"] / bare["events_per_s"] if bare["events_per_s"] else float("nan")
    print(f"throughput ratio {ratio:.2f} (target >= 0.70), p99 {ours['p99_ms']:.1f} ms (target < 100)")
    print(f"RESULT events_per_s={ours['events_per_s']:.0f} anchor={bare['events_per_s']:.0f} "
          f"ratio={ratio:.2f} p99_ms={ours['p99_ms']:.1f} dropped={ours['dropped']}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
