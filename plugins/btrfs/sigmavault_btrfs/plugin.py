"""Hook implementations of the btrfs plugin (entry point ``btrfs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool

from .base import MIGRATIONS
from .config import BtrfsConfig
from .service import BtrfsService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("btrfs", BtrfsConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("btrfs", MIGRATIONS)


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    register(BtrfsService(app, app.config.section("btrfs")))


@hookimpl
def register_storage_backends(register: Callable[[Any], None], app: "SigmaVault") -> None:
    register(app.services[BtrfsService].backend)


@hookimpl
def security_checks(app: "SigmaVault") -> list[dict[str, Any]]:
    return app.services[BtrfsService].security_findings()


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("btrfs", "BTRFS pools cannot be created, mounted or scrubbed", ("btrfs", "--version")),
        Tool("compsize", "BTRFS volumes show no compression ratio"),
    ):
        register(tool)
