"""ORACLE: record pool usage (and SMART counters) over time in SQLite, forecast days until each
pool is full by least-squares regression, and rate each disk's SMART trend."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .common import CONFIG, Params, need_storage
from .forecast import days_until_full, smart_counters, smart_risk

log = logging.getLogger(__name__)


class OracleParams(Params):
    record: bool = Field(True, description="record a usage sample now before forecasting")
    smart: bool = Field(True, description="also read SMART and rate each disk's trend")
    window_days: float = Field(30.0, gt=0, le=3650, description="history used by the regression")


async def record(app: Any, smart: bool = True) -> dict[str, int]:
    """Store one usage sample per pool and one SMART reading per disk; returns counts."""
    need_storage(app)
    now, pools, disks = time.time(), 0, 0
    for p in await app.call("storage.pools.list"):
        if p["state"] == "unavailable" or not p.get("size"):
            continue
        app.db.execute("INSERT INTO storage_agents_usage(pool, ts, size, used) VALUES(?,?,?,?)",
                       (p["name"], now, int(p["size"]), int(p["used"])))
        pools += 1
    if smart:
        for d in await app.call("storage.disks.list"):
            try:
                rep = await app.call("storage.smart.read", disk=d["name"])
            except APIError:
                continue
            if not rep.get("supported"):
                continue
            app.db.execute("INSERT INTO storage_agents_smart(disk, serial, ts, health, counters) "
                           "VALUES(?,?,?,?,?)", (d["name"], rep.get("serial"), now, rep["health"],
                                                 json.dumps(smart_counters(rep))))
            disks += 1
    return {"pools": pools, "disks": disks}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run_oracle(ctx: JobContext, p: OracleParams) -> dict[str, Any]:
    app = ctx.app
    recorded = await record(app, p.smart) if p.record else {"pools": 0, "disks": 0}
    now = time.time()
    since = now - p.window_days * 86400
    pools = []
    for pl in await app.call("storage.pools.list"):
        rows = app.db.all("SELECT ts, size, used FROM storage_agents_usage WHERE pool=? AND ts>=? "
                          "ORDER BY ts", (pl["name"], since))
        if not rows:
            continue
        size = rows[-1]["size"]
        f = days_until_full([(r["ts"], r["used"]) for r in rows], size, now)
        f["full_at"] = _iso(f["full_at"])
        pools.append({"pool": pl["name"], "size": size, "used": rows[-1]["used"],
                      "used_fraction": rows[-1]["used"] / size if size else None, **f})
    disks = []
    if p.smart:
        names = [r["disk"] for r in app.db.all("SELECT DISTINCT disk FROM storage_agents_smart WHERE ts>=?",
                                               (since,))]
        for name in sorted(names):
            rows = app.db.all("SELECT ts, health, counters FROM storage_agents_smart WHERE disk=? "
                              "AND ts>=? ORDER BY ts", (name, since))
            hist = [{"health": r["health"], "counters": json.loads(r["counters"])} for r in rows]
            disks.append({"disk": name, "health": hist[-1]["health"], **smart_risk(hist)})
    return {"recorded": recorded, "window_days": p.window_days, "pools": pools, "disks": disks}


async def record_loop(app: Any) -> None:
    """Periodic samples every ``[storage_agents] oracle_interval`` seconds."""
    interval = app.config.section(CONFIG).oracle_interval
    while interval > 0:
        await asyncio.sleep(interval)
        try:
            await record(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ORACLE sample failed")


MIGRATIONS = [
    "CREATE TABLE storage_agents_usage (pool TEXT NOT NULL, ts REAL NOT NULL, size INTEGER NOT NULL, "
    "used INTEGER NOT NULL);",
    "CREATE INDEX storage_agents_usage_pool ON storage_agents_usage(pool, ts);",
    "CREATE TABLE storage_agents_smart (disk TEXT NOT NULL, serial TEXT, ts REAL NOT NULL, "
    "health TEXT NOT NULL, counters TEXT NOT NULL);",
    "CREATE INDEX storage_agents_smart_disk ON storage_agents_smart(disk, ts);",
]

AGENT = Agent(name="ORACLE", tier="security", specialty="storage", params_model=OracleParams,
              run=run_oracle, tags=["forecast", "smart"], lock=lambda p: "oracle",
              description="forecast: days until each pool is full (regression on usage history), "
                          "SMART risk trend")
