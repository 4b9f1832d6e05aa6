"""RELAY: notifications, alerts and events delivered to webhooks with retry and backoff."""

from __future__ import annotations

import asyncio
import logging
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, Field

from sigmavault.errors import APIError
from sigmavault.hookspecs import Agent
from sigmavault.jobs import JobContext

from .. import webhook
from ..runtime import Runtime

log = logging.getLogger("sigmavault.agents")


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


RELAY = Agent(
    name="RELAY", tier="support", specialty="notifications", params_model=RelayParams, run=run_relay,
    concurrency=4, timeout=600, description="deliver alerts and events to webhooks with retry and backoff")
