"""A share's access list as POSIX ACLs on its folder, and the folder's ACL read back.

Applied recursively: every existing file and directory gets the access ACL, every directory the
same list as its default ACL, so what is there already and what is created later (by any protocol
or locally) follow the list. Levels map to ``r-X`` (read) and ``rwX`` (write, full); ``X`` keeps
execute on directories and on files that already had it. The owning user keeps ``rwX`` (an owner
can change a file's mode anyway); the owning group gets nothing, ``other`` gets the ``everyone``
level, and the mask is ``rwX`` so named entries are not cut down. Symbolic links are not followed.
Runs ``setfacl``/``getfacl`` (Debian ``acl``) through :func:`sigmavault.commands.run`.

A file system without POSIX ACLs (zfs-fuse refuses every extended attribute) gets Unix mode bits
instead, when the list can be expressed by them (:func:`mode_plan`): the one user with a level
above none owns everything (else root), the one group entry is the owning group (else root's
group, with the ``everyone`` level as on the ACL path) and directories get the setgid bit so new
files keep that group, ``everyone`` is "other"; levels map to bits as to ACL entries
(:data:`LEVEL_BITS`, read back by :func:`bits_level`).

A share served by a protocol whose server checks mode bits rather than the ACL (NFS-Ganesha's VFS
FSAL) gets the same mode plan on a file system with POSIX ACLs too (:func:`apply_mode_shape`):
owner, group and mode as above, an ACL with no named entries (so its mask is the group bits) and
the plan as every directory's default ACL, so the mode bits and the ACL say the same.
"""

from __future__ import annotations

import asyncio
import errno
import grp
import os
import pwd
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from sigmavault.commands import run

from .models import AccessEntry

Access = Literal["none", "read", "write"]
PERMS = {"none": "---", "read": "r-X", "write": "rwX", "full": "rwX"}


def acl_spec(access: Iterable[AccessEntry]) -> str:
    """The ``setfacl --set`` text for an access list."""
    everyone = "none"
    named: list[str] = []
    for e in access:
        if e.kind == "everyone":
            everyone = e.level
        else:
            tag = "u" if e.kind == "user" else "g"
            named.append(f"{tag}:{e.name}:{PERMS[e.level]}")
    # the owning group gets the "everyone" level: files NAS users create belong to their primary
    # group, and a narrower g:: entry would match before "other" and shut the others out
    return ",".join(["u::rwX", f"g::{PERMS[everyone]}", f"o::{PERMS[everyone]}", *named, "m::rwX"])


async def apply_share_acl(path: Path | str, access: Iterable[AccessEntry],
                          timeout: float = 3600.0, mode_bits: bool = False) -> None:
    """Set the access list as the access ACL of everything under ``path`` and the default ACL of
    every directory there (replacing what was set before); on a file system without POSIX ACLs,
    or with ``mode_bits`` (the share is served by a server checking mode bits), as mode bits
    (:func:`mode_plan`, ``NoPosixAcls`` when the list cannot be). Users and groups must exist."""
    access = list(access)
    if not posix_acls(path):
        await asyncio.to_thread(apply_mode_plan, Path(path), mode_plan(access, fs_name(path)))
        return
    if mode_bits:
        await apply_mode_shape(path, mode_plan(access, why=MODE_BITS_SERVER), timeout)
        return
    spec = acl_spec(access)
    target = os.fspath(path)
    await run(["setfacl", "-R", "-P", "--set", spec, "--", target], timeout=timeout)
    await run(["setfacl", "-R", "-P", "-d", "--set", spec, "--", target], timeout=timeout)


# --- file systems without POSIX ACLs: mode bits --------------------------------------------------

LEVEL_BITS = {"none": 0, "read": 0o5, "write": 0o7, "full": 0o7}  # on directories; files drop x


def bits_level(bits: int) -> Access:
    """The level one class of mode bits (owner, group or other: ``0..7``) gives on a folder."""
    return "write" if bits & 7 == 7 else "read" if bits & 5 == 5 else "none"


def _existing(path: Path | str) -> Path:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def posix_acls(path: Path | str) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing ancestor) has POSIX
    ACLs. zfs-fuse answers every extended-attribute call with EOPNOTSUPP (and the kernel answers
    ``getxattr`` of the ACL names for it with ENODATA), so listing them tells."""
    try:
        os.listxattr(_existing(path), follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return False
        raise
    return True


def fs_name(path: Path | str) -> str:
    """The type of the file system holding ``path`` as a user knows it (``zfs-fuse`` for the
    kernel's ``fuse.zfs``)."""
    target, best, kind = str(_existing(path).resolve()), "", "unknown"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
            fstype = fields[fields.index("-") + 1]
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fstype
    return {"fuse.zfs": "zfs-fuse"}.get(kind, kind)


class NoPosixAcls(ValueError):
    """An access list that mode bits cannot express, on a file system without POSIX ACLs."""


@dataclass(frozen=True)
class ModePlan:
    """A share folder's owner, group and the bits of each class (:data:`LEVEL_BITS`)."""
    owner: str | None  # None: root
    group: str | None  # None: root's group
    owner_bits: int
    group_bits: int
    other_bits: int

    def mode(self, directory: bool, executable: bool = False) -> int:
        """The mode of a directory (setgid with a group) or a file (``x`` kept if it had one)."""
        bits = (self.owner_bits << 6) | (self.group_bits << 3) | self.other_bits
        if directory:
            return bits | (stat.S_ISGID if self.group is not None else 0)
        return bits if executable else bits & 0o666


MODE_BITS_SERVER = "its server checks mode bits, not POSIX ACLs: an access list on it can " \
    "name at most one user and one group"
EXPRESSIBLE = "mode bits express one user with write or full (who then owns the share's files), " \
    "one group (any level) and everyone"


def mode_plan(access: Iterable[AccessEntry], fs: str = "this", why: str | None = None
              ) -> ModePlan:
    """The mode bits giving every account what ``access`` gives it (resolved like the ACL),
    or ``NoPosixAcls`` saying why there are none. ``fs``: the file system's name, for that;
    ``why``: the reason mode bits are needed, when not the file system."""
    access = list(access)
    why = why or f"this volume's file system ({fs}) has no POSIX ACLs: an access list on it " \
                 "can name at most one user and one group"
    users = [e for e in access if e.kind == "user" and e.level != "none"]
    groups = [e for e in access if e.kind == "group"]
    everyone = next((e.level for e in access if e.kind == "everyone"), "none")
    if len(users) > 1:
        raise NoPosixAcls(f"{why} ({', '.join(f'{e.name}: {e.level}' for e in users)})")
    if len(groups) > 1:
        raise NoPosixAcls(f"{why} (groups {', '.join(str(e.name) for e in groups)})")
    group = groups[0] if groups else None
    shut = [e.name for e in access if e.kind == "user" and e.level == "none"]
    if shut and (everyone != "none" or (group is not None and group.level != "none")):
        raise NoPosixAcls(f"{why}, and a user entry 'none' ({', '.join(map(str, shut))}) shuts "
                          "nobody out while a group or everyone has access (mode bits have no "
                          "entry for a user who is not the owner)")
    owner = users[0] if users else None
    if owner is not None and owner.level == "read":
        if everyone != "read" or group is not None:
            raise NoPosixAcls(f"{why}, and that user needs write or full: one with read only ({owner.name}) "
                              "would own the folder, and an owner can change its mode (give "
                              "the user write or full, or read through a group)")
        owner = None  # everyone reads: alice's entry adds nothing, and root keeps the folder
    return ModePlan(owner=owner.name if owner else None, group=group.name if group else None,
                    owner_bits=LEVEL_BITS[owner.level] if owner else 0o7,
                    group_bits=LEVEL_BITS[group.level if group else everyone],
                    other_bits=LEVEL_BITS[everyone])


def apply_mode_plan(path: Path, plan: ModePlan) -> None:
    """Owner, group and mode of ``path`` and everything under it (symbolic links untouched)."""
    uid = pwd.getpwnam(plan.owner).pw_uid if plan.owner else 0
    gid = grp.getgrnam(plan.group).gr_gid if plan.group else 0

    def one(item: str) -> None:
        st = os.lstat(item)
        if stat.S_ISLNK(st.st_mode):
            return
        os.chown(item, uid, gid, follow_symlinks=False)
        os.chmod(item, plan.mode(stat.S_ISDIR(st.st_mode), bool(st.st_mode & 0o111)))

    one(os.fspath(path))
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            one(os.path.join(root, name))


def mode_spec(plan: ModePlan) -> str:
    """The ``setfacl --set`` text of a plan: owner, owning group and other, no named entries."""
    perms = {0: "---", 0o5: "r-X", 0o7: "rwX"}
    return f"u::{perms[plan.owner_bits]},g::{perms[plan.group_bits]},o::{perms[plan.other_bits]}"


async def apply_mode_shape(path: Path | str, plan: ModePlan, timeout: float = 3600.0) -> None:
    """``plan`` on a file system with POSIX ACLs: extended ACL entries removed, the plan as every
    directory's default ACL (new files follow it whatever the creator's umask), then owner, group
    and mode of everything (:func:`apply_mode_plan`)."""
    target = os.fspath(path)
    await run(["setfacl", "-R", "-P", "-b", "--", target], timeout=timeout)
    await run(["setfacl", "-R", "-P", "-d", "--set", mode_spec(plan), "--", target],
              timeout=timeout)
    await asyncio.to_thread(apply_mode_plan, Path(path), plan)


def refusal(path: Path | str, access: Iterable[AccessEntry]) -> str | None:
    """Why ``access`` cannot be applied to the folder ``path`` (made later when missing), or
    None; changes nothing."""
    if posix_acls(path):
        return None
    try:
        mode_plan(access, fs_name(path))
    except NoPosixAcls as exc:
        return str(exc)
    return None


# --- reading back -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AclEntry:
    tag: Literal["user", "group", "mask", "other"]
    qualifier: str | None  # a user or group name; None for the owner, owning group, mask, other
    perms: str  # "rwx" with '-' for a missing right


@dataclass
class AclReading:
    path: str
    owner: str
    group: str
    access: list[AclEntry] = field(default_factory=list)
    default: list[AclEntry] = field(default_factory=list)
    mode: int | None = None  # the folder's mode bits, read where there are no POSIX ACLs


def parse_getfacl(text: str) -> list[AclReading]:
    """Parse ``getfacl -p`` output (one block per file; ``#effective:`` comments ignored)."""
    out: list[AclReading] = []
    current: AclReading | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            current = None
            continue
        if line.startswith("# file: "):
            current = AclReading(path=line[8:], owner="", group="")
            out.append(current)
            continue
        if current is None:
            raise ValueError(f"getfacl output: {line!r} outside a '# file:' block")
        if line.startswith("# owner: "):
            current.owner = line[9:]
        elif line.startswith("# group: "):
            current.group = line[9:]
        elif line.startswith("#"):
            continue  # "# flags: ..."
        else:
            rule = line.split("#", 1)[0].strip()
            is_default = rule.startswith("default:")
            if is_default:
                rule = rule[len("default:"):]
            tag, qualifier, perms = rule.split(":")
            if tag not in ("user", "group", "mask", "other") or len(perms) != 3:
                raise ValueError(f"getfacl output: unknown entry {line!r}")
            entry = AclEntry(tag, qualifier or None, perms)  # type: ignore[arg-type]
            (current.default if is_default else current.access).append(entry)
    return out


async def read_acl(path: Path | str) -> AclReading:
    """The ACL of ``path`` itself (not its contents); where there are no POSIX ACLs, the mode
    bits as the owner, owning group and other entries, and ``mode``."""
    result = await run(["getfacl", "-p", "--", os.fspath(path)], timeout=30)
    reading = parse_getfacl(result.stdout)[0]
    if not posix_acls(path):
        reading.mode = stat.S_IMODE(os.stat(path).st_mode)
    return reading


def mode_reason(reading: AclReading, user: str | None, groups: set[str]) -> str:
    """Which class of a mode-bits folder's bits ``user`` (None: nobody) gets, in words: "folder
    mode 2750 owner alice group readers: bob reads through group readers"."""
    mode = reading.mode or 0
    head = f"folder mode {mode:04o} owner {reading.owner} group {reading.group}"
    verbs = {"none": "gets nothing", "read": "reads", "write": "writes"}
    who = user or "somebody without an account"
    if user is not None and user == reading.owner:
        return f"{head}: {who} {verbs[bits_level(mode >> 6)]} as its owner"
    if reading.group in groups:
        return f"{head}: {who} {verbs[bits_level(mode >> 3)]} through group {reading.group}"
    return f"{head}: {who} is neither its owner nor in group {reading.group}, and " \
           f"{verbs[bits_level(mode)]} as everybody else"


def mode_bits_level(folder: Path, user: str | None) -> tuple[Access, str] | None:
    """What a mode-bits check (NFS-Ganesha's; the ACL mask shows as the group bits) gives
    ``user`` (None: nobody) on ``folder`` by the system's accounts, with the reason."""
    try:
        st = folder.stat()
        pw = pwd.getpwnam(user or "nobody")
    except (OSError, KeyError):
        return None
    groups = {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem}
    if pw.pw_uid == st.st_uid:
        bits, who = (st.st_mode >> 6) & 7, "its owner"
    elif st.st_gid in groups:
        bits, who = (st.st_mode >> 3) & 7, "in its group (the ACL mask applies)"
    else:
        bits, who = st.st_mode & 7, "neither its owner nor in its group ('other' applies)"
    perms = "".join(c if bits & b else "-" for c, b in (("r", 4), ("w", 2), ("x", 1)))
    return bits_level(bits), f"{pw.pw_name} is {who} of the share folder, {perms}"


def _level(perms: str) -> Access:
    if "r" not in perms:
        return "none"
    return "write" if "w" in perms else "read"


def _masked(perms: str, mask: str | None) -> str:
    if mask is None:
        return perms
    return "".join(p if m != "-" else "-" for p, m in zip(perms, mask))


def effective_level(reading: AclReading, user: str | None, groups: set[str]) -> Access:
    """What the kernel grants ``user`` (``None``: somebody in no entry, like a guest) in ``groups``
    on a folder with this ACL, as none/read/write: the POSIX ACL check order (owner, named user,
    owning and named groups — any that grants — other), with the mask on all but owner and other.
    """
    entries = reading.access
    mask = next((e.perms for e in entries if e.tag == "mask"), None)
    if user is not None and user == reading.owner:
        return _level(next(e.perms for e in entries if e.tag == "user" and e.qualifier is None))
    named = next((e for e in entries if e.tag == "user" and e.qualifier == user), None)
    if user is not None and named is not None:
        return _level(_masked(named.perms, mask))
    matching = [e for e in entries if e.tag == "group" and (
        (e.qualifier is None and reading.group in groups) or (e.qualifier in groups))]
    if matching:
        levels = [_level(_masked(e.perms, mask)) for e in matching]
        return "write" if "write" in levels else "read" if "read" in levels else "none"
    return _level(next(e.perms for e in entries if e.tag == "other"))

