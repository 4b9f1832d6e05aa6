"""Agent swarm dispatch throughput: N no-op-sized tasks spread across agents.

Starts an in-process SigmaVault (every installed plugin, temporary data dir), dispatches ``--size``
tasks round-robin to cheap agents working on an empty directory (so the figure is the runtime's
own cost: validation, job + task rows, queueing, events, counters), waits for all of them and
prints tasks/s plus queue latency percentiles (dispatch → start, from the task rows).

    .venv/bin/python bench/agents_dispatch.py            # 10,000 tasks
    .venv/bin/python bench/agents_dispatch.py --size 500
    .venv/bin/python bench/agents_dispatch.py --api      # through POST /api/v1/agents/{id}/task
    .venv/bin/python bench/agents_dispatch.py --rate 100 # paced: queue latency without a backlog
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from sigmavault.app import SigmaVault
from sigmavault.config import Config
from sigmavault.testing import free_port

AGENTS = ["PRISM", "VERTEX", "NEXUS", "GUARDIAN", "WAVE", "OMNISCIENT"]


def params_for(agent: str, area: Path) -> dict:
    if agent == "WAVE":
        return {"roots": [{"path": str(area)}]}
    if agent == "OMNISCIENT":
        return {"action": "list"}
    return {"path": str(area)}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main(size: int, api: bool, rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        area = Path(tmp) / "empty"
        area.mkdir()
        config = Config.model_validate({"data_dir": Path(tmp) / "data", "jobs": {"history": 1000},
                                        "agents": {"allowed_roots": [str(area)], "history": max(1000, size)}})
        app = await SigmaVault.create(config)
        port = free_port()
        runner = web.AppRunner(app.web, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            from sigmavault_agents.runtime import Runtime
            rt = app.services[Runtime]
            missing = [a for a in AGENTS if a not in rt.slots]
            if missing:
                raise SystemExit(f"agents missing: {missing}")
            ids: list[str] = []
            started = time.perf_counter()
            if api:
                app.auth.create_user("bench", "bench-password-123", "admin")
                key, _ = app.auth.create_key("bench", "bench")
                async with aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                                 headers={"Authorization": f"Bearer {key}"}) as http:
                    sem = asyncio.Semaphore(32)

                    async def post(i: int) -> None:
                        agent = AGENTS[i % len(AGENTS)]
                        async with sem, http.post(f"/api/v1/agents/{agent}/task",
                                                  json={"params": params_for(agent, area)}) as r:
                            body = await r.json()
                            assert r.status == 202, body
                            ids.append(body["id"])

                    await asyncio.gather(*(post(i) for i in range(size)))
            else:
                for i in range(size):
                    agent = AGENTS[i % len(AGENTS)]
                    ids.append(rt.dispatch(agent, params_for(agent, area), source="bench")["id"])
                    if rate:
                        await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
                    elif i % 200 == 0:
                        await asyncio.sleep(0)  # let the loop breathe, as a server would
            dispatched = time.perf_counter()
            while app.jobs.tasks:
                await asyncio.sleep(0.05)
            finished = time.perf_counter()
            rows = app.db.all("SELECT state, created_at, started_at, finished_at FROM agents_tasks "
                              "WHERE source=? OR source='api'", ("bench",))
            states: dict[str, int] = {}
            for r in rows:
                states[r["state"]] = states.get(r["state"], 0) + 1
            waits = [(r["started_at"] - r["created_at"]) * 1000 for r in rows if r["started_at"]]
            total = finished - started
            print(f"agents dispatch benchmark: {size} tasks across {len(AGENTS)} agents "
                  f"({'HTTP API' if api else 'in-process runtime'}, {f'paced at {rate:g}/s' if rate else 'one burst'})")
            print(f"  states                 {states}")
            print(f"  dispatch               {size / (dispatched - started):10.0f} tasks/s")
            print(f"  end to end             {size / total:10.0f} tasks/s  ({total:.2f} s)")
            print(f"  queue latency p50      {pct(waits, 50):10.1f} ms")
            print(f"  queue latency p99      {pct(waits, 99):10.1f} ms")
            print(f"  queue latency max      {max(waits):10.1f} ms   mean {statistics.fmean(waits):.1f} ms")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="number of tasks (default 10000)")
    parser.add_argument("--api", action="store_true", help="dispatch over HTTP instead of in-process")
    parser.add_argument("--rate", type=float, default=0, help="dispatch at this many tasks/s (default: all at once)")
    args = parser.parse_args()
    asyncio.run(main(args.size, args.api, args.rate))
