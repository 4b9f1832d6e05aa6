"""Hook implementations of the hello plugin: it greets people, counts greetings in SQLite and
tells the event stream about each one. Hooks only; the work is in ``service.py``."""

from __future__ import annotations

from typing import Any, Callable

from sigmavault import hookimpl
from sigmavault.app import SigmaVault

from .config import HelloConfig
from .models import Greeted
from .service import MIGRATIONS, HelloService


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("hello", HelloConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("hello", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("hello.greeted", Greeted, "somebody was greeted through POST /api/v1/hello")


@hookimpl
def register_services(app: SigmaVault, register: Callable[[Any], None]) -> None:
    register(HelloService(app, app.config.section("hello")))


@hookimpl
def job_interrupted(app: SigmaVault, job: dict[str, Any]) -> None:
    """A countdown cut short by a crash has nothing to clean up; say so in the audit log."""
    if job["kind"] == "hello.countdown":
        app.audit("hello.countdown.interrupted", job["id"], outcome="aborted")


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="hello", title="Hello", path="/plugins/hello", icon="hand")
    register(id="hello-stats", title="Greetings", path="/hello/stats", icon="hand", kind="widget")
