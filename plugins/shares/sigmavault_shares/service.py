"""The shares plugin's services: NAS accounts and protocol-neutral shares.

The database is the source of truth. After every change (and at start-up) the system is made to
match it: :func:`.accounts.reconcile` for Unix users and groups, :func:`.acl.apply_share_acl` for
a share's folder, then every registered share protocol (``register_share_protocols``) gets the
resolved shares and accounts. Input is checked completely before anything is stored; when a
later step still fails, the stored state is put back and applied again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import grp
import pwd
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from sigmavault import operation
from sigmavault.api import validation_error
from sigmavault.app import SigmaVault
from sigmavault.errors import APIError, conflict, not_found
from sigmavault.hookspecs import ResolvedShare, ShareAccount, ShareSnapshot
from sigmavault.validation import inside

from . import accounts as unix
from .acl import apply_share_acl, read_acl
from .config import SharesConfig
from .explain import explain, guest_level, memberships, resolve_levels
from .models import (AccessOut, AccessQuery, Group, NasGroupCreate, NasGroup, NasGroupUpdate, Share,
                     ShareCreate, ShareEvent, ShareOut, ShareUpdate, User, NasUserCreate, NasUser,
                     NasUserUpdate, check_password, next_id)

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


# --- the stored state -----------------------------------------------------------------------------


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


def _ids_taken(app: SigmaVault) -> set[int]:
    return {r["n"] for r in app.db.all("SELECT uid AS n FROM shares_users UNION "
                                       "SELECT gid AS n FROM shares_groups")}


def _system_clash(kind: str, name: str, number: int | None, managed: set[str],
                  ids: unix.IdRange) -> None:
    """409 naming ``name`` or the id field when a system account SigmaVault does not manage has
    that name or id."""
    by_name, by_id = (pwd.getpwnam, pwd.getpwuid) if kind == "user" else (grp.getgrnam,
                                                                          grp.getgrgid)
    id_field = "uid" if kind == "user" else "gid"
    try:
        entry = by_name(name)
    except KeyError:
        entry = None
    if entry is not None and name not in managed:
        foreign = (not unix.is_managed_user(entry, ids)) if isinstance(entry, pwd.struct_passwd) \
            else entry[2] not in ids
        if foreign:
            raise field_error(409, "account_exists", "name", f"{kind} {name!r} already exists on "
                              f"this system and is not a NAS {kind}")
    if number is None:
        return
    try:
        holder = by_id(number)[0]
    except KeyError:
        return
    if holder != name and holder not in managed:
        raise field_error(409, "id_taken", id_field, f"{id_field} {number} already belongs to "
                          f"the system {kind} {holder!r}")


class AccountService:
    """NAS users and groups (``/shares/users``, ``/shares/groups``)."""

    def __init__(self, app: SigmaVault, config: SharesConfig) -> None:
        self.app, self.config = app, config
        self.store = Store(app)
        self.ids = unix.IdRange(config.first_id, config.last_id)
        self.lock = asyncio.Lock()  # every change of accounts or shares, one at a time

    async def start(self) -> None:
        """Apply the stored accounts to the system. A database that never held an account
        changes nothing (another daemon's or an older install's accounts stay)."""
        if self.store.users() or self.store.groups():
            try:
                await self.reconcile()
            except Exception:
                log.exception("NAS accounts could not be applied to the system")

    async def reconcile(self) -> None:
        if self.config.manage_system_accounts:
            await unix.reconcile(self.store.users(), self.store.groups(), ids=self.ids,
                                 primary_group=self.config.primary_group)

    def accounts(self) -> list[ShareAccount]:
        groups = self.store.groups()
        return [ShareAccount(name=u.name, uid=u.uid, enabled=u.enabled, full_name=u.full_name,
                             groups=tuple(sorted(memberships(u, groups))))
                for u in self.store.users()]

    # --- checks ------------------------------------------------------------------------------------

    def _new_id(self, given: int | None, field: str) -> int:
        taken = _ids_taken(self.app)
        if given is None:
            try:
                return next_id(taken, self.ids.first, self.ids.last)
            except ValueError as exc:
                raise field_error(409, "no_free_id", field, str(exc)) from None
        if given not in self.ids:
            raise field_error(422, "id_outside_range", field, f"{given} is outside the NAS "
                              f"account range {self.ids.first}-{self.ids.last}")
        if given in taken:
            raise field_error(409, "id_taken", field, f"{given} is already used by a NAS account")
        return given

    def _check_groups(self, names: Iterable[str], field: str = "groups") -> None:
        known = {g.name for g in self.store.groups()}
        unknown = sorted(set(names) - known)
        if unknown:
            raise field_error(422, "unknown_group", field, f"no NAS group {', '.join(unknown)}")

    def _check_users(self, names: Iterable[str], field: str = "members") -> None:
        known = {u.name for u in self.store.users()}
        unknown = sorted(set(names) - known)
        if unknown:
            raise field_error(422, "unknown_user", field, f"no NAS user {', '.join(unknown)}")

    @staticmethod
    def _check_password(user: str, password: str) -> None:
        try:
            check_password(user, password)
        except ValueError as exc:
            raise field_error(422, "weak_password", "password", str(exc)) from None

    def _in_use(self, kind: str, name: str) -> None:
        using = [s.name for s in self.store.shares()
                 if any(e.kind == kind and e.name == name for e in s.access)]
        if using:
            raise conflict(f"{kind} {name} is in the access list of share(s) {', '.join(using)}; "
                           "remove it there first", code="account_in_use", shares=using)

    # --- applying ----------------------------------------------------------------------------------

    async def _apply(self, snapshot: dict[str, list[dict[str, Any]]],
                     passwords: dict[str, str] | None = None) -> None:
        """Reconcile the system, hand passwords to the protocols and re-apply every share; on
        failure the tables go back to ``snapshot`` (taken before the change) and are applied
        again before the error is raised."""
        try:
            await self.reconcile()
            for user, password in (passwords or {}).items():
                for proto in protocols(self.app).values():
                    await proto.set_password(user, password)
            await self.app.services[ShareService].apply_protocols()
        except BaseException:
            self._restore(snapshot)
            try:
                await self.reconcile()
                await self.app.services[ShareService].apply_protocols()
            except Exception:
                log.exception("restoring the NAS accounts failed")
            raise

    def _snapshot(self) -> dict[str, list[dict[str, Any]]]:
        db = self.app.db
        return {t: db.all(f"SELECT * FROM {t}")
                for t in ("shares_users", "shares_groups", "shares_members")}

    def _restore(self, snapshot: dict[str, list[dict[str, Any]]]) -> None:
        with self.app.db.transaction() as conn:
            conn.execute("DELETE FROM shares_members")
            conn.execute("DELETE FROM shares_users")
            conn.execute("DELETE FROM shares_groups")
            for table in ("shares_users", "shares_groups", "shares_members"):
                for row in snapshot[table]:
                    cols = ", ".join(row)
                    marks = ", ".join("?" for _ in row)
                    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                                 tuple(row.values()))

    @staticmethod
    def _user_out(u: User, groups: list[Group]) -> NasUser:
        return NasUser(name=u.name, uid=u.uid, full_name=u.full_name,
                       groups=sorted(memberships(u, groups)), enabled=u.enabled)

    # --- users -------------------------------------------------------------------------------------

    @operation("shares.users.list", get="/shares/users", response=list[NasUser],
               summary="NAS users")
    async def list_users(self) -> list[NasUser]:
        groups = self.store.groups()
        return [self._user_out(u, groups) for u in self.store.users()]

    @operation("shares.user.get", get="/shares/users/{user}", response=NasUser,
               summary="One NAS user")
    async def get_user(self, user: str) -> NasUser:
        return self._user_out(self.store.user(user), self.store.groups())

    @operation("shares.user.create", post="/shares/users", body=NasUserCreate, response=NasUser,
               status=201, summary="Create a NAS user (Unix account and every protocol's "
               "password)")
    async def create_user(self, body: NasUserCreate) -> NasUser:
        async with self.lock:
            if self.app.db.one("SELECT 1 FROM shares_users WHERE name = ?", (body.name,)) or \
                    self.app.db.one("SELECT 1 FROM shares_groups WHERE name = ?", (body.name,)):
                raise field_error(409, "account_exists", "name", f"{body.name!r} is already a "
                                  "NAS user or group")
            managed = set(unix.managed_users(self.ids))
            if self.config.manage_system_accounts:
                _system_clash("user", body.name, body.uid, managed, self.ids)
            uid = self._new_id(body.uid, "uid")
            password = body.password.get_secret_value()
            self._check_password(body.name, password)
            self._check_groups(body.groups)
            before = self._snapshot()
            with self.app.db.transaction() as conn:
                conn.execute("INSERT INTO shares_users (name, uid, full_name, enabled, created) "
                             "VALUES (?, ?, ?, ?, ?)", (body.name, uid, body.full_name,
                                                        int(body.enabled), _now()))
                for g in sorted(set(body.groups)):
                    conn.execute("INSERT INTO shares_members (group_name, user_name) "
                                 "VALUES (?, ?)", (g, body.name))
            await self._apply(before, {body.name: password})
        return await self.get_user(body.name)

    @operation("shares.user.update", patch="/shares/users/{user}", body=NasUserUpdate,
               response=NasUser, summary="Change a NAS user's full name, groups, enabled or "
               "password")
    async def update_user(self, user: str, body: NasUserUpdate) -> NasUser:
        async with self.lock:
            self.store.user(user)  # 404 first
            passwords = {}
            if body.password is not None:
                passwords[user] = body.password.get_secret_value()
                self._check_password(user, passwords[user])
            if body.groups is not None:
                self._check_groups(body.groups)
            before = self._snapshot()
            with self.app.db.transaction() as conn:
                if body.full_name is not None:
                    conn.execute("UPDATE shares_users SET full_name = ? WHERE name = ?",
                                 (body.full_name, user))
                if body.enabled is not None:
                    conn.execute("UPDATE shares_users SET enabled = ? WHERE name = ?",
                                 (int(body.enabled), user))
                if body.groups is not None:
                    conn.execute("DELETE FROM shares_members WHERE user_name = ?", (user,))
                    for g in sorted(set(body.groups)):
                        conn.execute("INSERT INTO shares_members (group_name, user_name) "
                                     "VALUES (?, ?)", (g, user))
            await self._apply(before, passwords)
        return await self.get_user(user)

    @operation("shares.user.delete", delete="/shares/users/{user}", status=204,
               summary="Delete a NAS user (its Unix account and protocol passwords)")
    async def delete_user(self, user: str) -> None:
        async with self.lock:
            self.store.user(user)
            self._in_use("user", user)
            before = self._snapshot()
            self.app.db.execute("DELETE FROM shares_users WHERE name = ?", (user,))
            for proto in protocols(self.app).values():
                try:
                    await proto.remove_user(user)
                except Exception:
                    log.exception("protocol %s could not remove user %s", proto.name, user)
            await self._apply(before)

    # --- groups ------------------------------------------------------------------------------------

    @operation("shares.groups.list", get="/shares/groups", response=list[NasGroup],
               summary="NAS groups")
    async def list_groups(self) -> list[NasGroup]:
        return [NasGroup(**g.model_dump(include={"name", "gid", "members"}))
                for g in self.store.groups()]

    @operation("shares.group.get", get="/shares/groups/{group}", response=NasGroup,
               summary="One NAS group")
    async def get_group(self, group: str) -> NasGroup:
        g = self.store.group(group)
        return NasGroup(name=g.name, gid=g.gid, members=g.members)

    @operation("shares.group.create", post="/shares/groups", body=NasGroupCreate, response=NasGroup,
               status=201, summary="Create a NAS group")
    async def create_group(self, body: NasGroupCreate) -> NasGroup:
        async with self.lock:
            if self.app.db.one("SELECT 1 FROM shares_groups WHERE name = ?", (body.name,)) or \
                    self.app.db.one("SELECT 1 FROM shares_users WHERE name = ?", (body.name,)):
                raise field_error(409, "account_exists", "name", f"{body.name!r} is already a "
                                  "NAS user or group")
            managed = set(unix.managed_groups(self.ids))
            if self.config.manage_system_accounts:
                _system_clash("group", body.name, body.gid, managed, self.ids)
            gid = self._new_id(body.gid, "gid")
            self._check_users(body.members)
            before = self._snapshot()
            with self.app.db.transaction() as conn:
                conn.execute("INSERT INTO shares_groups (name, gid, created) VALUES (?, ?, ?)",
                             (body.name, gid, _now()))
                for m in sorted(set(body.members)):
                    conn.execute("INSERT INTO shares_members (group_name, user_name) "
                                 "VALUES (?, ?)", (body.name, m))
            await self._apply(before)
        return await self.get_group(body.name)

    @operation("shares.group.update", patch="/shares/groups/{group}", body=NasGroupUpdate,
               response=NasGroup, summary="Change a NAS group's members")
    async def update_group(self, group: str, body: NasGroupUpdate) -> NasGroup:
        async with self.lock:
            self.store.group(group)
            if body.members is not None:
                self._check_users(body.members)
                before = self._snapshot()
                with self.app.db.transaction() as conn:
                    conn.execute("DELETE FROM shares_members WHERE group_name = ?", (group,))
                    for m in sorted(set(body.members)):
                        conn.execute("INSERT INTO shares_members (group_name, user_name) "
                                     "VALUES (?, ?)", (group, m))
                await self._apply(before)
        return await self.get_group(group)

    @operation("shares.group.delete", delete="/shares/groups/{group}", status=204,
               summary="Delete a NAS group")
    async def delete_group(self, group: str) -> None:
        async with self.lock:
            self.store.group(group)
            self._in_use("group", group)
            before = self._snapshot()
            self.app.db.execute("DELETE FROM shares_groups WHERE name = ?", (group,))
            await self._apply(before)


# --- shares ---------------------------------------------------------------------------------------


def _gmt_ok(created: str) -> bool:
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def grant_traverse(folder: Path, stop: Path | None = None) -> list[str]:
    """Give "other" search (``x``, not read) permission on every ancestor of ``folder`` that
    lacks it, so the accounts the share's ACL admits can reach it; the folders changed."""
    changed = []
    for parent in folder.parents:
        if parent == Path("/") or (stop is not None and parent == stop):
            break
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            try:
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
            except OSError as exc:  # a read-only snapshot file system
                log.warning("cannot let share users traverse %s: %s", parent, exc)
                continue
            changed.append(str(parent))
    return changed


class ShareService:
    """Protocol-neutral shares (``/shares``): stored, applied as ACLs, served by protocols."""

    def __init__(self, app: SigmaVault, config: SharesConfig) -> None:
        self.app, self.config = app, config
        self.store = Store(app)

    @property
    def accounts(self) -> AccountService:
        return self.app.services[AccountService]

    # --- resolving ---------------------------------------------------------------------------------

    async def _volume_path(self, pool: str, volume: str) -> Path:
        try:
            return Path(await self.app.call("storage.volume.path", pool=pool, volume=volume))
        except APIError as exc:
            if exc.status == 404 or exc.status == 400:
                field = "pool" if "pool" in exc.message.split(" ")[0:2] else "volume"
                raise field_error(exc.status, exc.code, field, exc.message) from None
            raise

    async def folder(self, share: Share) -> tuple[Path, Path]:
        """(volume path, the share's folder), the subfolder checked to stay inside the
        volume (400 naming ``subfolder``)."""
        vol = await self._volume_path(share.pool, share.volume)
        if not share.subfolder:
            return vol, vol
        try:
            return vol, inside(vol, share.subfolder)
        except APIError as exc:
            raise field_error(exc.status, exc.code, "subfolder", exc.message) from None

    async def _snapshots(self, pool: str, volume: str) -> tuple[ShareSnapshot, ...]:
        if not self.app.has_method("storage.snapshot.list"):
            return ()
        try:
            rows = await self.app.call("storage.snapshot.list", pool=pool, volume=volume)
        except APIError:
            return ()  # a backend without snapshots
        out = []
        for r in rows:
            path = r.get("path") or await self.app.call("storage.snapshot.path", pool=pool,
                                                        volume=volume, snapshot=r["name"])
            if _gmt_ok(str(r.get("created", ""))):
                out.append(ShareSnapshot(name=r["name"], created=str(r["created"]), path=path))
        return tuple(out)

    def _options(self, share: ShareCreate, proto: Any) -> dict[str, Any]:
        model = getattr(proto, "options_model", None)
        raw = share.options.get(proto.name, {})
        return model.model_validate(raw).model_dump() if model is not None else dict(raw)

    async def resolve(self, share: ShareCreate, users: list[User], groups: list[Group],
                      proto: Any) -> ResolvedShare:
        vol, folder = await self.folder(share)
        return ResolvedShare(
            name=share.name, path=str(folder), pool=share.pool, volume=share.volume,
            volume_path=str(vol), subfolder=share.subfolder,
            levels=dict(resolve_levels(share, users, groups)), guest=guest_level(share),
            description=share.description, read_only=share.read_only, guest_ok=share.guest_ok,
            browseable=share.browseable, hosts_allow=tuple(share.hosts_allow),
            hosts_deny=tuple(share.hosts_deny), options=self._options(share, proto),
            snapshots=await self._snapshots(share.pool, share.volume))

    async def _resolved(self, shares: list[ShareCreate], proto: Any, strict: str | None = None
                        ) -> list[ResolvedShare]:
        """The enabled shares listing ``proto``; a share that cannot be resolved (its volume is
        gone) is left out and logged, except ``strict`` (the share being changed) which raises."""
        users, groups = self.store.users(), self.store.groups()
        out = []
        for s in shares:
            if not s.enabled or proto.name not in s.protocols:
                continue
            try:
                out.append(await self.resolve(s, users, groups, proto))
            except APIError:
                if strict is not None and s.name.lower() == strict.lower():
                    raise
                log.warning("share %s left out: its folder cannot be resolved", s.name)
        return out

    async def apply_protocols(self, shares: list[ShareCreate] | None = None) -> None:
        """Hand every protocol its resolved shares and the accounts."""
        shares = self.store.shares() if shares is None else shares
        accounts = self.accounts.accounts()
        for proto in protocols(self.app).values():
            resolved = await self._resolved(shares, proto)
            for r in resolved:
                for snap in r.snapshots:  # taken before the share existed, or a new backend dir
                    grant_traverse(Path(snap.path) / "x")
            await proto.apply(resolved, accounts)

    async def refresh(self) -> None:
        """Re-apply everything (snapshots changed, start-up); errors are logged."""
        async with self.accounts.lock:
            try:
                await self.apply_protocols()
            except Exception:
                log.exception("applying the shares to their protocols failed")

    async def _prepare_folder(self, share: ShareCreate) -> Path:
        vol, folder = await self.folder(share)
        folder.mkdir(parents=True, exist_ok=True)
        grant_traverse(folder)
        await apply_share_acl(folder, share.access)
        return folder

    # --- checks ------------------------------------------------------------------------------------

    async def _check(self, share: ShareCreate, others: list[ShareCreate]) -> None:
        """Everything about ``share`` that can be checked without changing anything: 4xx naming
        the field."""
        clash = next((s for s in others if s.name.lower() == share.name.lower()), None)
        if clash is not None:
            raise field_error(409, "share_exists", "name", f"share {clash.name!r} exists already "
                              "(share names ignore case)")
        registered = protocols(self.app)
        unknown = [p for p in share.protocols if p not in registered]
        if unknown:
            raise field_error(422, "unknown_protocol", "protocols",
                              f"no share protocol {', '.join(unknown)} is installed (have: "
                              f"{', '.join(sorted(registered)) or 'none'})")
        for name, opts in share.options.items():
            if name not in registered:
                raise field_error(422, "unknown_protocol", f"options.{name}",
                                  f"no share protocol {name} is installed")
            model = getattr(registered[name], "options_model", None)
            if model is not None:
                try:
                    model.model_validate(opts)
                except ValidationError as exc:
                    raise validation_error(exc, f"options.{name}") from None
        users = {u.name for u in self.store.users()}
        groups = {g.name for g in self.store.groups()}
        for i, e in enumerate(share.access):
            if e.kind == "user" and e.name not in users or \
                    e.kind == "group" and e.name not in groups:
                raise field_error(422, f"unknown_{e.kind}", f"access.{i}.name",
                                  f"no NAS {e.kind} {e.name}")
        _, folder = await self.folder(share)
        data = self.app.data_dir.resolve()
        if folder == data or data in folder.parents or folder in data.parents:
            raise field_error(409, "share_in_data_dir", "volume", f"{folder} is inside (or "
                              f"holds) SigmaVault's private data directory {data}")
        everything = [*others, share]
        accounts = self.accounts.accounts()
        for proto in registered.values():
            check = getattr(proto, "check", None)
            if check is not None:
                await check(await self._resolved(everything, proto, strict=share.name), accounts)

    async def _commit(self, share: ShareCreate, replaced: str | None, kind: str) -> None:
        """Store ``share`` (replacing ``replaced``), apply its ACL and every protocol; put the
        old row back when a step fails."""
        old = self.app.db.one("SELECT * FROM shares WHERE name = ?", (replaced,)) \
            if replaced else None
        with self.app.db.transaction() as conn:
            if replaced:
                conn.execute("DELETE FROM shares WHERE name = ?", (replaced,))
            conn.execute("INSERT INTO shares (name, spec, created, updated) VALUES (?, ?, ?, ?)",
                         (share.name, share.model_dump_json(),
                          old["created"] if old else _now(), _now()))
        try:
            await self._prepare_folder(share)
            await self.apply_protocols()
        except BaseException:
            with self.app.db.transaction() as conn:
                conn.execute("DELETE FROM shares WHERE name = ?", (share.name,))
                if old is not None:
                    conn.execute("INSERT INTO shares (name, spec, created, updated) "
                                 "VALUES (?, ?, ?, ?)", (old["name"], old["spec"],
                                                         old["created"], old["updated"]))
            try:
                await self.apply_protocols()
            except Exception:
                log.exception("re-applying the shares after a failed change failed")
            raise
        publish(self.app, kind=kind, share=share.name, message=f"share {share.name} {kind}")

    async def _out(self, share: ShareCreate) -> ShareOut:
        try:
            _, folder = await self.folder(share)
            path: str | None = str(folder)
        except APIError:
            path = None
        return ShareOut(**share.model_dump(), path=path)

    # --- operations --------------------------------------------------------------------------------

    @operation("shares.list", get="/shares", response=list[ShareOut], summary="Shares")
    async def list_shares(self) -> list[ShareOut]:
        return [await self._out(s) for s in self.store.shares()]

    @operation("shares.get", get="/shares/{share}", response=ShareOut, summary="One share")
    async def get_share(self, share: str) -> ShareOut:
        return await self._out(self.store.share(share))

    @operation("shares.create", post="/shares", body=ShareCreate, response=ShareOut, status=201,
               summary="Create a share: folder (made when missing), ACL, protocols")
    async def create_share(self, body: ShareCreate) -> ShareOut:
        async with self.accounts.lock:
            await self._check(body, self.store.shares())
            await self._commit(body, None, "created")
        return await self.get_share(body.name)

    @operation("shares.update", patch="/shares/{share}", body=ShareUpdate, response=ShareOut,
               summary="Change a share; the ACL and every protocol follow")
    async def update_share(self, share: str, body: ShareUpdate) -> ShareOut:
        async with self.accounts.lock:
            current = self.store.share(share)
            merged = current.model_dump()
            merged.update(body.model_dump(exclude_unset=True))
            try:
                updated = ShareCreate.model_validate(merged)
            except ValidationError as exc:
                raise validation_error(exc, "body") from None
            others = [s for s in self.store.shares() if s.name.lower() != share.lower()]
            await self._check(updated, others)
            await self._commit(updated, current.name, "changed")
        return await self.get_share(share)

    @operation("shares.delete", delete="/shares/{share}", status=204,
               summary="Delete a share (its folder and files stay)")
    async def delete_share(self, share: str) -> None:
        async with self.accounts.lock:
            current = self.store.share(share)
            row = self.app.db.one("SELECT * FROM shares WHERE name = ?", (share,))
            self.app.db.execute("DELETE FROM shares WHERE name = ?", (share,))
            try:
                await self.apply_protocols()
            except BaseException:
                assert row is not None
                self.app.db.execute("INSERT INTO shares (name, spec, created, updated) "
                                    "VALUES (?, ?, ?, ?)", tuple(row.values()))
                raise
        publish(self.app, kind="deleted", share=current.name,
                message=f"share {current.name} deleted")

    @operation("shares.access", get="/shares/{share}/access", query=AccessQuery,
               response=AccessOut, summary="Why a user (or a guest) can or cannot read or write "
               "a share, the folder's ACL included")
    async def access(self, share: str, user: str | None = None) -> AccessOut:
        s = self.store.share(share)
        who = self.store.user(user) if user is not None else None
        _, folder = await self.folder(s)
        acl = await read_acl(folder) if folder.exists() else None
        verdict = explain(s, who, self.store.groups(), acl)
        if acl is None:
            verdict["reasons"].append(f"folder {folder} does not exist")
            verdict["access"] = "none"
        entries = [f"{e.tag}:{e.qualifier or ''}:{e.perms}" for e in acl.access] if acl else []
        return AccessOut(access=verdict["access"], reasons=verdict["reasons"], user=user,
                         path=str(folder), acl=entries)

