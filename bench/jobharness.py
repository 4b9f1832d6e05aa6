"""One plugin's real job, run inside a daemon app in this process and measured as its user would
see it: wall and CPU time from submit to finished, and the process's peak RSS during the job
(VmHWM reset after the daemon's start-up, whose own peak is the first-run admin password's argon2
hash). Used by the benchmarks' ``--child`` processes (compression, encryption)."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import web

from sigmavault.app import SigmaVault
from sigmavault.config import Config


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


@asynccontextmanager
async def plugin_daemon(dist: str, config: dict[str, Any]) -> AsyncIterator[SigmaVault]:
    """A started daemon app with only the plugin distribution ``dist`` enabled."""
    others = sorted({ep.dist.name for ep in entry_points(group="sigmavault") if ep.dist}
                    - {dist, dist.replace("-", "_")})
    data_dir = Path(tempfile.mkdtemp(prefix="svbench-data-"))
    app = await SigmaVault.create(Config.model_validate({
        "data_dir": data_dir, "plugins": {"disabled": others}, **config}))
    runner = web.AppRunner(app.web)
    await runner.setup()  # the daemon's start-up: job manager, plugin startup hooks
    try:
        yield app
    finally:
        await runner.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@asynccontextmanager
async def served_daemon(config: dict[str, Any]) -> AsyncIterator[tuple[SigmaVault, str, str]]:
    """A daemon app serving HTTP on a free loopback port: ``(app, api_url, admin_api_key)``;
    ``config`` is the whole configuration (``data_dir`` included)."""
    from sigmavault.testing import free_port

    app = await SigmaVault.create(Config.model_validate(config))
    app.auth.create_user("bench", "bench-password-123", "admin")
    key, _ = app.auth.create_key("bench", "bench")
    runner = web.AppRunner(app.web)
    await runner.setup()
    try:
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield app, f"http://127.0.0.1:{port}/api/v1", key
    finally:
        await runner.cleanup()


async def measure_job(app: SigmaVault, submit: Callable[[], Awaitable[str]]) -> dict[str, Any]:
    """Submit a job (``submit`` returns its id), wait for it to succeed; its figures and result."""
    startup_peak = status_mb("VmHWM")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM: the peak below is the job's own
    baseline = status_mb("VmRSS")
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    done = await app.jobs.wait(await submit())
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    if done.state.value != "SUCCESS":
        raise SystemExit(f"job failed: {done.error}")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {"seconds": wall, "cpu": cpu, "peak_rss_mb": status_mb("VmHWM"),
            "baseline_rss_mb": baseline, "startup_peak_mb": startup_peak, "result": done.result}
