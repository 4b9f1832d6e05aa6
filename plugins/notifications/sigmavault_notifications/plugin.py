"""Hook implementations of the notifications plugin. Hooks only; the work is in ``service.py``."""

from __future__ import annotations

from typing import Any, Callable

from sigmavault import hookimpl
from sigmavault.app import SigmaVault

from .config import NotificationsConfig
from .models import NotificationEvent
from .service import MIGRATIONS, NotificationService


@hookimpl
def register_config(register: Callable[[str, type], None]) -> None:
    register("notifications", NotificationsConfig)


@hookimpl
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    register("notifications", MIGRATIONS)


@hookimpl
def register_events(register: Callable[..., None]) -> None:
    register("notification", NotificationEvent,
             "the notification centre changed: a new or updated notification, or some were acknowledged")


@hookimpl
def register_services(app: SigmaVault, register: Callable[[Any], None]) -> None:
    register(NotificationService(app, app.config.section("notifications")))


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="notifications", title="Notifications", path="/notifications", icon="bell", section="admin")


@hookimpl
def event_published(app: SigmaVault, event: dict[str, Any]) -> None:
    """Every ``alert`` goes to the notification centre and, by the rules, to the channels."""
    if event.get("type") != "alert":
        return
    service = app.services.get(NotificationService)
    if service is not None:
        service.on_alert(event["data"])
