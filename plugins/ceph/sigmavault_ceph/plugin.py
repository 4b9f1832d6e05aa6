"""Hook implementations of the ceph plugin (entry point ``sigmavault: ceph``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sigmavault import hookimpl
from sigmavault.backends import StorageBackend

from .config import CephConfig
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
    register(CephService(app, app.config.section("ceph")))


@hookimpl
def register_storage_backends(register: Callable[[Any], None], app: SigmaVault) -> None:
    backend: StorageBackend = app.services[CephService].backend
    register(backend)
