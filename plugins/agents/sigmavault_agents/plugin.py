"""Hook implementations of the agents plugin (entry point ``sigmavault_agents.plugin``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl

from .agents import AGENTS
from .agents.relay import relay_event
from .config import AgentsConfig
from .locate import root_findings
from .migrations import MIGRATIONS
from .models import AgentStatusEvent
from .runtime import Runtime
from .scheduler import Scheduler

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("agents", AgentsConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("agents", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("agent.status", AgentStatusEvent, "an agent changed state (idle, busy, error)")


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    cfg: AgentsConfig = app.config.section("agents")
    runtime = Runtime(app, retry_backoff=cfg.retry_backoff, history=cfg.history)
    register(runtime)  # first: it starts (loads the agents) before the scheduler's loop runs
    register(Scheduler(runtime, cfg.scheduler_interval))


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="agents", title="Agents", path="/agents", icon="bot", section="main")


@hookimpl
def event_published(app: "SigmaVault", event: dict[str, Any]) -> None:
    """Hand events matching a configured webhook to RELAY."""
    relay_event(app, event)


@hookimpl
def security_checks(app: "SigmaVault") -> list[dict[str, str]]:
    return root_findings(app.config.section("agents").allowed_roots)
