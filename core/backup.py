"""Configuration backup and restore: one age-encrypted archive of everything a NAS must not lose.

The archive is ``tar.gz`` inside age (passphrase — scrypt — or X25519 recipients), so
``age -d backup.age | tar -tz`` lists it. It holds:

- ``manifest.json``: the SigmaVault version, the schema version of every migration namespace, the
  plugins loaded, and each member's SHA-256, size, mode and where it is restored;
- ``database/sigmavault.db``: a consistent online copy (SQLite's backup API), taken while the
  write lock is held so that the audit log's head file matches it;
- ``data/…``: the data dir's secrets (``audit.key``, ``audit.head``, ``sealed.key``, the self-signed
  ``tls/`` certificate) and what plugins name through the ``backup_paths`` hook (the encryption
  keystore …) when it lies in the data dir;
- ``external/N/…``: such paths outside the data dir (a configured TLS certificate and key …),
  restored to the same absolute path;
- ``config/config.toml``: the configuration file the daemon was started with.

Restore checks everything before it changes anything: age's MAC (a changed or cut archive does
not decrypt), the manifest, every member's hash, and that no namespace's schema version is above
what this install knows. Only then are the files written under temporary names beside their
targets, synced, and renamed into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import __version__
from .errors import APIError
from .files import fsync_dir, temp_path_for

if TYPE_CHECKING:  # pragma: no cover
    from .app import SigmaVault
    from .plugins import PluginManager

log = logging.getLogger("sigmavault.backup")

FORMAT = 1
DB_NAME = "sigmavault.db"
DB_MEMBER = "database/sigmavault.db"
CONFIG_MEMBER = "config/config.toml"
MANIFEST = "manifest.json"
SECRET_FILES = ("audit.key", "audit.head", "sealed.key")  # the core's files beside the database
SECRET_DIRS = ("tls",)  # the self-signed certificate of --tls-self-signed
PENDING = "restore-pending.tar"  # a restore uploaded through the API, applied at the next start
RESTORED_CONFIG = "config.restored.toml"
MAX_ARCHIVE = 1 << 30


@dataclass(frozen=True)
class Source:
    """A file to put into the archive and where it goes back."""

    path: Path
    restore: str  # "data" (relative to the data dir), "absolute", "config"
    target: str  # the relative or absolute path


# --- what this install knows --------------------------------------------------------------------


def known_schema_versions(plugins: "PluginManager") -> dict[str, int]:
    """The newest schema version of every migration namespace this install (core and loaded
    plugins) has scripts for."""
    from .audit import MIGRATIONS as AUDIT
    from .auth import MIGRATIONS as AUTH
    from .jobs import MIGRATIONS as JOBS
    known = {"core.jobs": len(JOBS), "core.audit": len(AUDIT), "core.auth": len(AUTH)}
    for _, func in plugins.impls("register_migrations"):
        try:
            func(register=lambda namespace, scripts: known.__setitem__(namespace, len(scripts)))
        except Exception:  # a plugin that fails here is not loaded by the daemon either
            log.exception("register_migrations failed while reading schema versions")
    return known


def config_path_of(app: "SigmaVault") -> Path | None:
    """The configuration file the daemon was started with (``serve --config`` or
    ``SIGMAVAULT_CONFIG``), if any."""
    path = getattr(app, "config_path", None) or os.environ.get("SIGMAVAULT_CONFIG")
    return Path(path) if path else None


# --- create --------------------------------------------------------------------------------------


def _sources(app: "SigmaVault", config_path: Path | None) -> list[Source]:
    data_dir = Path(app.data_dir).resolve()
    wanted: list[Path] = [data_dir / n for n in (*SECRET_FILES, *SECRET_DIRS)]
    wanted += [p for p in (app.config.tls_cert, app.config.tls_key) if p]
    for plugin, func in app.plugins.impls("backup_paths"):
        try:
            wanted += [Path(p) for p in func(app=app) or ()]
        except Exception as exc:
            raise APIError(500, "backup_failed", f"plugin {plugin} could not name its files for "
                           f"the backup: {exc!r}") from exc
    out: list[Source] = []
    seen: set[Path] = set()
    for path in wanted:
        path = path.resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
            [path] if path.is_file() else [])
        for f in files:
            if f in seen or f.name.startswith(".") and ".sigmavault-tmp-" in f.name:
                continue
            seen.add(f)
            if f.is_relative_to(data_dir):
                out.append(Source(f, "data", f.relative_to(data_dir).as_posix()))
            else:
                out.append(Source(f, "absolute", str(f)))
    if config_path and Path(config_path).is_file():
        out.append(Source(Path(config_path), "config", str(Path(config_path).resolve())))
    return out


def _snapshot(db_path: Path, into: Path, head: Path) -> bytes | None:
    """Copy the live database into ``into`` with SQLite's online backup API. The write lock is
    held meanwhile (readers go on: WAL), so the audit head file read under it matches the copy."""
    lock = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")
        try:
            head_bytes = head.read_bytes() if head.is_file() else None
            reader = sqlite3.connect(db_path, isolation_level=None, timeout=30)
            dst = sqlite3.connect(into)
            try:
                reader.backup(dst)
            finally:
                dst.close()
                reader.close()
        finally:
            lock.execute("ROLLBACK")
    finally:
        lock.close()
    return head_bytes


def _schema_versions(db_file: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_file)
    try:
        return {ns: v for ns, v in conn.execute("SELECT namespace, version FROM schema_versions")}
    finally:
        conn.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def create(app: "SigmaVault", *, passphrase: str | None = None, recipients: Sequence[str] = (),
           config_path: Path | None = None) -> tuple[bytes, dict[str, Any]]:
    """The encrypted archive and its manifest."""
    encrypt = _encrypter(passphrase, recipients)
    data_dir = Path(app.data_dir)
    sources = _sources(app, config_path if config_path is not None else config_path_of(app))
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=data_dir) as tmp:
        copy = Path(tmp) / DB_NAME
        head = _snapshot(data_dir / DB_NAME, copy, data_dir / "audit.head")
        db_bytes = copy.read_bytes()
        versions = _schema_versions(copy)
    members: list[tuple[str, bytes, dict[str, Any]]] = [
        (DB_MEMBER, db_bytes, {"restore": "data", "path": DB_NAME, "mode": 0o600})]
    for i, src in enumerate(sources):
        if src.restore == "data" and src.target == "audit.head":
            content = head if head is not None else b""
        else:
            content = src.path.read_bytes()
        mode = src.path.stat().st_mode & 0o777
        name = {"data": f"data/{src.target}", "config": CONFIG_MEMBER,
                "absolute": f"external/{i}/{src.path.name}"}[src.restore]
        members.append((name, content, {"restore": src.restore, "path": src.target, "mode": mode}))
    manifest = {
        "format": FORMAT,
        "sigmavault_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "data_dir": str(data_dir.resolve()),
        "schema_versions": versions,
        "plugins": {i.name: i.version for i in app.plugins.list() if i.status == "loaded"},
        "members": [{"name": n, "sha256": _sha256(c), "size": len(c), **meta}
                    for n, c, meta in members],
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
        for name, content, meta in members:
            _add(tar, name, content, meta["mode"])
    return encrypt(buf.getvalue()), manifest


def _encrypter(passphrase: str | None, recipients: Sequence[str]) -> Any:
    import pyrage
    if bool(passphrase) == bool(recipients):
        raise APIError(422, "backup_secret_required", "give either a passphrase or one or more "
                       "age recipients (age1…) to encrypt the backup with, not both")
    if passphrase:
        if len(passphrase) < 8:
            raise APIError(422, "weak_passphrase", "the backup passphrase needs at least 8 characters")
        return lambda data: pyrage.passphrase.encrypt(data, passphrase)
    try:
        parsed = [pyrage.x25519.Recipient.from_str(r.strip()) for r in recipients]
    except Exception as exc:
        raise APIError(422, "bad_recipient", f"not an age X25519 recipient (age1…): {exc}") from None
    return lambda data: pyrage.encrypt(data, parsed)


# --- open and check ------------------------------------------------------------------------------


@dataclass
class Opened:
    manifest: dict[str, Any]
    members: dict[str, bytes]
    plain: bytes  # the decrypted tar.gz (what a pending restore keeps)


def _decrypt(data: bytes, passphrase: str | None, identities: Sequence[str]) -> bytes:
    import pyrage
    if bool(passphrase) == bool(identities):
        raise APIError(422, "backup_secret_required", "give either the backup's passphrase or an "
                       "age identity (AGE-SECRET-KEY-1…) to decrypt it, not both")
    try:
        if passphrase:
            return pyrage.passphrase.decrypt(data, passphrase)
        ids = [pyrage.x25519.Identity.from_str(i.strip()) for i in identities]
        return pyrage.decrypt(data, ids)
    except pyrage.IdentityError as exc:
        raise APIError(422, "bad_identity", f"not an age X25519 identity: {exc}") from None
    except Exception:
        raise APIError(400, "backup_unreadable", "the archive does not decrypt: wrong passphrase "
                       "or identity, or the archive was changed or cut short; nothing was "
                       "restored") from None


def open_archive(data: bytes, *, passphrase: str | None = None,
                 identities: Sequence[str] = ()) -> Opened:
    """Decrypt and check an archive (every member against the manifest's hash)."""
    return read_plain(_decrypt(data, passphrase, identities))


def read_plain(plain: bytes) -> Opened:
    def bad(why: str) -> APIError:
        return APIError(400, "backup_invalid", f"not a SigmaVault configuration backup: {why}; "
                        "nothing was restored")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    raise bad(f"{info.name} is not a regular file")
                f = tar.extractfile(info)
                members[info.name] = f.read() if f else b""
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise bad(f"the archive inside is damaged ({exc})") from None
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except (KeyError, ValueError):
        raise bad("no readable manifest.json") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad(f"archive format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                  f" (this SigmaVault reads format {FORMAT})")
    listed = {m["name"]: m for m in manifest.get("members", [])}
    if set(listed) != set(members) or DB_MEMBER not in listed:
        raise bad("its members do not match its manifest")
    for name, meta in listed.items():
        if _sha256(members[name]) != meta["sha256"]:
            raise bad(f"{name} does not match its checksum")
        if meta["restore"] not in ("data", "absolute", "config"):
            raise bad(f"{name} has an unknown destination")
        if meta["restore"] == "data" and (Path(meta["path"]).is_absolute()
                                          or ".." in Path(meta["path"]).parts):
            raise bad(f"{name} would be restored outside the data dir")
        if meta["restore"] == "absolute" and not Path(meta["path"]).is_absolute():
            raise bad(f"{name} has a relative external path")
    return Opened(manifest, members, plain)


def check_compatible(manifest: dict[str, Any], known: dict[str, int]) -> None:
    """Refuse an archive whose schema is newer than this install's (409 ``backup_too_new``)."""
    newer = {ns: (v, known.get(ns, 0)) for ns, v in manifest.get("schema_versions", {}).items()
             if v > known.get(ns, 0)}
    if newer:
        listing = ", ".join(f"{ns} {v} (this install knows {k})" for ns, (v, k) in sorted(newer.items()))
        raise APIError(409, "backup_too_new",
                       f"this backup was made by a newer SigmaVault ({manifest.get('sigmavault_version')}"
                       f") or with plugins not installed here; its schema is ahead in: {listing}. "
                       "Install that release (and its plugins), then restore; nothing was restored",
                       {"namespaces": {ns: {"archive": v, "known": k} for ns, (v, k) in newer.items()}})


# --- restore -------------------------------------------------------------------------------------


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    return {"sigmavault_version": manifest["sigmavault_version"], "created_at": manifest["created_at"],
            "hostname": manifest.get("hostname", ""), "schema_versions": manifest["schema_versions"],
            "files": [m["path"] for m in manifest["members"]]}


def _write_temp(target: Path, data: bytes, mode: int) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = temp_path_for(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777 or 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def restore(opened: Opened, data_dir: Path, *, config_path: Path | None = None,
            replace: bool = False) -> dict[str, Any]:
    """Write a checked archive into ``data_dir`` (and the config file, and external paths).

    Refuses (409 ``data_dir_in_use``) a data dir that holds a database unless ``replace``.
    Every file is written under a temporary name beside its target first; the renames come last.
    """
    data_dir = Path(data_dir)
    if (data_dir / DB_NAME).exists() and not replace:
        raise APIError(409, "data_dir_in_use", f"{data_dir} already holds a SigmaVault database; "
                       "restore into a fresh data dir, or pass --force to replace it (stop the "
                       "daemon first); nothing was restored")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written_config = None
    staged: list[tuple[Path, Path]] = []
    try:
        for meta in opened.manifest["members"]:
            content = opened.members[meta["name"]]
            if meta["restore"] == "data":
                target = data_dir / meta["path"]
                mode = 0o600
            elif meta["restore"] == "absolute":
                target = Path(meta["path"])
                mode = 0o600
            else:
                target = Path(config_path) if config_path else data_dir / RESTORED_CONFIG
                written_config = target
                mode = 0o600
            staged.append((_write_temp(target, content, mode), target))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    # the database last: its stale -wal/-shm (from a replaced install) must go before it arrives
    staged.sort(key=lambda item: item[1] == data_dir / DB_NAME)
    for tmp, target in staged:
        if target == data_dir / DB_NAME:
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    log.info("configuration backup of %s (%s, SigmaVault %s) restored into %s",
             opened.manifest.get("hostname", "?"), opened.manifest["created_at"],
             opened.manifest["sigmavault_version"], data_dir)
    return {**summary(opened.manifest), "data_dir": str(data_dir),
            "config_path": str(written_config) if written_config else None}


def stage_pending(opened: Opened, data_dir: Path) -> Path:
    """Keep a checked archive (decrypted: the data dir is private) to be restored at the next
    start, replacing the current state."""
    target = Path(data_dir) / PENDING
    os.replace(_write_temp(target, opened.plain, 0o600), target)
    fsync_dir(target.parent)
    return target


def apply_pending(data_dir: Path, config_path: Path | None, known: dict[str, int]) -> dict | None:
    """At start-up, before the database opens: restore a backup uploaded through the API."""
    pending = Path(data_dir) / PENDING
    if not pending.is_file():
        return None
    opened = read_plain(pending.read_bytes())
    check_compatible(opened.manifest, known)
    result = restore(opened, data_dir, config_path=config_path, replace=True)
    pending.unlink()
    fsync_dir(Path(data_dir))
    return result


def identities_from_text(text: str) -> list[str]:
    """Age identities from ``age-keygen`` output (comments and blank lines skipped)."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


def archive_name(manifest: dict[str, Any]) -> str:
    stamp = manifest["created_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    host = "".join(c for c in manifest.get("hostname", "sigmavault") if c.isalnum() or c in "-.")
    return f"sigmavault-{host or 'backup'}-{stamp}.tar.gz.age"

