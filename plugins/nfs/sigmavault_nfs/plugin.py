"""Hook implementations of the NFS plugin: the ``[nfs]`` section, the NFS service and its
registration as the ``nfs`` share protocol. Hooks only; the work is in ``service.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool
from sigmavault.app import SigmaVault

from .config import NfsConfig
from .service import MIGRATIONS, NfsService


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("nfs", NfsConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("nfs", MIGRATIONS)


@hookimpl
def register_services(app: SigmaVault, register: Callable[[Any], None]) -> None:
    register(NfsService(app, app.config.section("nfs")))


@hookimpl
def register_share_protocols(register: Callable[[Any], None], app: SigmaVault) -> None:
    register(app.services[NfsService])


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("ganesha.nfsd", "NFS exports cannot be served where the kernel NFS server is absent",
             ("ganesha.nfsd", "-v")),
        Tool("rpcbind", "NFSv3 exports cannot be served"),
    ):
        register(tool)
