"""Why a user can or cannot read or write a share: the access list resolved like a POSIX ACL.

Resolution (the same order the kernel checks an ACL, so protocol rules and the folder agree):
an entry for the user decides alone (``none`` included); otherwise, if any of the user's groups has
an entry, the highest of those levels decides (a group entry hides ``everyone``, as a named group
entry hides ``other``); otherwise the ``everyone`` entry; otherwise no access. Then a disabled
account gets nothing, a read-only share caps at read, and the folder's ACL caps what is left.
A guest (no account) gets the ``everyone`` level on a share with ``guest_ok`` and nothing elsewhere.

A share protocol adds its own steps (:class:`sigmavault.hookspecs.AccessStep`: client rules,
squash, guest mapping …); :func:`combine` puts them around this chain and applies their caps.
"""

from __future__ import annotations

from typing import Iterable, Literal, Sequence, TypedDict

from sigmavault.hookspecs import AccessStep

from .acl import AclReading, effective_level, mode_reason
from .models import Group, Level, Share, User

Access = Literal["none", "read", "write"]
RANK = {"none": 0, "read": 1, "write": 2, "full": 2}
AS_ACCESS: dict[str, Access] = {"none": "none", "read": "read", "write": "write", "full": "write"}


class Explanation(TypedDict):
    access: Access
    reasons: list[str]


def memberships(user: User, groups: Iterable[Group]) -> set[str]:
    """The groups ``user`` belongs to: its own list and every group that lists it as a member."""
    return set(user.groups) | {g.name for g in groups if user.name in g.members}


def _as_access(level: Level) -> Access:
    return "write" if level == "full" else level


def list_level(share: Share, user: str | None, groups: set[str]) -> tuple[Access, str]:
    """The access list's answer for ``user`` (``None``: a guest) in ``groups``, with its reason."""
    everyone = next((e for e in share.access if e.kind == "everyone"), None)
    if user is None:
        if not share.guest_ok:
            return "none", "guests are not allowed on this share"
        if everyone is None:
            return "none", "guests get the 'everyone' level and there is no 'everyone' entry"
        return _as_access(everyone.level), f"guest: everyone has {everyone.level}"
    mine = next((e for e in share.access if e.kind == "user" and e.name == user), None)
    if mine is not None:
        return _as_access(mine.level), f"entry for user {user}: {mine.level}"
    via = [e for e in share.access if e.kind == "group" and e.name in groups]
    if via:
        best = max(via, key=lambda e: RANK[e.level])
        others = sorted(e.name or "" for e in via if e is not best)
        also = f" (also in {', '.join(others)})" if others else ""
        return _as_access(best.level), f"via group {best.name}: {best.level}{also}"
    if everyone is not None:
        return _as_access(everyone.level), f"no entry for {user} or their groups; everyone: " \
                                           f"{everyone.level}"
    return "none", f"no entry for {user}, their groups or everyone"


def explain(share: Share, user: User | None, groups: Iterable[Group] = (),
            acl: AclReading | None = None) -> Explanation:
    """Effective access of ``user`` (``None``: a guest) to ``share`` and the chain of reasons.

    :param acl: the share folder's ACL as read back (:func:`.acl.read_acl`); when given, what it
        allows caps the answer, and a disagreement with the access list is named.
    """
    groups = list(groups)
    member_of = memberships(user, groups) if user is not None else set()
    access, why = list_level(share, user.name if user else None, member_of)
    if user is not None and not user.enabled:
        return _capped(share, "none", [why, f"account {user.name} is disabled"], acl, None,
                       member_of)
    return _capped(share, access, [why], acl, user.name if user else None, member_of)


def explain_other(share: Share, acl: AclReading | None = None) -> Explanation:
    """What a request from an account that is no NAS user gets (an NFS uid squashed to nobody):
    the ``everyone`` entry, as the folder ACL's "other" entry gives it, whatever ``guest_ok``."""
    everyone = next((e for e in share.access if e.kind == "everyone"), None)
    if everyone is None:
        return _capped(share, "none", ["no NAS account, and there is no 'everyone' entry"], acl,
                       None, set())
    return _capped(share, _as_access(everyone.level),
                   [f"no NAS account: everyone has {everyone.level}"], acl, None, set())


def _capped(share: Share, access: Access, reasons: list[str], acl: AclReading | None,
            user: str | None, member_of: set[str]) -> Explanation:
    """The caps after the access list: a disabled share, a read-only share, the folder's ACL."""
    if not share.enabled:
        reasons.append("share is disabled")
        access = "none"
    if access == "write" and share.read_only:
        reasons.append("share is read-only")
        access = "read"
    if acl is not None and access != "none":
        fs = effective_level(acl, user, member_of)
        if acl.mode is not None:  # no POSIX ACLs: the mode bits decide
            reasons.append(mode_reason(acl, user, member_of))
            access = fs if RANK[fs] < RANK[access] else access
        elif RANK[fs] < RANK[access]:
            reasons.append(f"filesystem ACL on the folder allows only {fs}")
            access = fs
        else:
            reasons.append(f"filesystem ACL on the folder allows {fs}")
    return {"access": access, "reasons": reasons}


def resolve_levels(share: Share, users: Iterable[User], groups: Iterable[Group] = ()
                   ) -> dict[str, Access]:
    """Every NAS user's access to ``share`` from the list alone (disabled accounts: none; a
    read-only share caps at read): what protocol plugins render as their rules."""
    groups = list(groups)
    return {u.name: explain(share, u, groups)["access"] for u in users}


def guest_level(share: Share) -> Access:
    """What somebody who is no NAS user gets: the guest (on a ``guest_ok`` share) level."""
    return explain(share, None)["access"]


def whose(steps: Sequence[AccessStep]) -> AccessStep | None:
    """The protocol step that decides whose rights apply (the last that changes it), if any."""
    return next((s for s in reversed(steps) if s.acts_as or s.as_other or s.superuser), None)


def combine(steps: Sequence[AccessStep], chain: Explanation | None) -> Explanation:
    """A protocol's steps around the access list's ``chain`` (``None``: a superuser, to whom the
    list does not apply): their reasons in order, the lowest of every cap and the chain's level.
    A step before the list that allows nothing (a refused client or login) ends the chain."""
    if any(s.cap == "none" and not s.after for s in steps):
        chain = {"access": "none", "reasons": []}
    access: Access = chain["access"] if chain is not None else "write"
    for step in steps:
        if step.cap is not None and RANK[step.cap] < RANK[access]:
            access = AS_ACCESS[step.cap]
    reasons = [s.reason for s in steps if not s.after]
    reasons += chain["reasons"] if chain is not None else []
    reasons += [s.reason for s in steps if s.after]
    return {"access": access, "reasons": reasons}
