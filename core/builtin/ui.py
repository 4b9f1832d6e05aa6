"""The core's own pages of the web UI (plugins add theirs through ``register_ui_pages``)."""

from __future__ import annotations

from typing import Callable

from sigmavault import hookimpl


@hookimpl
def register_ui_pages(register: Callable[..., None]) -> None:
    register(id="dashboard", title="Dashboard", path="/", icon="gauge")
    register(id="jobs", title="Jobs", path="/jobs", icon="list-checks")
    register(id="audit", title="Audit log", path="/audit", icon="scroll", section="admin")
    register(id="plugins", title="Plugins", path="/plugins", icon="puzzle", section="admin")
    register(id="settings", title="Users & API keys", path="/settings", icon="key", section="admin")
