"""CHRONICLE, SYNAPSE, RELAY and OMNISCIENT: audit, workflows, notifications and the scheduler."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from ..locate import Target, resolve
from ..runtime import Runtime
from ..scheduler import Scheduler
from ..work import chain, template, webhook
from .common import state_dir, where

log = logging.getLogger("sigmavault.agents")

# --- CHRONICLE -----------------------------------------------------------------------------------


class ChronicleParams(BaseModel):
    action: Literal["verify", "export", "rotate"] = "verify"
    keep: int = Field(10_000, ge=0, description="rotate: newest records kept in the live log")
    destination: Target | None = Field(None, description="export/rotate: directory for the file "
                                       "(default: the agent's state directory)")
    file: str | None = Field(None, pattern=r"^audit-[0-9TZ-]+\.jsonl$",
                             description="verify: an exported file instead of the live log")

    async def preflight(self, app: Any) -> None:
        if self.destination is not None:
            await resolve(app, self.destination, kind="dir")


def _rows(app: Any, upto: int | None = None) -> list[dict[str, Any]]:
    if upto is None:
        return app.db.all("SELECT * FROM audit ORDER BY id")
    return app.db.all("SELECT * FROM audit WHERE id <= ? ORDER BY id", (upto,))


async def _export(ctx: JobContext, p: ChronicleParams, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from sigmavault.files import atomic_write

    directory = await where(ctx, p.destination) if p.destination else state_dir(ctx.app, "CHRONICLE")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"audit-{stamp}.jsonl"
    with atomic_write(path, "w", overwrite=False) as f:
        n = chain.write_jsonl(f, rows)
    path.chmod(0o600)
    return {"file": str(path), "records": n, "first_id": rows[0]["id"] if rows else None,
            "last_id": rows[-1]["id"] if rows else None}


async def run_chronicle(ctx: JobContext, p: ChronicleParams) -> dict[str, Any]:
    app = ctx.app
    if p.action == "verify":
        if p.file:
            path = state_dir(app, "CHRONICLE") / p.file
            if not path.is_file():
                raise APIError(404, "not_found", f"export {p.file} does not exist", {"kind": "export"})
            rows = chain.read_jsonl(path)
            return {"file": str(path), **app.audit_log.check_rows(rows, anchored=False)}
        report = await ctx.to_thread(app.audit_log.verify)
        if not report["ok"]:
            app.events.publish("alert", {"id": "chronicle:audit", "severity": "critical", "source": "CHRONICLE",
                                         "active": True, "message": "audit log tampered with: "
                                         f"{report['problems'][0]['message']}"})
        return report
    if p.action == "export":
        rows = _rows(app)
        return {**await _export(ctx, p, rows), **app.audit_log.check_rows(rows)}
    # rotate: export everything but the newest ``keep`` records, then drop them and move the
    # signed checkpoint past them in one transaction
    last = app.db.one("SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?", (p.keep,))
    if last is None:
        return {"rotated": 0, "kept": app.db.one("SELECT count(*) AS n FROM audit")["n"]}
    rows = _rows(app, last["id"])
    check = app.audit_log.check_rows(rows)
    if not check["ok"]:
        raise APIError(409, "chain_broken", f"audit chain broken at record {check['first_bad_id']}; "
                       "refusing to rotate (export it and investigate)", check)
    exported = await _export(ctx, p, rows)
    app.audit_log.rotate(last["id"], rows[-1]["hash"],
                         {"file": exported["file"], "records": exported["records"]})
    app.audit("agents.chronicle.rotate", exported["file"], "ok",
              {"records": exported["records"], "last_id": exported["last_id"]})
    kept = app.db.one("SELECT count(*) AS n FROM audit")["n"]
    return {"rotated": exported["records"], "kept": kept, **exported,
            "live_chain": app.audit_log.verify()}


# --- SYNAPSE -------------------------------------------------------------------------------------


class Step(BaseModel):
    agent: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="may use ${prev.<field>} and ${steps.<n>.<field>}")
    priority: int = Field(0, ge=-100, le=100)


class SynapseParams(BaseModel):
    steps: list[Step] = Field(min_length=1, max_length=20)
    stop_on_error: bool = True

    async def preflight(self, app: Any) -> None:
        runtime = app.services[Runtime]
        for n, step in enumerate(self.steps):
            if step.agent.upper() == "SYNAPSE":
                raise APIError(400, "nested_workflow", f"step {n}: a workflow cannot run SYNAPSE itself")
            runtime.slot(step.agent)
            if "${" not in str(step.params):
                runtime.validate(step.agent, step.params)


async def run_synapse(ctx: JobContext, p: SynapseParams) -> dict[str, Any]:
    await p.preflight(ctx.app)
    runtime = ctx.app.services[Runtime]
    results: list[dict[str, Any]] = []
    prev: Any = None
    for n, step in enumerate(p.steps):
        context = {"prev": prev, "steps": [r.get("result") for r in results]}
        try:
            params = template.substitute(step.params, context)
        except KeyError as exc:
            raise APIError(422, "bad_reference",
                           f"step {n}: reference {exc.args[0]!r} not found in earlier results") from None
        task = runtime.dispatch(step.agent, params, priority=step.priority, source=f"synapse:{ctx.job_id}")
        ctx.progress(percent=100.0 * n / len(p.steps), description=f"step {n + 1}/{len(p.steps)}: {step.agent}")
        ctx.log(f"step {n}: {step.agent} task {task['id']}")
        try:
            done = await runtime.wait(task["id"])
        except asyncio.CancelledError:
            try:
                runtime.cancel(task["id"])
            except APIError:
                pass
            raise
        results.append({"agent": done["agent"], "task_id": done["id"], "state": done["state"],
                        "result": done["result"], "error": done["error"]})
        prev = done["result"]
        if done["state"] != "SUCCESS" and p.stop_on_error:
            raise APIError(500, "step_failed", f"step {n} ({step.agent}) {done['state']}: {done['error']}")
    return {"steps": results, "ok": all(r["state"] == "SUCCESS" for r in results), "result": prev}


# --- RELAY ---------------------------------------------------------------------------------------


class RelayParams(BaseModel):
    targets: list[str] = Field(min_length=1, max_length=20,
                               description="webhook names from [agents] webhooks, or http(s) URLs")
    event: str = Field("message", max_length=100)
    payload: Any = Field(default_factory=dict)
    attempts: int | None = Field(None, ge=1, le=20, description="default: the webhook's, else 5")
    backoff: float = Field(0.5, ge=0, le=60, description="first retry delay in seconds; doubles")
    timeout: float = Field(10, gt=0, le=120, description="seconds per attempt")

    def resolved(self, app: Any) -> list[tuple[str, str | None, int]]:
        hooks = {w.name: w for w in app.config.section("agents").webhooks}
        out = []
        for t in self.targets:
            if t in hooks:
                out.append((hooks[t].url, hooks[t].secret, self.attempts or hooks[t].attempts))
            else:
                try:
                    out.append((webhook.check_url(t), None, self.attempts or 5))
                except ValueError as exc:
                    raise APIError(400, "bad_target", f"{exc}; or name a configured webhook "
                                   f"({', '.join(hooks) or 'none configured'})") from None
        return out

    async def preflight(self, app: Any) -> None:
        self.resolved(app)


def _about_relay(event: dict[str, Any]) -> bool:
    data = event.get("data") or {}
    return (event["type"] == "agent.status" and data.get("agent") == "RELAY") or \
        (event["type"] == "job.progress" and data.get("kind") == "agent.RELAY")


def relay_event(app: Any, event: dict[str, Any]) -> None:
    """Queue a RELAY task for an event that matches configured webhooks (never for RELAY's own
    events, which would loop); a failure to queue is logged, never raised."""
    hooks = app.config.section("agents").webhooks
    if not hooks or _about_relay(event):
        return
    targets = [w.name for w in hooks if any(fnmatchcase(event["type"], p) for p in w.events)]
    if targets:
        try:
            app.services[Runtime].dispatch("RELAY", {"targets": targets, "event": event["type"],
                                                     "payload": event}, source=f"event:{event['type']}")
        except Exception:  # the daemon must not fail because a notification could not queue
            log.exception("could not queue RELAY for %s", event["type"])


async def run_relay(ctx: JobContext, p: RelayParams) -> dict[str, Any]:
    async def one(url: str, secret: str | None, attempts: int) -> dict[str, Any]:
        try:
            r = await webhook.deliver(url, p.payload, event=p.event, secret=secret, attempts=attempts,
                                      backoff=p.backoff, timeout=p.timeout)
        except webhook.DeliveryError as exc:
            r = {"url": url, "delivered": False, "error": str(exc), "attempts": exc.attempts}
        for a in r["attempts"]:
            ctx.log(f"{url} attempt {a['attempt']}: {a.get('status') or a.get('error')}")
        return r

    deliveries = await asyncio.gather(*(one(*t) for t in p.resolved(ctx.app)))
    failed = [d for d in deliveries if not d["delivered"]]
    if failed:
        raise APIError(502, "delivery_failed", "; ".join(d["error"] for d in failed), {"deliveries": deliveries})
    return {"event": p.event, "deliveries": deliveries}


# --- OMNISCIENT ----------------------------------------------------------------------------------


class OmniscientParams(BaseModel):
    action: Literal["health", "list", "schedule", "unschedule"] = "health"
    agent: str | None = Field(None, max_length=64, description="schedule: the agent to run")
    cron: str | None = Field(None, max_length=200, description="schedule: 5 fields, or 6 with seconds last")
    params: dict[str, Any] = Field(default_factory=dict, description="schedule: the agent's params")
    priority: int = Field(0, ge=-100, le=100)
    name: str = Field("", max_length=100)
    schedule_id: str | None = Field(None, max_length=64, description="unschedule: which one")

    @model_validator(mode="after")
    def _needs(self) -> "OmniscientParams":
        if self.action == "schedule" and not (self.agent and self.cron):
            raise ValueError("action 'schedule' needs 'agent' and 'cron'")
        if self.action == "unschedule" and not self.schedule_id:
            raise ValueError("action 'unschedule' needs 'schedule_id'")
        return self


async def run_omniscient(ctx: JobContext, p: OmniscientParams) -> dict[str, Any]:
    runtime, scheduler = ctx.app.services[Runtime], ctx.app.services[Scheduler]
    if p.action == "schedule":
        return scheduler.create(p.agent, p.cron, p.params, p.priority, p.name)
    if p.action == "unschedule":
        scheduler.delete_schedule(p.schedule_id)
        return {"deleted": p.schedule_id}
    schedules = scheduler.list_schedules()
    if p.action == "list":
        return {"schedules": schedules}
    swarm = runtime.swarm()
    now = time.time()
    lagging = [s for s in schedules if s["enabled"] and s["next_run"]
               and datetime.fromisoformat(s["next_run"]).timestamp() < now - 60]
    recent = ctx.app.db.all("SELECT agent, state FROM agents_tasks WHERE finished_at > ?", (now - 3600,))
    failures: dict[str, list[int]] = {}
    for r in recent:
        f = failures.setdefault(r["agent"], [0, 0])
        f[1] += 1
        f[0] += r["state"] == "FAILED"
    failing = {a: {"failed": f, "finished": t} for a, (f, t) in failures.items() if f}
    errored = sorted(n for n, s in runtime.slots.items() if s.state == "error")
    return {"healthy": not errored and not lagging, "swarm": swarm, "agents_in_error": errored,
            "failures_last_hour": failing, "lagging_schedules": lagging, "schedules": len(schedules)}


AGENTS = [
    Agent(name="CHRONICLE", tier="storage", specialty="audit log", params_model=ChronicleParams,
          run=run_chronicle, concurrency=1, description="verify the audit hash chain, export and rotate it"),
    Agent(name="SYNAPSE", tier="support", specialty="workflow", params_model=SynapseParams,
          run=run_synapse, concurrency=4, timeout=None,
          description="run a chain of agent tasks, passing results along"),
    Agent(name="RELAY", tier="support", specialty="notifications", params_model=RelayParams, run=run_relay,
          concurrency=4, timeout=600, description="deliver alerts and events to webhooks with retry and backoff"),
    Agent(name="OMNISCIENT", tier="support", specialty="scheduler and swarm coordination",
          params_model=OmniscientParams, run=run_omniscient, concurrency=1, timeout=60,
          description="cron-like schedules for any agent task (persisted, run after restarts), swarm health"),
]
