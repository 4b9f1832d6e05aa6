"""Hook implementations of the encryption plugin (entry point ``encryption``). Hooks only: the
work is in ``service.py`` (keystore, status, crash clean-up), ``keys.py``, ``jobs.py``, the
agents in ``agents/`` and the registered encryptor in ``encryptor.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sigmavault import hookimpl

from .agents import AGENTS
from .config import EncryptionConfig
from .encryptor import AgeEncryptor
from .jobs import FileJobService
from .keys import KeyService
from .models import EncryptionEvent
from .service import EncryptionService
from .state import MIGRATIONS

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("encryption", EncryptionConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("encryption", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("encryption.event", EncryptionEvent,
             "an encryption key changed state, or a file failed to authenticate")


@hookimpl
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    register(EncryptionService(app, app.config.section("encryption")))
    register(KeyService(app))
    register(FileJobService(app))


@hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    for agent in AGENTS:
        register(agent)


@hookimpl
def register_encryptors(register: Callable[[Any], None], app: "SigmaVault") -> None:
    register(AgeEncryptor(app.services[EncryptionService]))


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="encryption", title="Encryption", path="/encryption", icon="lock", section="security")


@hookimpl
def security_checks(app: "SigmaVault") -> list[dict[str, str]]:
    return app.services[EncryptionService].security_findings()


@hookimpl
def backup_paths(app: "SigmaVault") -> list[Any]:
    """The keystore: the sealed identities live in files, not in the database."""
    config: EncryptionConfig = app.config.section("encryption")
    return [config.keystore_dir or app.data_dir / "encryption" / "keys"]
