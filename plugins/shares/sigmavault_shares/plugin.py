"""Hook implementations of the shares plugin: NAS accounts and protocol-neutral shares. Hooks
only; the work is in ``accounts.py`` and ``shares.py``."""

from __future__ import annotations

from typing import Any, Callable

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool
from sigmavault.app import SigmaVault

from .config import SharesConfig
from .models import ShareEvent
from .accounts import AccountService
from .agents import AGENTS
from .shares import ShareService
from .store import MIGRATIONS

# storage events after which the shares are resolved again (their snapshot lists changed)
REFRESH_ON = {"snapshot_created", "snapshot_deleted", "pool_imported", "volume_deleted"}


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("shares", SharesConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("shares", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("share.event", ShareEvent, "a share was created, changed or deleted; a share "
             "protocol's server went down or came up; a client connected or disconnected")


@hookimpl
def register_services(app: SigmaVault, register: Callable[[Any], None]) -> None:
    config = app.config.section("shares")
    register(AccountService(app, config))
    register(ShareService(app, config))


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="shares", title="Shares", path="/shares", icon="folder-share", section="main")
    register(id="accounts", title="Share accounts", path="/accounts", icon="users", section="main")


@hookimpl
async def startup(app: SigmaVault) -> None:
    """Every service runs now (storage included): resolve the shares and hand them to the
    protocols."""
    shares = app.services[ShareService]
    if shares.store.shares() or shares.store.users():
        await shares.refresh()


@hookimpl
def event_published(app: SigmaVault, event: dict) -> None:
    if event["type"] == "storage.event" and event["data"].get("kind") in REFRESH_ON:
        shares = app.services.get(ShareService)
        if shares is not None and shares.store.shares():
            app.spawn(shares.refresh())


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("setfacl", "share access lists cannot be applied to folders",
             ("setfacl", "--version")),
        Tool('getfacl', "the access explainer cannot read folders' ACLs", ('getfacl', '--version')),
        Tool("useradd", "NAS accounts cannot be created on the system"),
    ):
        register(tool)
