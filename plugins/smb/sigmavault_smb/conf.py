"""A complete ``smb.conf`` for SigmaVault's own smbd, validated by ``testparm`` before it goes live.

Every state, lock, cache, private, pid and ncalrpc directory and the passdb live under the data
dir given, so this smbd never reads or writes the system's Samba. Shares come with each NAS
user's resolved level (the shares plugin resolves the access list); they are rendered as explicit
user lists, never ``@group``, because Samba's own precedence (``write list`` beats ``read list``)
differs from the access list's (a user entry beats a group entry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

from sigmavault.commands import run
from sigmavault.errors import APIError
from sigmavault.files import atomic_write
from sigmavault_shares.acl import posix_acls

Access = Literal["none", "read", "write"]
STATE_DIRS = ("lock", "state", "cache", "private", "pid", "ncalrpc", "usershares", "log")


@dataclass(frozen=True)
class GlobalSettings:
    data_dir: Path  # where every Samba state file of ours lives
    workgroup: str = "WORKGROUP"
    server_string: str = "SigmaVault"
    port: int = 445
    interfaces: Sequence[str] = ()  # empty: all interfaces
    min_protocol: Literal["SMB2_02", "SMB2_10", "SMB3", "SMB3_00", "SMB3_02", "SMB3_11"] = "SMB2_10"
    signing: Literal["default", "desired", "required"] = "default"
    # guests cannot encrypt: "desired" makes smbclient's guest sessions fail with
    # NT_STATUS_INVALID_PARAMETER_MIX, so the default is Samba's "if_required"
    encrypt: Literal["off", "if_required", "desired", "required"] = "if_required"
    guest_account: str = "nobody"
    log_level: int = 1


@dataclass(frozen=True)
class Snapshots:
    """Where a volume's snapshots are and how their names map to times (``shadow_copy2``).

    :param snapdir: absolute folder holding one folder (or a link to one) per snapshot of the
        volume; the SMB service keeps a folder of ``@GMT-`` links to wherever the backend keeps
        them (dir: ``<pool>/.snapshots/<volume>/<name>``, btrfs: the read-only subvolume
        ``<mount>/.snapshots/<volume>/<name>``, OpenZFS: ``.zfs/snapshot/<name>``, zfs-fuse: a
        read-only clone the zfs plugin mounts).
    :param basedir: the folder each snapshot is a copy of (the volume's root); a share on a
        subfolder finds its files at the same relative path inside every snapshot.
    :param format: ``strftime`` format of the time part of a snapshot's name.
    :param prefix: a regular expression the part before ``delimiter`` must match (names like
        ``auto-20261206-180000``: prefix ``^auto$``, delimiter ``-``); ``None``: the whole name is
        the time.
    :param localtime: the names are in local time rather than UTC.
    """

    snapdir: Path
    basedir: Path
    format: str
    prefix: str | None = None
    delimiter: str = "-"
    localtime: bool = False


@dataclass(frozen=True)
class SmbShare:
    name: str
    path: Path
    levels: Mapping[str, Access]  # every NAS user → its resolved level on this share
    everyone: Access = "none"  # what an account that is no NAS user (the guest) gets
    comment: str = ""
    read_only: bool = False
    guest_ok: bool = False
    browseable: bool = True
    hosts_allow: Sequence[str] = ()
    hosts_deny: Sequence[str] = ()
    encrypt: Literal["off", "desired", "required"] | None = None  # None: the global setting
    recycle: bool = False
    time_machine: bool = False
    time_machine_max_size: str | None = None  # "500G"
    snapshots: Snapshots | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def state_dir(settings: GlobalSettings, name: str) -> Path:
    return Path(settings.data_dir) / name


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _line(key: str, value: object) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"smb.conf value of {key!r} contains a line break")
    return f"\t{key} = {text}\n"


def render_global(s: GlobalSettings) -> str:
    d = {n: state_dir(s, n) for n in STATE_DIRS}
    lines = [
        ("server role", "standalone server"),
        ("workgroup", s.workgroup),
        ("server string", s.server_string),
        ("smb ports", s.port),
        ("disable netbios", "yes"),
        ("server min protocol", s.min_protocol),
        ("server signing", {"default": "default", "desired": "auto",
                            "required": "mandatory"}[s.signing]),
        ("server smb encrypt", s.encrypt),
        ("passdb backend", f"tdbsam:{d['private'] / 'passdb.tdb'}"),
        ("lock directory", d["lock"]),
        ("state directory", d["state"]),
        ("cache directory", d["cache"]),
        ("private dir", d["private"]),
        ("pid directory", d["pid"]),
        ("ncalrpc dir", d["ncalrpc"]),
        ("usershare path", d["usershares"]),
        ("usershare max shares", 0),
        ("log file", d["log"] / "smbd.log"),
        ("max log size", 10000),
        ("log level", s.log_level),
        ("logging", "file"),
        ("unix password sync", "no"),
        ("pam password change", "no"),
        ("obey pam restrictions", "no"),
        ("map to guest", "Bad User"),
        ("guest account", s.guest_account),
        ("load printers", "no"),
        ("printing", "bsd"),
        ("printcap name", "/dev/null"),
        ("disable spoolss", "yes"),
        ("fruit:metadata", "stream"),
        ("fruit:model", "MacSamba"),
    ]
    if s.interfaces:
        lines += [("interfaces", " ".join(s.interfaces)), ("bind interfaces only", "yes")]
    return "[global]\n" + "".join(_line(k, v) for k, v in lines)


def _users(names: list[str]) -> str:
    return " ".join(sorted(names))


def access_lines(share: SmbShare) -> list[tuple[str, object]]:
    """``valid users``/``invalid users``/``read list``/``write list`` and ``read only`` giving
    each user exactly its level (capped at read on a read-only share)."""
    cap = (lambda a: "read" if a == "write" else a) if share.read_only else (lambda a: a)
    levels = {u: cap(a) for u, a in share.levels.items()}
    everyone = cap(share.everyone)
    by = {lvl: [u for u, a in levels.items() if a == lvl] for lvl in ("none", "read", "write")}
    out: list[tuple[str, object]] = []
    if everyone == "none":
        allowed = by["read"] + by["write"]
        if not allowed:
            return [("available", "no")]  # an empty "valid users" would let everybody in
        out.append(("valid users", _users(allowed)))
    elif by["none"]:
        out.append(("invalid users", _users(by["none"])))
    base_read_only = everyone != "write"
    out.append(("read only", _yes(base_read_only)))
    if base_read_only and by["write"]:
        out.append(("write list", _users(by["write"])))
    if not base_read_only and by["read"]:
        out.append(("read list", _users(by["read"])))
    return out


def mode_bits_lines(path: Path) -> list[tuple[str, object]]:
    """For a folder without POSIX ACLs (the shares plugin gave it mode bits, setgid with a
    group): new files and folders take the folder's mode (``inherit permissions``; its group
    comes from setgid), the DOS archive attribute not kept as the owner's x bit (there are no
    xattrs to keep it in)."""
    if posix_acls(path):
        return []
    return [("inherit permissions", "yes"), ("map archive", "no")]


def render_share(share: SmbShare, fruit: bool = False) -> str:
    """One share's section; ``fruit``: stack Apple's modules here too (testparm warns, and macOS
    misbehaves, when some shares use ``vfs_fruit`` and others do not)."""
    if share.name.lower() in ("global", "homes", "printers", "ipc$") or any(
            c in share.name for c in '[]/\\:|<>+=;,*?"'):
        raise ValueError(f"{share.name!r} is not a valid share name")
    lines: list[tuple[str, object]] = [
        ("path", share.path),
        ("comment", share.comment),
        ("browseable", _yes(share.browseable)),
        ("guest ok", _yes(share.guest_ok and share.everyone != "none")),
        ("inherit acls", "yes"),  # new files take the folder's default ACL, not Samba's modes
        *access_lines(share),
        *mode_bits_lines(Path(share.path)),
    ]
    if share.hosts_allow:
        lines.append(("hosts allow", " ".join(share.hosts_allow)))
    if share.hosts_deny:
        lines.append(("hosts deny", " ".join(share.hosts_deny)))
    if share.encrypt is not None:
        lines.append(("smb encrypt", share.encrypt))
    vfs: list[str] = []
    if share.time_machine or fruit:
        vfs += ["catia", "fruit", "streams_xattr"]
    if share.time_machine:
        lines.append(("fruit:time machine", "yes"))
        if share.time_machine_max_size:
            lines.append(("fruit:time machine max size", share.time_machine_max_size))
    if share.snapshots is not None:
        snap = share.snapshots
        vfs.append("shadow_copy2")
        # with a prefix, Samba matches the format from the delimiter on (it is not skipped)
        fmt = snap.format if snap.prefix is None else snap.delimiter + snap.format
        lines += [("shadow:snapdir", snap.snapdir), ("shadow:basedir", snap.basedir),
                  ("shadow:format", fmt), ("shadow:localtime", _yes(snap.localtime)),
                  ("shadow:sort", "desc")]
        if snap.prefix is not None:
            lines += [("shadow:snapprefix", snap.prefix), ("shadow:delimiter", snap.delimiter)]
    if share.recycle:
        vfs.append("recycle")
        lines += [("recycle:repository", ".recycle/%U"), ("recycle:keeptree", "yes"),
                  ("recycle:versions", "yes"), ("recycle:touch", "yes")]
    if vfs:
        lines.append(("vfs objects", " ".join(vfs)))
    lines += list(share.extra.items())
    return f"\n[{share.name}]\n" + "".join(_line(k, v) for k, v in lines)


def render(settings: GlobalSettings, shares: Sequence[SmbShare]) -> str:
    """The whole ``smb.conf``."""
    fruit = any(s.time_machine for s in shares)
    seen: set[str] = set()
    for s in shares:
        if s.name.lower() in seen:
            raise ValueError(f"two shares named {s.name!r} (Samba ignores case)")
        seen.add(s.name.lower())
    return "# Written by SigmaVault; changes here are overwritten.\n" + render_global(settings) \
        + "".join(render_share(s, fruit) for s in shares)


def make_state_dirs(settings: GlobalSettings) -> None:
    for name in STATE_DIRS:
        state_dir(settings, name).mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir(settings, "private"), 0o700)


async def testparm(path: Path) -> list[str]:
    """``testparm``'s warnings on a file; ``APIError`` 422 when it refuses it.

    testparm exits 1 on a value it cannot parse but 0 on an unknown parameter, which it merely
    ignores; both are refused here (a parameter we render and Samba ignores is a bug)."""
    result = await run(["testparm", "-s", "--suppress-prompt", os.fspath(path)], timeout=60,
                       check=False)
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("Ignoring unknown parameter", "ERROR"))]
    if result.returncode != 0 or errors:
        raise APIError(422, "smb_config_invalid", "testparm refused the Samba configuration: "
                       + (errors or lines or ["exit " + str(result.returncode)])[-1],
                       {"stderr": result.stderr[-4000:]})
    return [ln for ln in lines if ln.startswith(("WARNING", "Warning"))]


async def write_config(target: Path, text: str) -> list[str]:
    """Write ``text`` to ``target`` atomically once ``testparm`` accepts it; its warnings.
    A refused config (``APIError`` 422) never replaces the live one."""
    with atomic_write(target, "w") as f:
        f.write(text)
        f.flush()
        warnings = await testparm(f.temp_path)  # type: ignore[attr-defined]
    return warnings
