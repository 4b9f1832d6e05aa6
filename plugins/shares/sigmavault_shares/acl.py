"""A share's access list as POSIX ACLs on its folder, and the folder's ACL read back.

Applied recursively: every existing file and directory gets the access ACL, every directory the
same list as its default ACL, so what is there already and what is created later (by any protocol
or locally) follow the list. Levels map to ``r-X`` (read) and ``rwX`` (write, full); ``X`` keeps
execute on directories and on files that already had it. The owning user keeps ``rwX`` (an owner
can change a file's mode anyway); the owning group gets nothing, ``other`` gets the ``everyone``
level, and the mask is ``rwX`` so named entries are not cut down. Symbolic links are not followed.
Runs ``setfacl``/``getfacl`` (Debian ``acl``) through :func:`sigmavault.commands.run`.
"""

from __future__ import annotations

import os
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
                          timeout: float = 3600.0) -> None:
    """Set the access list as the access ACL of everything under ``path`` and the default ACL of
    every directory there (replacing what was set before). Users and groups must exist."""
    spec = acl_spec(list(access))
    target = os.fspath(path)
    await run(["setfacl", "-R", "-P", "--set", spec, "--", target], timeout=timeout)
    await run(["setfacl", "-R", "-P", "-d", "--set", spec, "--", target], timeout=timeout)


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
    """The ACL of ``path`` itself (not its contents)."""
    result = await run(["getfacl", "-p", "--", os.fspath(path)], timeout=30)
    return parse_getfacl(result.stdout)[0]


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

