"""Reconcile Unix users and groups from the NAS accounts SigmaVault's database holds.

Only managed accounts are ever changed or removed: a user is managed when its uid lies in the
reserved range (``first_id``..``last_id``) and its GECOS "other" field is ``sigmavault``; a group
is managed when its gid lies in the range (groups have no field to carry a mark, so the range is
reserved for SigmaVault). A desired name that a foreign account already has is refused before
anything changes. Users get no home folder created, the ``nologin`` shell and a shared primary
group; a disabled user's account is expired (the SMB side disables its own entry). Running it
twice changes nothing the second time.
"""

from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass
from typing import Sequence

from sigmavault.commands import run
from sigmavault.errors import bad_request, conflict

from .models import FIRST_ID, LAST_ID, Group, User

MARK = "sigmavault"
NOLOGIN = "/usr/sbin/nologin"
NO_HOME = "/nonexistent"


@dataclass(frozen=True)
class IdRange:
    first: int = FIRST_ID
    last: int = LAST_ID

    def __contains__(self, n: object) -> bool:
        return isinstance(n, int) and self.first <= n <= self.last


def gecos(user: User) -> str:
    return f"{user.full_name},,,,{MARK}"


def is_managed_user(entry: pwd.struct_passwd, ids: IdRange) -> bool:
    return entry.pw_uid in ids and entry.pw_gecos.split(",")[4:5] == [MARK]


def managed_users(ids: IdRange = IdRange()) -> dict[str, pwd.struct_passwd]:
    return {p.pw_name: p for p in pwd.getpwall() if is_managed_user(p, ids)}


def managed_groups(ids: IdRange = IdRange()) -> dict[str, grp.struct_group]:
    return {g.gr_name: g for g in grp.getgrall() if g.gr_gid in ids}


def desired_memberships(users: Sequence[User], groups: Sequence[Group]) -> dict[str, list[str]]:
    """Each user's supplementary groups: its own list plus the groups that list it as member."""
    out = {u.name: set(u.groups) for u in users}
    for g in groups:
        for m in g.members:
            if m in out:
                out[m].add(g.name)
    return {name: sorted(gs) for name, gs in out.items()}


def _refuse_foreign(users: Sequence[User], groups: Sequence[Group], ids: IdRange) -> None:
    known = {g.name for g in groups}
    users_known = {u.name for u in users}
    for u in users:
        unknown = sorted(set(u.groups) - known)
        if unknown:
            raise bad_request(f"user {u.name} names unknown group(s) {', '.join(unknown)}",
                              code="unknown_group")
    for g in groups:
        unknown = sorted(set(g.members) - users_known)
        if unknown:
            raise bad_request(f"group {g.name} lists unknown user(s) {', '.join(unknown)}",
                              code="unknown_user")
    for u in users:
        if u.uid not in ids:
            raise conflict(f"uid {u.uid} of {u.name} is outside {ids.first}-{ids.last}",
                           code="account_outside_range")
        try:
            entry = pwd.getpwnam(u.name)
        except KeyError:
            entry = None
        if entry is not None and not is_managed_user(entry, ids):
            raise conflict(f"user {u.name} exists on this system and is not a NAS user",
                           code="account_foreign")
        try:
            holder = pwd.getpwuid(u.uid)
        except KeyError:
            holder = None
        if holder is not None and holder.pw_name != u.name and not is_managed_user(holder, ids):
            raise conflict(f"uid {u.uid} belongs to the system user {holder.pw_name}",
                           code="account_foreign")
    for g in groups:
        if g.gid not in ids:
            raise conflict(f"gid {g.gid} of {g.name} is outside {ids.first}-{ids.last}",
                           code="account_outside_range")
        try:
            gentry = grp.getgrnam(g.name)
        except KeyError:
            continue
        if gentry.gr_gid not in ids:
            raise conflict(f"group {g.name} exists on this system and is not a NAS group",
                           code="account_foreign")


async def _expired(names: Sequence[str]) -> set[str]:
    """Which of ``names`` have an expiry date set (one ``getent shadow`` for all)."""
    if not names:
        return set()
    result = await run(["getent", "shadow", *names], timeout=30, check=False)
    out = set()
    for line in result.stdout.splitlines():
        fields = line.strip().split(":")
        if len(fields) > 7 and fields[7] != "":
            out.add(fields[0])
    return out


async def reconcile(users: Sequence[User], groups: Sequence[Group], *,
                    ids: IdRange = IdRange(), primary_group: str = "users") -> list[list[str]]:
    """Make the system's managed users and groups exactly ``users`` and ``groups``; the commands
    run (argv lists, for the audit log). Raises a 409 before any change when a name or id is
    held by an account SigmaVault does not manage."""
    _refuse_foreign(users, groups, ids)
    done: list[list[str]] = []

    async def do(*argv: str) -> None:
        await run(list(argv), timeout=60)
        done.append(list(argv))

    want_users = {u.name: u for u in users}
    want_groups = {g.name: g for g in groups}
    for name in sorted(set(managed_users(ids)) - set(want_users)):
        await do("userdel", name)
    have_groups = managed_groups(ids)
    for name in sorted(set(have_groups) - set(want_groups)):
        await do("groupdel", name)
    for g in groups:
        current = have_groups.get(g.name)
        if current is None:
            await do("groupadd", "--gid", str(g.gid), g.name)
        elif current.gr_gid != g.gid:
            await do("groupmod", "--gid", str(g.gid), g.name)

    have_users = managed_users(ids)
    members = desired_memberships(users, groups)
    all_groups = grp.getgrall()
    current_groups = {u: sorted(g.gr_name for g in all_groups if u in g.gr_mem)
                      for u in want_users}
    existing = [u.name for u in users if u.name in have_users]
    expired = await _expired(existing)
    for u in users:
        home = u.home or NO_HOME
        supplementary = ",".join(members[u.name])
        entry = have_users.get(u.name)
        if entry is None:
            await do("useradd", "--no-create-home", "--shell", NOLOGIN, "--uid", str(u.uid),
                     "--no-user-group", "--gid", primary_group, "--home-dir", home,
                     "--comment", gecos(u), *(["--groups", supplementary] if supplementary else []),
                     u.name)
        else:
            change: list[str] = []
            if entry.pw_uid != u.uid:
                change += ["--uid", str(u.uid)]
            if entry.pw_gecos != gecos(u):
                change += ["--comment", gecos(u)]
            if entry.pw_dir != home:
                change += ["--home", home]
            if entry.pw_shell != NOLOGIN:
                change += ["--shell", NOLOGIN]
            if current_groups[u.name] != members[u.name]:
                change += ["--groups", supplementary]
            if change:
                await do("usermod", *change, u.name)
        # a user just added has no expiry date
        if (u.name in expired if entry is not None else False) == u.enabled:
            await do("usermod", "--expiredate", "" if u.enabled else "1", u.name)
    return done
