"""Storage agents of the ``sigmavault-storage`` distribution (entry point ``storage-agents``):
DELTA, STREAM, MIRROR, HARBOR, AEGIS, SENTRY, BEACON, ARCHITECT, ORACLE.

They use the storage service only through its named methods (``storage.*``) and the backends
registry, never its modules."""

from __future__ import annotations

from typing import Any, Callable

from sigmavault import hookimpl

from . import aegis, architect, beacon, delta, harbor, mirror, oracle, sentry, stream
from .common import CONFIG
from .config import StorageAgentsConfig

AGENTS = [delta.AGENT, stream.AGENT, mirror.AGENT, harbor.AGENT, aegis.AGENT, sentry.AGENT,
          beacon.AGENT, architect.AGENT, oracle.AGENT]


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register(CONFIG, StorageAgentsConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("storage_agents", [*sentry.MIGRATIONS, *beacon.MIGRATIONS, *oracle.MIGRATIONS])


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    for agent in AGENTS:
        register(agent)


@hookimpl
def startup(app: Any) -> None:
    cfg: StorageAgentsConfig = app.config.section(CONFIG)
    if cfg.sentry_interval > 0:
        app.spawn(sentry.poll_loop(app))
    if cfg.oracle_interval > 0:
        app.spawn(oracle.record_loop(app))


@hookimpl
def event_published(app: Any, event: dict[str, Any]) -> None:
    aegis.on_event(app, event)
