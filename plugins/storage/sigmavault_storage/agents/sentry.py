"""SENTRY: poll pool health and SMART health; every change is a ``storage.event`` and an
``alert`` (raised for a bad state, cleared on recovery). Last states live in SQLite so a
restart does not forget them."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

from pydantic import Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .common import CONFIG, Params, need_storage, now_iso

log = logging.getLogger(__name__)

BAD = {"degraded": "warning", "faulted": "critical", "unavailable": "critical",
       "WARN": "warning", "FAIL": "critical"}


class SentryParams(Params):
    pools: bool = Field(True, description="poll pool health")
    smart: bool = Field(True, description="poll SMART health of every disk")


def _previous(app: Any, key: str) -> str | None:
    row = app.db.one("SELECT state FROM storage_agents_health WHERE key=?", (key,))
    return row["state"] if row else None


def _note(app: Any, key: str, state: str, details: dict[str, Any]) -> str | None:
    old = _previous(app, key)
    app.db.execute("INSERT INTO storage_agents_health(key, state, details, ts) VALUES(?,?,?,?) "
                   "ON CONFLICT(key) DO UPDATE SET state=excluded.state, details=excluded.details, "
                   "ts=excluded.ts", (key, state, json.dumps(details), now_iso()))
    return old


def _changed(app: Any, key: str, state: str, details: dict[str, Any]) -> tuple[bool, str | None]:
    old = _note(app, key, state, details)
    # first sight of a healthy thing is a baseline; first sight of a sick one is news
    return (old != state if old is not None else state in BAD), old


def _announce(app: Any, kind: str, subject: dict[str, str], what: str, old: str | None, new: str,
              message: str, details: dict[str, Any]) -> dict[str, Any]:
    app.events.publish("storage.event", {"kind": kind, **subject, "old": old, "new": new,
                                         "message": message, "details": {"source": "SENTRY", **details}})
    active = new in BAD
    app.events.publish("alert", {"id": f"sentry:{what}", "severity": BAD.get(new, "info"),
                                 "message": message, "source": "SENTRY", "active": active})
    return {"what": what, "old": old, "new": new, "message": message, "alert": active}


async def sentry_pass(app: Any, pools: bool = True, smart: bool = True,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One poll of everything; returns the states seen and the changes announced."""
    need_storage(app)
    changes: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    errors: list[str] = []
    if pools:
        for p in await app.call("storage.pools.list"):
            if progress:
                progress(f"pool {p['name']}")
            try:
                health = await app.call("storage.pool.health", pool=p["name"])
                state, problems = health["state"], health.get("problems", [])
            except APIError as e:
                state, problems = "unavailable", [{"severity": "critical", "message": e.message}]
            seen[f"pool:{p['name']}"] = state
            changed, old = _changed(app, f"pool:{p['name']}", state, {"problems": problems})
            if changed:
                msg = f"pool {p['name']} is {state}" + (f" (was {old})" if old else "") + \
                      (f": {problems[0]['message']}" if problems else "")
                changes.append(_announce(app, "pool_state", {"pool": p["name"]}, f"pool:{p['name']}",
                                         old, state, msg, {"problems": problems}))
    if smart:
        for d in await app.call("storage.disks.list"):
            if progress:
                progress(f"SMART {d['name']}")
            try:
                rep = await app.call("storage.smart.read", disk=d["name"])
            except APIError as e:
                errors.append(f"{d['name']}: {e.message}")
                continue
            if not rep.get("supported"):
                continue
            key = f"smart:{d['name']}"
            seen[key] = rep["health"]
            changed, old = _changed(app, key, rep["health"], {"messages": rep.get("messages", [])})
            if changed:
                msg = f"SMART health of {d['name']}: {rep['health']}" + (f" (was {old})" if old else "")
                changes.append(_announce(app, "smart_health", {"disk": d["name"]}, key, old,
                                         rep["health"], msg, {"messages": rep.get("messages", [])}))
    return {"checked": seen, "changes": changes, "errors": errors}


async def run_sentry(ctx: JobContext, p: SentryParams) -> dict[str, Any]:
    return await sentry_pass(ctx.app, p.pools, p.smart,
                             lambda what: ctx.progress(description=f"checking {what}"))


async def poll_loop(app: Any) -> None:
    """The schedule: one pass every ``[storage_agents] sentry_interval`` seconds."""
    interval = app.config.section(CONFIG).sentry_interval
    while interval > 0:
        await asyncio.sleep(interval)
        try:
            await sentry_pass(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("SENTRY poll failed")


MIGRATIONS = ["CREATE TABLE storage_agents_health (key TEXT PRIMARY KEY, state TEXT NOT NULL, "
              "details TEXT NOT NULL, ts TEXT NOT NULL);"]

AGENT = Agent(name="SENTRY", tier="storage", specialty="storage", params_model=SentryParams,
              run=run_sentry, tags=["health", "smart"], lock=lambda p: "sentry",
              description="poll SMART and pool health; storage.event and alert on every change")
