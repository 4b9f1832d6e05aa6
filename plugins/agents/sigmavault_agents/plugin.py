"""Hook implementations of the agents plugin (entry point ``sigmavault_agents.plugin``)."""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from typing import Any

from sigmavault import hookimpl

from . import routes
from .agents import conduit, files, orchestration, security
from .config import AgentsConfig
from .migrations import MIGRATIONS
from .models import AgentStatusEvent
from .runtime import Runtime
from .scheduler import Scheduler
from .state import attach, runtime_of


@hookimpl
def register_config(register: Any) -> None:
    register("agents", AgentsConfig)


@hookimpl
def register_migrations(register: Any) -> None:
    register("agents", MIGRATIONS)


@hookimpl
def register_events(register: Any) -> None:
    register("agent.status", AgentStatusEvent, "an agent changed state (idle, busy, error)")


@hookimpl
def register_agents(register: Any) -> None:
    for agent in (*files.AGENTS, *security.AGENTS, *orchestration.AGENTS, *conduit.AGENTS):
        register(agent)


@hookimpl
def register_routes(app: Any) -> None:
    routes.register(app)


@hookimpl
def register_ui_pages(register: Any) -> None:
    register(id="agents", title="Agents", path="/agents", icon="bot", section="main")


@hookimpl
def startup(app: Any) -> None:
    cfg = app.config.section("agents")
    runtime = Runtime(app, retry_backoff=cfg.retry_backoff, history=cfg.history)
    runtime.recover()
    scheduler = Scheduler(runtime, cfg.scheduler_interval)
    attach(app, runtime, scheduler)
    app.spawn(scheduler.loop())


def _about_relay(event: dict[str, Any]) -> bool:
    data = event.get("data") or {}
    return (event["type"] == "agent.status" and data.get("agent") == "RELAY") or \
        (event["type"] == "job.progress" and data.get("kind") == "agent.RELAY")


@hookimpl
def event_published(app: Any, event: dict[str, Any]) -> None:
    """Hand events matching a configured webhook to RELAY (never RELAY's own, to avoid loops)."""
    hooks = app.config.section("agents").webhooks
    if not hooks or _about_relay(event):
        return
    targets = [w.name for w in hooks if any(fnmatchcase(event["type"], p) for p in w.events)]
    if targets:
        try:
            runtime_of(app).dispatch("RELAY", {"targets": targets, "event": event["type"], "payload": event},
                                     source=f"event:{event['type']}")
        except Exception:  # the daemon must not fail because a notification could not queue
            import logging
            logging.getLogger("sigmavault.agents").exception("could not queue RELAY for %s", event["type"])


@hookimpl
def security_checks(app: Any) -> list[dict[str, str]]:
    out = []
    for root in app.config.section("agents").allowed_roots:
        if os.path.realpath(root) == "/":
            out.append({"id": "agents_root_is_slash", "severity": "high", "title": "agents may touch the whole system",
                        "detail": "[agents] allowed_roots contains '/'; list the data directories instead"})
        elif not os.path.isdir(root):
            out.append({"id": f"agents_root_missing:{root}", "severity": "low",
                        "title": "allowed root does not exist", "detail": str(root)})
    return out
