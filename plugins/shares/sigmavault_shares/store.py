"""The shares plugin's tables, read as the building blocks' models, and what both services share:
errors naming their field, ``share.event`` and the registered share protocols."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any


from sigmavault.app import SigmaVault
from sigmavault.errors import APIError, not_found

from .models import (Group, ShareCreate, ShareEvent, User)

log = logging.getLogger("sigmavault.shares")

MIGRATIONS = ["""
CREATE TABLE shares_users (
    name TEXT PRIMARY KEY,
    uid INTEGER NOT NULL UNIQUE,
    full_name TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL
);
CREATE TABLE shares_groups (
    name TEXT PRIMARY KEY,
    gid INTEGER NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE shares_members (
    group_name TEXT NOT NULL REFERENCES shares_groups(name) ON DELETE CASCADE,
    user_name TEXT NOT NULL REFERENCES shares_users(name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
);
CREATE TABLE shares (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    spec TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def field_error(status: int, code: str, field: str, message: str, **details: Any) -> APIError:
    """An error whose message starts with the field it is about (``details.field`` too)."""
    return APIError(status, code, f"{field}: {message}", {"field": field, **details})


def publish(app: SigmaVault, **data: Any) -> None:
    app.events.publish("share.event", ShareEvent(**data))


def protocols(app: SigmaVault) -> dict[str, Any]:
    return app.registries.get("share_protocols", {})


class Store:
    """Reads of the plugin's tables as the building blocks' models."""

    def __init__(self, app: SigmaVault) -> None:
        self.app = app

    def members(self) -> list[dict[str, Any]]:
        return self.app.db.all("SELECT group_name, user_name FROM shares_members "
                               "ORDER BY group_name, user_name")

    def users(self) -> list[User]:
        rows = self.app.db.all("SELECT * FROM shares_users ORDER BY name")
        groups: dict[str, list[str]] = {}
        for m in self.members():
            groups.setdefault(m["user_name"], []).append(m["group_name"])
        return [User(name=r["name"], uid=r["uid"], full_name=r["full_name"],
                     enabled=bool(r["enabled"]), groups=groups.get(r["name"], [])) for r in rows]

    def groups(self) -> list[Group]:
        rows = self.app.db.all("SELECT * FROM shares_groups ORDER BY name")
        members: dict[str, list[str]] = {}
        for m in self.members():
            members.setdefault(m["group_name"], []).append(m["user_name"])
        return [Group(name=r["name"], gid=r["gid"], members=members.get(r["name"], []))
                for r in rows]

    def user(self, name: str) -> User:
        found = next((u for u in self.users() if u.name == name), None)
        if found is None:
            raise not_found("user", name)
        return found

    def group(self, name: str) -> Group:
        found = next((g for g in self.groups() if g.name == name), None)
        if found is None:
            raise not_found("group", name)
        return found

    def shares(self) -> list[ShareCreate]:
        return [ShareCreate.model_validate_json(r["spec"])
                for r in self.app.db.all("SELECT spec FROM shares ORDER BY name COLLATE NOCASE")]

    def share(self, name: str) -> ShareCreate:
        row = self.app.db.one("SELECT spec FROM shares WHERE name = ?", (name,))
        if row is None:
            raise not_found("share", name)
        return ShareCreate.model_validate_json(row["spec"])


