"""Hook implementations of the replication plugin (entry point ``replication``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl

from .config import ReplicationConfig
from .receiver import ReceiverService
from .service import ReplicationService
from .store import MIGRATIONS

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("replication", ReplicationConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("replication", MIGRATIONS)


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    # the receiver first: its fixed paths (/replication/targets …) before /replication/{task}
    cfg: ReplicationConfig = app.config.section("replication")
    register(ReceiverService(app, cfg.inbox_ttl_seconds))
    register(ReplicationService(app, cfg))
