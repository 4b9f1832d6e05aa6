#!/usr/bin/env python3
"""SigmaVault's system API against Glances' REST API, on the same machine, in the same run.

1. Throughput: the same client (``wrk`` when installed, after a 10 s warm-up, else an aiohttp
   loop; ``--concurrency`` connections for ``--duration``) hits Glances' CPU endpoint (``/api/4/cpu`` or ``/api/3/cpu``,
   whichever the installed Glances serves) and then SigmaVault's ``GET /api/v1/system/status``;
   prints requests/s, p50 and p99 latency and server CPU per request for each, and the ratio.
   With wrk it then loads a bare aiohttp app answering a constant body of the same size: the
   ceiling any aiohttp handler has on this machine.
2. Idle cost: with one WebSocket client streaming ``system.metrics``, the daemon's CPU use (% of
   one core, from its own CPU time over ``--idle-seconds``) and its RSS, with every installed
   plugin loaded (listed in the output).

Run from a checkout with the project's virtualenv: ``.venv/bin/python bench/system_vs_glances.py``.
Quick run: ``--requests 500 --duration 5 --idle-seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

from sigmavault.testing import Daemon, free_port


@dataclass
class LoadResult:
    name: str
    url: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float = 0.0  # CPU seconds the server process used during the load
    percentiles: dict[float, float] | None = None  # ms, when the client reports them (wrk)

    @property
    def us_cpu_per_request(self) -> float:
        return 1e6 * self.server_cpu / self.requests if self.requests else float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if self.percentiles is not None:
            return self.percentiles.get(q, float("nan"))
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000.0


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


async def load(name: str, url: str, headers: dict[str, str], concurrency: int, max_requests: int,
               duration: float, server_pid: int, warmup: int = 20) -> LoadResult:
    """``concurrency`` workers issue GETs until ``max_requests`` are done or ``duration`` passed."""
    conn = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as s:
        for _ in range(warmup):
            async with s.get(url) as r:
                r.raise_for_status()
                await r.read()
        latencies: list[float] = []
        errors = 0
        issued = 0
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal issued, errors
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                t0 = time.perf_counter()
                try:
                    async with s.get(url) as r:
                        await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        cpu0 = cpu_seconds(server_pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server_pid) - cpu0
    return LoadResult(name, url, len(latencies), errors, elapsed, latencies, cpu)


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


WARMUP_SECONDS = 10  # Glances answers ~25 % slower in its first ~10 s under load


async def load_wrk(name: str, url: str, headers: dict[str, str], concurrency: int, duration: float,
                   server_pid: int) -> LoadResult:
    """The same load from ``wrk`` (C, one thread): the Python client tops out before the servers.
    A first, unmeasured run of WARMUP_SECONDS warms the server up."""
    argv = ["wrk", "-t1", f"-c{concurrency}", "--latency"]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    warm = await asyncio.create_subprocess_exec(*argv, f"-d{WARMUP_SECONDS}s", url,
                                                stdout=asyncio.subprocess.DEVNULL)
    await warm.wait()
    argv.append(f"-d{max(1, int(duration))}s")
    cpu0 = cpu_seconds(server_pid)
    proc = await asyncio.create_subprocess_exec(*argv, url, stdout=asyncio.subprocess.PIPE)
    out = (await proc.communicate())[0].decode()
    server_cpu = cpu_seconds(server_pid) - cpu0
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    seconds = float(done.group(2)) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|errors: connect|read|write|timeout) (\d+)", out))
    pcts = {int(q) / 100: float(v) * _WRK_UNITS[u]
            for q, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    return LoadResult(name, url, int(done.group(1)), errors, seconds, [], server_cpu, pcts)


async def start_glances(port: int) -> tuple[asyncio.subprocess.Process, str]:
    """Glances' web server (REST API only); returns the process and its CPU endpoint URL."""
    glances = shutil.which("glances")
    if glances is None:
        sys.exit("glances is not installed (Debian package `glances`)")
    proc = await asyncio.create_subprocess_exec(
        glances, "-w", "--disable-webui", "-B", "127.0.0.1", "-p", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            for version in (4, 3):
                url = f"http://127.0.0.1:{port}/api/{version}/cpu"
                try:
                    async with s.get(url) as r:
                        if r.status == 200:
                            await r.read()
                            return proc, url
                except aiohttp.ClientError:
                    pass
            if proc.returncode is not None:
                sys.exit(f"glances exited with {proc.returncode}")
            await asyncio.sleep(0.5)
    proc.kill()
    sys.exit("glances did not answer on /api/4/cpu or /api/3/cpu within 60 s")


BARE_SERVER = """
import sys
from aiohttp import web
body = b"x" * int(sys.argv[2])
async def handler(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


async def bare_ceiling(concurrency: int, duration: float, body_size: int) -> LoadResult:
    """A bare aiohttp app (same event loop as the daemon) answering a constant body of ``body_size`` bytes: what any
    aiohttp handler can reach on this machine (no auth, no request id, no work)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_SERVER, str(port),
                                                str(body_size))
    try:
        url = f"http://127.0.0.1:{port}/"
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                try:
                    async with s.get(url) as r:
                        await r.read()
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
        return await load_wrk("bare aiohttp (ceiling)", url, {}, concurrency, duration, proc.pid)
    finally:
        proc.kill()
        await proc.wait()


async def idle_cost(daemon: Daemon, seconds: float) -> dict[str, float | int]:
    """CPU % of one core and RSS of the daemon while one client streams system.metrics."""
    p = psutil.Process(daemon.proc.pid)  # type: ignore[union-attr]
    events = 0
    async with daemon.session() as s:
        async with s.ws_connect("/api/v1/ws") as ws:
            await ws.send_json({"type": "client.subscribe", "events": ["system.metrics"]})
            stop = time.monotonic() + 3  # settle: subscription, first events
            while time.monotonic() < stop:
                msg = await asyncio.wait_for(ws.receive_json(), 5)
            cpu0 = sum(p.cpu_times()[:2])
            t0 = time.monotonic()
            end = t0 + seconds
            while time.monotonic() < end:
                try:
                    msg = await asyncio.wait_for(ws.receive_json(), max(0.01, end - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                events += msg.get("type") == "system.metrics"
            cpu1 = sum(p.cpu_times()[:2])
            elapsed = time.monotonic() - t0
    return {"cpu_percent_of_core": 100.0 * (cpu1 - cpu0) / elapsed, "rss_mb": p.memory_info().rss / 2**20,
            "events": events, "seconds": elapsed}


def row(r: LoadResult) -> str:
    return (f"{r.name:<28} {r.rps:>9.1f} req/s   p50 {r.pct(0.50):7.2f} ms   p99 {r.pct(0.99):7.2f} ms"
            f"   server CPU {r.us_cpu_per_request:6.0f} us/req"
            f"   ({r.requests} ok, {r.errors} errors, {r.seconds:.1f} s)")


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--requests", type=int, default=5000, help="per target, at most")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per target, at most")
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--client", choices=["wrk", "aiohttp"],
                    default="wrk" if shutil.which("wrk") else "aiohttp",
                    help="load generator (wrk when installed: the Python client saturates first)")
    ap.add_argument("--interval", type=float, default=1.0, help="sampler interval of the daemon")
    ap.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                    help="daemon log level (DEBUG logs one line per request)")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = ap.parse_args()

    glances, glances_url = await start_glances(free_port())
    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-system-"))
    bare: LoadResult | None = None
    daemon = Daemon(tmp / "data", f'log_level = "{args.log_level}"\n'
                                  f"[system]\ninterval = {args.interval}\n")
    try:
        use_wrk = args.client == "wrk"
        g = await (load_wrk(f"glances {glances_url.split('/api/')[1]}", glances_url, {},
                            args.concurrency, args.duration, glances.pid) if use_wrk else
                   load(f"glances {glances_url.split('/api/')[1]}", glances_url, {},
                        args.concurrency, args.requests, args.duration, glances.pid))
        glances.kill()
        await glances.wait()

        daemon.start(timeout=60)
        headers = {"Authorization": f"Bearer {daemon.admin_key}"}
        async with daemon.session() as s:
            async with s.get("/api/v1/plugins") as r:
                plugins = await r.json()
        status_url = f"{daemon.url}/api/v1/system/status"
        async with daemon.session() as s:
            async with s.get(status_url) as r:
                status_size = len(await r.read())
        sv = await (load_wrk("sigmavault /system/status", status_url, headers, args.concurrency,
                             args.duration, daemon.proc.pid) if use_wrk else
                    load("sigmavault /system/status", status_url, headers, args.concurrency,
                         args.requests, args.duration, daemon.proc.pid))
        await asyncio.sleep(3)  # let the load's garbage settle before measuring idle
        idle = await idle_cost(daemon, args.idle_seconds)
        bare = await bare_ceiling(args.concurrency, args.duration, status_size) if use_wrk else None
    finally:
        if glances.returncode is None:
            glances.kill()
            await glances.wait()
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    items = plugins if isinstance(plugins, list) else plugins.get("items", [])
    loaded = sorted(p["name"] for p in items if p.get("status") in ("loaded", "ok", "active"))
    print(f"machine: {psutil.cpu_count()} CPUs, client {args.client}, concurrency {args.concurrency}, "
          f"at most {args.requests} requests / {args.duration:g} s per target")
    print(row(g))
    print(row(sv))
    ratio = sv.rps / g.rps if g.rps else float("inf")
    print(f"throughput ratio sigmavault/glances: {ratio:.1f}x   "
          f"(p99 {sv.pct(0.99):.2f} ms vs {g.pct(0.99):.2f} ms)")
    if bare is not None:
        print(row(bare))
        print(f"ceiling ratio bare aiohttp/glances: {bare.rps / g.rps:.1f}x   "
              f"(sigmavault reaches {100 * sv.rps / bare.rps:.0f} % of the bare aiohttp rate)")
    print(f"idle daemon with one client streaming system.metrics every {args.interval:g} s: "
          f"{idle['cpu_percent_of_core']:.2f} % of a core, RSS {idle['rss_mb']:.1f} MiB "
          f"({idle['rss_mb'] * 2**20 / 1e6:.1f} MB), "
          f"{idle['events']} events in {idle['seconds']:.0f} s")
    print(f"plugins loaded ({len(loaded)}): {', '.join(loaded) or 'see /api/v1/plugins'}")
    if args.json:
        print(json.dumps({
            "glances": {"url": glances_url, "rps": g.rps, "p50_ms": g.pct(0.5), "p99_ms": g.pct(0.99),
                        "server_cpu_us_per_request": g.us_cpu_per_request},
            "sigmavault": {"rps": sv.rps, "p50_ms": sv.pct(0.5), "p99_ms": sv.pct(0.99),
                           "server_cpu_us_per_request": sv.us_cpu_per_request},
            "ratio": ratio, "idle": idle, "plugins": loaded}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
