"""Hook implementations of the ceph plugin (entry point ``sigmavault: ceph``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sigmavault import hookimpl
from sigmavault.backends import StorageBackend
from sigmavault.hookspecs import Tool

from .config import CephConfig
from .join import CephJoinService
from .osds import CephOsdService
from .service import MIGRATIONS, CephService

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("ceph", CephConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("ceph", MIGRATIONS)


@hookimpl
def register_services(app: SigmaVault, register: Callable[[Any], None]) -> None:
    ceph = CephService(app, app.config.section("ceph"))
    register(ceph)
    register(CephJoinService(app, ceph))
    register(CephOsdService(app))


@hookimpl
def register_storage_backends(register: Callable[[Any], None], app: SigmaVault) -> None:
    backend: StorageBackend = app.services[CephService].backend
    register(backend)


@hookimpl
async def disk_roles(app: SigmaVault) -> dict[str, dict[str, Any]]:
    return await app.services[CephOsdService].disk_roles()


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("ceph", "Ceph clusters cannot be reached (pools on CephFS are unavailable)",
             ("ceph", "--version")),
        Tool("ceph-fuse", "CephFS file systems cannot be mounted"),
        Tool("ceph-mon", "a Ceph cluster cannot be bootstrapped here"),
        Tool("ceph-osd", "this node cannot hold Ceph OSDs"),
        Tool("ceph-mds", "CephFS needs a metadata server: none can run here"),
    ):
        register(tool)
