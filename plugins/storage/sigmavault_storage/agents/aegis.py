"""AEGIS: a protective snapshot of every volume at once (on demand, or on a SENTINEL alert)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import Field

from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext
from sigmavault.validation import Name

from .common import CONFIG, Params, backend_of, capable, need_storage

log = logging.getLogger(__name__)


class AegisParams(Params):
    prefix: Name = Field("aegis", description="snapshot names are <prefix>-<UTC time>")
    pools: list[Name] | None = Field(None, description="default: every pool")
    reason: str = Field("on demand", max_length=200)


async def run_aegis(ctx: JobContext, p: AegisParams) -> dict[str, Any]:
    app = ctx.app
    need_storage(app)
    name = f"{p.prefix}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
    pools = [pl for pl in await app.call("storage.pools.list")
             if pl["state"] != "unavailable" and (p.pools is None or pl["name"] in p.pools)]
    targets, skipped = [], []
    for pl in pools:
        if not capable(backend_of(app, pl), "snapshots"):
            skipped.append({"pool": pl["name"], "reason": f"backend {pl['backend']} has no snapshots"})
            continue
        for v in await app.call("storage.volumes.list", pool=pl["name"]):
            targets.append((pl["name"], v["name"]))
    ctx.progress(percent=0, description=f"snapshotting {len(targets)} volumes ({p.reason})")

    async def one(pool: str, volume: str) -> dict[str, Any]:
        try:
            snap = await app.call("storage.snapshot.create", pool=pool, volume=volume, name=name)
            return {"pool": pool, "volume": volume, "snapshot": snap["name"], "ok": True}
        except Exception as e:   # one volume failing must not stop the others
            return {"pool": pool, "volume": volume, "snapshot": name, "ok": False, "error": str(e)}

    results = await asyncio.gather(*(one(pl, v) for pl, v in targets))
    failed = [r for r in results if not r["ok"]]
    app.audit("storage.aegis", name, outcome="ok" if not failed else "partial",
              details={"reason": p.reason, "volumes": len(results), "failed": len(failed)})
    return {"snapshot": name, "reason": p.reason, "volumes": results,
            "created": len(results) - len(failed), "failed": len(failed), "skipped": skipped}


AGENT = Agent(name="AEGIS", tier="security", specialty="storage", params_model=AegisParams,
              run=run_aegis, tags=["snapshots", "protection"], lock=lambda p: "aegis",
              description="protective snapshot of every volume at once (on demand or on a "
                          "SENTINEL alert)")


_last_alert_run: dict[int, float] = {}


def on_event(app: Any, event: dict[str, Any]) -> None:
    """Start an AEGIS job when SENTINEL raises an alert (at most once per ``aegis_min_interval``)."""
    data = event.get("data") or {}
    if event.get("type") != "alert" or data.get("source") != "SENTINEL" or not data.get("active", True):
        return
    cfg = app.config.section(CONFIG)
    if not cfg.aegis_on_alert or not app.has_method("storage.pools.list"):
        return
    now = time.monotonic()
    last = _last_alert_run.get(id(app))
    if last is not None and now - last < cfg.aegis_min_interval:
        return
    _last_alert_run[id(app)] = now
    params = AegisParams(reason=f"SENTINEL alert {data.get('id')}: {data.get('message', '')}"[:200])

    async def start() -> None:
        try:
            app.jobs.submit("agent.AEGIS", lambda ctx: run_aegis(ctx, params),
                            params=params.model_dump(), lock="aegis",
                            description=f"AEGIS: {params.reason}")
        except Exception:
            log.exception("AEGIS could not start after a SENTINEL alert")
    app.spawn(start())
