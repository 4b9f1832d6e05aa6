"""NAS accounts and protocol-neutral shares: what SigmaVault's database holds and reconciles from.

An access list is resolved the way POSIX ACLs resolve it (see :mod:`.explain`), so the rules
every protocol renders and the ACL on the folder give the same answer.
"""

from __future__ import annotations

import grp
import ipaddress
import pwd
import re
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationInfo,
                      field_validator, model_validator)

from sigmavault.validation import Name

ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SHARE_FORBIDDEN = set('[]/\\:|<>+=;,*?"')
SHARE_RESERVED = {"global", "homes", "printers", "ipc$"}
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:/_-]{0,252}$")
FIRST_ID = 3000
LAST_ID = 59999
MIN_PASSWORD = 8
MAX_ID = 2**32 - 2  # uid_t/gid_t; (uid_t)-1 means "no change" to chown

Level = Literal["none", "read", "write", "full"]
LEVELS: tuple[str, ...] = ("none", "read", "write", "full")


def _account_name(value: str) -> str:
    if not ACCOUNT_RE.fullmatch(value):
        raise ValueError("use 1-32 lower-case letters, digits, '_' or '-', starting with a letter")
    return value


AccountName = Annotated[str, Field(examples=["alice"], json_schema_extra={"pattern": ACCOUNT_RE.pattern}),
                        AfterValidator(_account_name)]


def _full_name(value: str) -> str:
    if any(c in value for c in ",:\n\r\t"):
        raise ValueError("a full name cannot contain ',', ':' or control characters")
    return value


def _foreign(name: str, number: int, managed: set[str], kind: str) -> str | None:
    """Why ``name``/``number`` collides with a system account or group we do not manage."""
    if name in managed:
        return None
    lookup_name, lookup_id = ((pwd.getpwnam, pwd.getpwuid) if kind == "user"
                              else (grp.getgrnam, grp.getgrgid))
    try:
        lookup_name(name)
        return f"{kind} {name!r} already exists on this system and is not a NAS {kind}"
    except KeyError:
        pass
    try:
        other = lookup_id(number)[0]
    except KeyError:
        return None
    if other != name and other not in managed:
        return f"id {number} already belongs to the system {kind} {other!r}"
    return None


def _check_system(info: ValidationInfo, name: str, number: int, kind: str) -> None:
    """With ``context={"managed": {names...}}`` (a create or rename), refuse a name or id that a
    system account not managed by SigmaVault already has. Without context (reading back what the
    database holds) nothing is looked up."""
    if not info.context or "managed" not in info.context:
        return
    problem = _foreign(name, number, set(info.context["managed"]), kind)
    if problem:
        raise ValueError(problem)


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AccountName
    uid: int = Field(ge=FIRST_ID, le=LAST_ID)
    full_name: Annotated[str, Field(max_length=128), AfterValidator(_full_name)] = ""
    groups: list[AccountName] = Field(default_factory=list)
    home: str | None = Field(None, pattern=r"^/[^\n:]*$", description="absolute path, or none")
    enabled: bool = True

    @model_validator(mode="after")
    def _not_a_system_account(self, info: ValidationInfo) -> "User":
        _check_system(info, self.name, self.uid, "user")
        return self


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AccountName
    gid: int = Field(ge=FIRST_ID, le=LAST_ID)
    members: list[AccountName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_a_system_group(self, info: ValidationInfo) -> "Group":
        _check_system(info, self.name, self.gid, "group")
        return self


def next_id(taken: set[int], first: int = FIRST_ID, last: int = LAST_ID) -> int:
    """The lowest id in ``[first, last]`` that neither ``taken`` nor the system uses."""
    for n in range(first, last + 1):
        if n in taken:
            continue
        try:
            pwd.getpwuid(n)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(n)
            continue
        except KeyError:
            return n
    raise ValueError(f"no free id left in {first}-{last}")


# What a schema can say of check_password (the rest: not the user name, 3 different characters).
PASSWORD_SCHEMA: dict = {"minLength": MIN_PASSWORD, "pattern": "^[^\\n\\r\\x00]*$"}


def check_password(user: str, password: str) -> None:
    """Refuse a weak password with a reason a person can act on (``ValueError``)."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if user.lower() in password.lower():
        raise ValueError("a password cannot contain the user name")
    if len(set(password)) < 3:
        raise ValueError("a password needs at least three different characters")
    if any(c in password for c in "\n\r\0"):
        raise ValueError("a password cannot contain line breaks or NUL")


def _share_name(value: str) -> str:
    bad = sorted(SHARE_FORBIDDEN & set(value))
    if bad:
        raise ValueError(f"a share name cannot contain {' '.join(bad)}")
    if value.lower() in SHARE_RESERVED:
        raise ValueError(f"{value!r} is reserved by Samba")
    if value != value.strip() or any(ord(c) < 32 for c in value) or value.startswith("."):
        raise ValueError("a share name cannot start with '.' or a space, end with a space or "
                         "contain control characters")
    return value


ShareName = Annotated[str, Field(min_length=1, max_length=80, examples=["media"]),
                      AfterValidator(_share_name)]


def _subfolder(value: str) -> str:
    parts = value.split("/")
    if value.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in value:
        raise ValueError("a subfolder is a relative path like 'photos/2024' without '.' or '..'")
    return value


def _host(value: str) -> str:
    if not HOST_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an address, network (a.b.c.d/nn) or host name")
    return value


Host = Annotated[str, Field(json_schema_extra={"pattern": HOST_RE.pattern}), AfterValidator(_host)]


class AccessEntry(BaseModel):
    kind: Literal["user", "group", "everyone"]
    name: AccountName | None = None
    level: Level

    # the rule of _name_matches_kind, stated
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"properties": {"kind": {"const": "everyone"}, "name": {"type": "null"}}},
        {"properties": {"kind": {"enum": ["user", "group"]}, "name": {"type": "string"}},
         "required": ["name"]}]})

    @model_validator(mode="after")
    def _name_matches_kind(self) -> "AccessEntry":
        if (self.kind == "everyone") != (self.name is None):
            raise ValueError("'everyone' takes no name; users and groups need one")
        return self


class Share(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShareName
    pool: Name
    volume: Name
    subfolder: Annotated[str, Field(max_length=1024), AfterValidator(_subfolder)] | None = None
    description: str = Field("", max_length=256, pattern=r"^[^\n\r]*$")
    enabled: bool = True
    read_only: bool = False
    guest_ok: bool = False
    browseable: bool = True
    hosts_allow: list[Host] = Field(default_factory=list)
    hosts_deny: list[Host] = Field(default_factory=list)
    protocols: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]] = ["smb"]
    access: list[AccessEntry] = Field(default_factory=list)

    @field_validator("access")
    @classmethod
    def _one_entry_each(cls, access: list[AccessEntry]) -> list[AccessEntry]:
        seen = set()
        for e in access:
            key = (e.kind, e.name)
            if key in seen:
                raise ValueError(f"two entries for {e.kind} {e.name or ''}".rstrip())
            seen.add(key)
        return access


# --- request, response and event models of the shares plugin's API ------------------------------

FullName = Annotated[str, Field(max_length=128), AfterValidator(_full_name)]


class NasUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AccountName
    password: SecretStr = Field(json_schema_extra=PASSWORD_SCHEMA,
                                description="checked for strength; never stored or logged, only "
                                "handed to every share protocol to store its own hash")
    uid: int | None = Field(None, ge=0, le=MAX_ID,
                            description="default: the lowest free id of [shares] first_id.."
                            "last_id")
    full_name: FullName = ""
    groups: list[AccountName] = Field(default_factory=list, max_length=256)
    enabled: bool = True


class NasUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    groups: list[AccountName] | None = Field(None, max_length=256)
    enabled: bool | None = None
    password: SecretStr | None = Field(None, json_schema_extra=PASSWORD_SCHEMA)


class NasUser(BaseModel):
    name: str
    uid: int
    full_name: str
    groups: list[str]
    enabled: bool


class NasGroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AccountName
    gid: int | None = Field(None, ge=0, le=MAX_ID,
                            description="default: the lowest free id of the range")
    members: list[AccountName] = Field(default_factory=list, max_length=4096)


class NasGroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[AccountName] | None = Field(None, max_length=4096)


class NasGroup(BaseModel):
    name: str
    gid: int
    members: list[str]


class ShareCreate(Share):
    options: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")], dict[str, Any]] = \
        Field(default_factory=dict, description="per protocol: {\"smb\": {...}} validated by the "
              "protocol's options model")


class ShareUpdate(BaseModel):
    """Every field of a share but its name; what is given replaces the stored value."""

    model_config = ConfigDict(extra="forbid")

    pool: Name | None = None
    volume: Name | None = None
    subfolder: Annotated[str, Field(max_length=1024), AfterValidator(_subfolder)] | None = None
    description: str | None = Field(None, max_length=256, pattern=r"^[^\n\r]*$")
    enabled: bool | None = None
    read_only: bool | None = None
    guest_ok: bool | None = None
    browseable: bool | None = None
    hosts_allow: list[Host] | None = None
    hosts_deny: list[Host] | None = None
    protocols: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]] | None = None
    access: list[AccessEntry] | None = None
    options: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")],
                  dict[str, Any]] | None = None


class ShareOut(ShareCreate):
    path: str | None = Field(None, description="the shared folder (None: its volume is gone)")


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


ProtocolName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]


class AccessQuery(BaseModel):
    user: AccountName | None = Field(None, description="a NAS user; omitted: a guest (over NFS: "
                                     "root, uid 0)")
    protocol: ProtocolName | None = Field(
        None, description="explain access over this share protocol too (its client rules, "
        "squash, guest mapping …); omitted: the access list and folder ACL alone")
    address: Annotated[str, AfterValidator(_ip), Field(json_schema_extra={
        "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})] | None = Field(
        None, description="the client's IP address, for the protocol's client rules")


class AccessOut(BaseModel):
    access: Literal["none", "read", "write"]
    reasons: list[str]
    user: str | None
    protocol: str | None = None
    address: str | None = None
    acts_as: str | None = Field(None, description="the NAS user whose rights apply after the "
                                "protocol's mapping (NFS squash), when that is not ``user``")
    path: str
    acl: list[str] = Field(default_factory=list, description="the folder's access ACL as read "
                           "back (getfacl entries, e.g. user:alice:rwx)")


class ShareEvent(BaseModel):
    """``share.event`` data."""

    kind: Literal["created", "changed", "deleted", "service_up", "service_down",
                  "client_connected", "client_disconnected"]
    share: str | None = None
    protocol: str | None = None
    user: str | None = None
    session: str | None = None
    remote: str | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
