"""NAS accounts (``/shares/users``, ``/shares/groups``): stored in SigmaVault's database, the
source of truth, and applied to the system after every change (Unix users and groups, then every
share protocol: Samba's password database …). Input is checked completely before anything is
stored; when a later step fails, the stored state is put back and applied again."""

from __future__ import annotations

import asyncio
import logging
import grp
import pwd
from typing import Any, Iterable


from sigmavault import operation
from sigmavault.app import SigmaVault
from sigmavault.errors import conflict
from sigmavault.hookspecs import ShareAccount

from . import unix_accounts as unix
from .config import SharesConfig
from .explain import memberships
from .models import (AccountName, Group, NasGroupCreate, NasGroup, NasGroupUpdate, User, NasUserCreate, NasUser,
                     NasUserUpdate, check_password, next_id)

from .store import Store, _now, field_error, protocols

log = logging.getLogger("sigmavault.shares")


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

    # 409: a name or id taken, an account in use; 404: a member or group named in a body
    route_defaults = {"errors": (404, 409), "params": {"user": AccountName, "group": AccountName}}

    def __init__(self, app: SigmaVault, config: SharesConfig) -> None:
        self.app, self.config = app, config
        self.store = Store(app)
        self.ids = unix.IdRange(config.first_id, config.last_id)
        self.lock = asyncio.Lock()  # every change of accounts or shares, one at a time

    def _shares(self) -> Any:
        from .shares import ShareService  # the two services call each other
        return self.app.services[ShareService]

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
            await self._shares().apply_protocols()
        except BaseException:
            self._restore(snapshot)
            try:
                await self.reconcile()
                await self._shares().apply_protocols()
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
