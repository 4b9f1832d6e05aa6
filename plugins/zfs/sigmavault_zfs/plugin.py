"""Hook implementations of the zfs plugin (entry point ``sigmavault: zfs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool

from .agents import lattice
from .config import ZfsConfig
from .service import ZfsService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("zfs", ZfsConfig)


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    register(ZfsService(app, app.config.section("zfs")))


@hookimpl
def register_storage_backends(register: Callable[[Any], None], app: "SigmaVault") -> None:
    register(app.services[ZfsService].backend)


@hookimpl
def register_agents(register: Callable[[Any], None], app: "SigmaVault") -> None:
    register(lattice.agent())


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("zpool", "ZFS pools cannot be used"),
        Tool("zfs", "ZFS datasets and snapshots cannot be used"),
    ):
        register(tool)
