"""Startup to a healthy /api/v1/health with every installed plugin, next to a bare aiohttp app.

    .venv/bin/python bench/startup.py [--runs 5]
Target (issue 2): under 1.5 s with all plugins.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sigmavault.testing import free_port

BARE = """
import sys
from aiohttp import web
async def health(request):
    return web.json_response({"status": "ok"})
app = web.Application()
app.router.add_get("/api/v1/health", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def time_to_healthy(argv: list[str], port: int, timeout: float = 30) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("not healthy in time")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    plugins = subprocess.run([sys.executable, "-m", "sigmavault.cli", "plugins"], capture_output=True,
                             text=True).stdout.count(" loaded ")
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            port = free_port()
            ours.append(time_to_healthy([sys.executable, "-m", "sigmavault.cli", "serve", "--port",
                                         str(port), "--data-dir", str(Path(tmp) / "d")], port))
            port = free_port()
            bare.append(time_to_healthy([sys.executable, "-c", BARE, str(port)], port))
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"startup to healthy, median of {args.runs} ({plugins} plugins loaded)")
    print(f"  sigmavault serve : {m_ours:.3f} s   (target < 1.5 s: {'ok' if m_ours < 1.5 else 'MISSED'})")
    print(f"  bare aiohttp app : {m_bare:.3f} s")
    print(f"  ratio            : {m_ours / m_bare:.2f}x")
    print(f"RESULT startup_s={m_ours:.3f} anchor_s={m_bare:.3f} ratio={m_ours / m_bare:.2f}")


if __name__ == "__main__":
    main()
