"""Hook implementations of the encryption plugin."""

from __future__ import annotations

from typing import Any

from sigmavault import hookimpl

from . import agents, routes, xwing
from .config import EncryptionConfig
from .encryptor import AgeEncryptor
from .models import EncryptionEvent
from .service import service
from .state import MIGRATIONS


@hookimpl
def register_config(register: Any) -> None:
    register("encryption", EncryptionConfig)


@hookimpl
def register_migrations(register: Any) -> None:
    register("encryption", MIGRATIONS)


@hookimpl
def register_events(register: Any) -> None:
    register("encryption.event", EncryptionEvent,
             "an encryption key changed state, or a file failed to authenticate")


@hookimpl
def register_routes(app: Any) -> None:
    routes.register(app)


@hookimpl
def register_agents(register: Any) -> None:
    for agent in agents.AGENTS:
        register(agent)


@hookimpl
def register_encryptors(register: Any) -> None:
    register(AgeEncryptor())


@hookimpl
def register_ui_pages(register: Any) -> None:
    register(id="encryption", title="Encryption", path="/encryption", icon="lock", section="security")


@hookimpl
def startup(app: Any) -> None:
    service(app).recover_interrupted()
    encryptor = app.registries["encryptors"].get("age")
    if isinstance(encryptor, AgeEncryptor):
        encryptor.bind(app)


@hookimpl
def security_checks(app: Any) -> list[dict[str, str]]:
    svc = service(app)
    findings = svc.keystore.mode_findings()
    ok, reason = xwing.supported()
    if not ok:
        findings.append({"id": "encryption.no_pq_backend", "severity": "medium",
                         "title": "no post-quantum encryption available", "detail": reason})
    classic = [k for k in svc.keystore.list() if not k.post_quantum and k.status == "active"]
    if classic and ok:
        findings.append({"id": "encryption.classic_keys", "severity": "low",
                         "title": "X25519-only encryption keys are active",
                         "detail": f"{len(classic)} key(s) are not quantum-resistant: "
                                   + ", ".join(k.name for k in classic)})
    return findings
