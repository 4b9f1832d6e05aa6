"""A complete ``ganesha.conf`` for SigmaVault's own NFS-Ganesha, rendered from validated models.

Everything Ganesha writes (pid file, log, NFSv4 recovery records) lives under the data dir given,
so this Ganesha never touches the system's ``/etc/ganesha`` or ``/var/lib/nfs``. Exports use the
VFS FSAL, ``sec=sys``, TCP only, NFSv4 pseudo paths ``/<share>`` (snapshots:
``/.snapshots/<share>/<snapshot>``, read-only) and numeric owners (``uid@`` strings are never
needed: a client's uid is the NAS account's uid).

Ganesha has no ``testparm``: :func:`render` only accepts values that passed the validators
here (client specs, paths, ids), :func:`check_exports` refuses what Ganesha would refuse (two
exports on one pseudo path, a pseudo path inside another real export), and the service then
starts a throwaway Ganesha on a free loopback port with the rendered file (:mod:`.probe`) before
the file replaces the live one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

ClientAccess = Literal["ro", "rw", "none"]
Squash = Literal["none", "root", "all"]
LogLevel = Literal["FATAL", "MAJ", "CRIT", "WARN", "EVENT", "INFO", "DEBUG"]

# a host name label: letters, digits, '-' inside; '*' and '?' as Ganesha's wildcards
_LABEL = r"(?:[A-Za-z0-9*?](?:[A-Za-z0-9*?-]{0,61}[A-Za-z0-9*?])?)"
HOST_PATTERN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_NUMERIC = re.compile(r"^[0-9.]+$|^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$")
SNAPSHOT_ROOT = "/.snapshots"


def client_spec(value: str) -> str:
    """A client of an export, normalised: ``*`` (everybody), an IPv4/IPv6 address, a network in
    CIDR form (host bits must be zero) or a host name with optional ``*``/``?`` wildcards.
    ``ValueError`` says what is wrong."""
    if not isinstance(value, str) or not value or len(value) > 253:
        raise ValueError("a client is '*', an address, a network (a.b.c.d/nn) or a host name")
    if value == "*":
        return value
    if "/" in value:
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network in CIDR form: {exc}") from None
    if _NUMERIC.fullmatch(value):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a valid IP address") from None
    if not HOST_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a host name: use letters, digits, '-' and '.', "
                         "with '*' or '?' as wildcards")
    return value.lower()


def quoted(value: str) -> str:
    """A string value for ganesha.conf, refused when it cannot be quoted safely."""
    if any(c in value for c in '"\\\n\r\0') or not value.isprintable():
        raise ValueError(f"{value!r} cannot be written to ganesha.conf (quote, backslash or "
                         "control character)")
    return f'"{value}"'


@dataclass(frozen=True)
class ClientRule:
    hosts: tuple[str, ...]  # client specs (already normalised)
    access: ClientAccess


@dataclass(frozen=True)
class Export:
    export_id: int  # 1..65535, stable for a share (clients' file handles carry it)
    path: Path
    pseudo: str
    clients: tuple[ClientRule, ...]
    squash: Squash = "root"
    anon_uid: int | None = None
    anon_gid: int | None = None
    read_only: bool = False
    share: str = ""
    snapshot: str | None = None  # set for a snapshot's read-only export


@dataclass(frozen=True)
class GaneshaSettings:
    data_dir: Path
    port: int = 2049
    bind_addr: str = "0.0.0.0"
    versions: tuple[int, ...] = (4,)
    grace_period: int = 90  # 0: graceless (no reclaim window after a restart)
    lease_lifetime: int = 60
    attr_expiration: int = 0  # seconds Ganesha trusts cached attributes and directory contents
    manage_gids: bool = True
    log_level: LogLevel = "EVENT"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "ganesha.conf"

    @property
    def recovery_dir(self) -> Path:
        return self.data_dir / "recovery"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log" / "ganesha.log"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "ganesha.pid"


class ExportClash(ValueError):
    """Two exports Ganesha cannot serve together (a 409 for the caller)."""


SQUASH = {"none": "No_Root_Squash", "root": "Root_Squash", "all": "All_Squash"}
ACCESS = {"ro": "RO", "rw": "RW", "none": "None"}


def check_exports(exports: Sequence[Export]) -> None:
    """What Ganesha refuses, as ``ValueError`` naming the exports: a pseudo path used twice (or
    the pseudo root), an id used twice, an export whose pseudo path lies inside another real
    export's (Ganesha cannot make a junction inside a non-pseudo file system)."""
    by_pseudo: dict[str, Export] = {}
    ids: dict[int, Export] = {}
    for e in exports:
        if not 1 <= e.export_id <= 65535:
            raise ValueError(f"export id {e.export_id} of {e.pseudo} is outside 1-65535")
        if e.pseudo == "/" or not e.pseudo.startswith("/") or "//" in e.pseudo:
            raise ValueError(f"pseudo path {e.pseudo!r} is not an absolute path below '/'")
        other = by_pseudo.get(e.pseudo)
        if other is not None:
            raise ExportClash(f"pseudo path {e.pseudo} is used by {other.share or other.path} "
                             f"and {e.share or e.path}")
        if e.export_id in ids:
            raise ExportClash(f"export id {e.export_id} is used twice")
        by_pseudo[e.pseudo] = e
        ids[e.export_id] = e
        if not e.path.is_absolute():
            raise ValueError(f"export path {e.path} is not absolute")
        quoted(str(e.path))
        quoted(e.pseudo)
    for e in exports:
        for other in exports:
            if other is not e and e.pseudo.startswith(other.pseudo.rstrip("/") + "/"):
                raise ExportClash(f"pseudo path {e.pseudo} lies inside export {other.pseudo} "
                                 f"({other.share or other.path}); Ganesha cannot serve it there")


def _client_token(spec: str) -> str:
    """A client spec as Ganesha's parser wants it (unquoted; a quoted one is not a client)."""
    normal = client_spec(spec)
    if normal != spec:
        raise ValueError(f"client {spec!r} is not normalised (expected {normal!r})")
    return spec


def _client_block(rule: ClientRule, read_only: bool) -> list[str]:
    access = "RO" if read_only and rule.access == "rw" else ACCESS[rule.access]
    return ["    CLIENT {",
            f"        Clients = {', '.join(_client_token(h) for h in rule.hosts)};",
            f"        Access_Type = {access};",
            "    }"]


def render_export(e: Export, settings: GaneshaSettings) -> list[str]:
    protocols = ", ".join(str(v) for v in settings.versions)
    lines = ["EXPORT {",
             f"    Export_Id = {e.export_id};",
             *([f"    Tag = {quoted(e.share + ('@' + e.snapshot if e.snapshot else ''))};"]
               if e.share else []),
             f"    Path = {quoted(str(e.path))};",
             f"    Pseudo = {quoted(e.pseudo)};",
             f"    Protocols = {protocols};",
             "    Transports = TCP;",
             "    SecType = sys;",
             "    Access_Type = None;",  # only the CLIENT blocks grant access
             f"    Squash = {SQUASH[e.squash]};"]
    if e.anon_uid is not None:
        lines.append(f"    Anonymous_Uid = {int(e.anon_uid)};")
    if e.anon_gid is not None:
        lines.append(f"    Anonymous_Gid = {int(e.anon_gid)};")
    for rule in e.clients:
        lines += _client_block(rule, e.read_only or e.snapshot is not None)
    lines += ["    FSAL {", "        Name = VFS;", "    }", "}"]
    return lines


def render(settings: GaneshaSettings, exports: Sequence[Export], *, port: int | None = None,
           bind_addr: str | None = None, recovery_dir: Path | None = None,
           probe: bool = False) -> str:
    """The whole ganesha.conf (``port``/``bind_addr``/``recovery_dir`` override the settings for
    a probe instance, and ``probe`` serves NFSv4 only: a probe must not register with rpcbind
    over the live server). ``ValueError`` when the exports clash or a value cannot be written."""
    check_exports(exports)
    versions = tuple(sorted(set(settings.versions)))
    if probe:
        settings = replace(settings, versions=(4,))
        versions = (4,)
    if not versions or any(v not in (3, 4) for v in versions):
        raise ValueError(f"NFS versions {versions} (use 3 and/or 4)")
    bind = bind_addr or settings.bind_addr
    ipaddress.ip_address(bind)
    recovery = recovery_dir or settings.recovery_dir
    v3 = 3 in versions
    out = ["# Written by SigmaVault (sigmavault-nfs); changes here are overwritten.",
           "NFS_CORE_PARAM {",
           f"    NFS_Port = {int(port or settings.port)};",
           f"    Bind_Addr = {bind};",
           f"    Protocols = {', '.join(str(v) for v in versions)};",
           f"    Enable_NLM = {'true' if v3 else 'false'};",
           *(["    mount_path_pseudo = true;"] if v3 else []),  # v3 mounts /<share> too
           "    Enable_RQUOTA = false;",
           "    Enable_UDP = false;",
           "}",
           "NFS_KRB5 {",
           "    Active_krb5 = false;",
           "}",
           "NFSv4 {",
           "    RecoveryBackend = fs;",
           f"    RecoveryRoot = {quoted(str(recovery))};",
           f"    Graceless = {'true' if settings.grace_period == 0 else 'false'};"]
    if settings.grace_period:
        out.append(f"    Grace_Period = {int(settings.grace_period)};")
    out += [f"    Lease_Lifetime = {int(settings.lease_lifetime)};",
            "    Only_Numeric_Owners = true;",
            "    Allow_Numeric_Owners = true;",
            "}",
            "LOG {",
            f"    Default_Log_Level = {settings.log_level};",
            "}",
            "EXPORT_DEFAULTS {",
            "    SecType = sys;",
            "    Transports = TCP;",
            f"    Manage_Gids = {'true' if settings.manage_gids else 'false'};",
            f"    Attr_Expiration_Time = {int(settings.attr_expiration)};",
            "}"]
    for e in sorted(exports, key=lambda x: x.export_id):
        out += render_export(e, settings)
    return "\n".join(out) + "\n"


_PROBLEM = re.compile(r":(CONFIG|EXPORT|FSAL) :(FATAL|MAJ|CRIT) :")


@dataclass
class ConfigProblem:
    line: str
    message: str = field(init=False)

    def __post_init__(self) -> None:
        m = _PROBLEM.search(self.line)
        self.message = self.line[m.end():].strip() if m else self.line.strip()


def config_problems(log_text: str) -> list[ConfigProblem]:
    """Lines of a Ganesha log that say it refused (part of) its configuration: CONFIG, EXPORT or
    FSAL messages at FATAL/MAJ/CRIT (DBus, rpcbind and Kerberos complaints are not about it)."""
    return [ConfigProblem(line) for line in log_text.splitlines() if _PROBLEM.search(line)]
