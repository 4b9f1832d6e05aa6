"""Hook implementations of the system plugin (entry point ``sigmavault: system``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl

from .agents import pulse
from .alerts import MIGRATIONS
from .config import SystemConfig
from .models import Metrics
from .service import SystemService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("system", SystemConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("system", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("system.metrics", Metrics,
             "one metrics sample (CPU, memory, network/disk rates, temperatures, filesystems), "
             "published every sampling interval while someone subscribes")


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    register(SystemService(app, app.config.section("system")))


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    register(pulse.agent())


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="system", title="System", path="/system", icon="activity", section="main")
    register(id="system-network", title="Network", path="/system/network", icon="network",
             section="main")
