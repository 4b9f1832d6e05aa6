"""Hook implementations of the SMB plugin: the ``[smb]`` section, the SMB service and its
registration as the ``smb`` share protocol. Hooks only; the work is in ``service.py``."""

from __future__ import annotations

from typing import Any, Callable

from sigmavault import hookimpl
from sigmavault.hookspecs import Tool
from sigmavault.app import SigmaVault

from .config import SmbConfig
from .explain import SmbProtocol
from .service import SmbService


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("smb", SmbConfig)


@hookimpl
def register_services(app: SigmaVault, register: Callable[[Any], None]) -> None:
    register(SmbService(app, app.config.section("smb")))


@hookimpl
def register_share_protocols(register: Callable[[Any], None], app: SigmaVault) -> None:
    register(SmbProtocol(app.services[SmbService]))


@hookimpl
def backup_paths(app: SigmaVault) -> list[Any]:
    """Samba's private dir: the NAS accounts' SMB password hashes (passdb.tdb) and the server's
    secrets (secrets.tdb) live there, not in the database."""
    return [app.data_dir / "smb" / "private"]


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    for tool in (
        Tool("smbd", "SMB shares cannot be served", ("smbd", "--version")),
        Tool("testparm", "the SMB configuration cannot be checked before it goes live",
             ("testparm", "--version")),
        Tool("smbpasswd", "NAS accounts get no SMB password"),
        Tool("pdbedit", "SMB accounts cannot be enabled, disabled or listed"),
        Tool("smbcontrol", "SMB configuration changes need a restart of smbd"),
        Tool("smbstatus", "connected SMB clients cannot be listed"),
    ):
        register(tool)
