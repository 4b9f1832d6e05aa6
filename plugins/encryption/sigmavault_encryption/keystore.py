"""The keystore: age identities sealed with a passphrase, kept in the data dir.

Layout (directory 0700, files 0600)::

    <root>/<id>.json   metadata: name, kind, recipient, fingerprint, dates, status
    <root>/<id>.age    the identity line, age-encrypted to an scrypt passphrase stanza

The sealed files are ordinary age files: ``age -d <id>.age`` opens one with the passphrase.
Unlocked identities live only in this process's memory; a restart locks everything.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import secrets
import stat
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from sigmavault.files import atomic_write

from . import age
from .errors import AgeError, NoIdentityMatch, RecipientError
from .recipients import (HYBRID_KIND, X25519_KIND, HybridIdentity, KeyIdentity, ScryptIdentity,
                         ScryptRecipient, X25519Identity, parse_identity_file)

KINDS = (X25519_KIND, HYBRID_KIND)
DIR_MODE = 0o700
FILE_MODE = 0o600
MIN_PASSPHRASE = 8
KEY_ID_RE = re.compile(r"k-[0-9a-f]{16}")


class KeystoreError(Exception):
    """A keystore operation was refused; ``code`` is a stable snake_case reason."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class KeyRecord:
    """Public metadata of one identity."""

    id: str
    name: str
    kind: str
    recipient: str
    fingerprint: str
    created_at: str
    rotated_at: str | None = None
    rotated_from: str | None = None
    replaced_by: str | None = None
    status: str = "active"  # active | retired

    @property
    def post_quantum(self) -> bool:
        return self.kind == HYBRID_KIND


def _new_identity(kind: str) -> KeyIdentity:
    if kind == X25519_KIND:
        return X25519Identity.generate()
    if kind == HYBRID_KIND:
        return HybridIdentity.generate()
    raise KeystoreError("invalid_kind", f"unknown key kind {kind!r}; use one of {', '.join(KINDS)}")


class Keystore:
    """Sealed identities on disk plus the set currently unlocked in memory."""

    def __init__(self, root: Path, scrypt_log_n: int = 15) -> None:
        self.root = Path(root)
        self.scrypt_log_n = scrypt_log_n
        self._unlocked: dict[str, KeyIdentity] = {}
        self._lock = threading.RLock()
        self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(self.root, DIR_MODE)

    # --- storage ---------------------------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        with atomic_write(path) as f:
            os.fchmod(f.fileno(), FILE_MODE)
            f.write(data)

    def _save(self, rec: KeyRecord) -> None:
        self._write(self.root / f"{rec.id}.json", json.dumps(asdict(rec), indent=2).encode())

    def _seal(self, rec: KeyRecord, identity: KeyIdentity, passphrase: str) -> None:
        text = f"# created: {rec.created_at}\n# public key: {rec.recipient}\n{identity}\n"
        out = io.BytesIO()
        age.encrypt(io.BytesIO(text.encode()), out, [ScryptRecipient(passphrase, self.scrypt_log_n)])
        self._write(self.root / f"{rec.id}.age", out.getvalue())

    def _unseal(self, key_id: str, passphrase: str) -> KeyIdentity:
        out = io.BytesIO()
        try:
            with open(self.root / f"{key_id}.age", "rb") as f:
                age.decrypt(f, out, [ScryptIdentity(passphrase)])
        except NoIdentityMatch:
            raise KeystoreError("wrong_passphrase", "wrong passphrase", 403) from None
        except (AgeError, OSError) as exc:
            raise KeystoreError("key_damaged", f"sealed key {key_id} cannot be read: {exc}", 500) from None
        ids = parse_identity_file(out.getvalue().decode())
        if len(ids) != 1:
            raise KeystoreError("key_damaged", f"sealed key {key_id} holds {len(ids)} identities", 500)
        return ids[0]

    # --- queries ---------------------------------------------------------------------------------

    def list(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        recs = []
        for path in self.root.glob("*.json"):
            try:
                recs.append(KeyRecord(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(recs, key=lambda r: (r.created_at, r.id))

    def get(self, key_id: str) -> KeyRecord:
        path = self.root / f"{key_id}.json"
        if not KEY_ID_RE.fullmatch(key_id) or not path.is_file():
            raise KeystoreError("not_found", f"key {key_id!r} does not exist", 404)
        return KeyRecord(**json.loads(path.read_text()))

    def is_unlocked(self, key_id: str) -> bool:
        return key_id in self._unlocked

    def identities(self) -> builtins.list[KeyIdentity]:
        """Every unlocked identity (retired ones too: they still decrypt old files)."""
        with self._lock:
            return list(self._unlocked.values())

    def identity(self, key_id: str) -> KeyIdentity:
        self.get(key_id)
        with self._lock:
            if key_id not in self._unlocked:
                raise KeystoreError("key_locked", f"key {key_id} is locked; unlock it first", 409)
            return self._unlocked[key_id]

    # --- changes ---------------------------------------------------------------------------------

    def _check_passphrase(self, passphrase: str) -> None:
        if len(passphrase) < MIN_PASSPHRASE:
            raise KeystoreError("weak_passphrase",
                                f"the passphrase must be at least {MIN_PASSPHRASE} characters")

    def _add(self, name: str, identity: KeyIdentity, passphrase: str, *, rotated_at: str | None = None,
             rotated_from: str | None = None) -> KeyRecord:
        with self._lock:
            return self._add_locked(name, identity, passphrase, rotated_at, rotated_from)

    def _add_locked(self, name: str, identity: KeyIdentity, passphrase: str, rotated_at: str | None,
                    rotated_from: str | None) -> KeyRecord:
        self._check_passphrase(passphrase)
        if any(r.name == name for r in self.list()):
            raise KeystoreError("name_taken", f"a key named {name!r} already exists", 409)
        rec = KeyRecord(id="k-" + secrets.token_hex(8), name=name, kind=identity.kind,
                        recipient=str(identity.recipient), fingerprint=identity.recipient.fingerprint,
                        created_at=_now(), rotated_at=rotated_at, rotated_from=rotated_from)
        self._seal(rec, identity, passphrase)
        self._save(rec)
        with self._lock:
            self._unlocked[rec.id] = identity
        return rec

    def create(self, name: str, kind: str, passphrase: str) -> KeyRecord:
        """Generate a new identity, sealed with ``passphrase``; it starts unlocked."""
        return self._add(name, _new_identity(kind), passphrase)

    def import_identity(self, name: str, identity_text: str, passphrase: str) -> KeyRecord:
        """Store an existing ``AGE-SECRET-KEY-…`` identity (as ``age-keygen`` writes it)."""
        try:
            ids = parse_identity_file(identity_text)
        except RecipientError as exc:
            raise KeystoreError("invalid_identity", str(exc)) from None
        if len(ids) != 1:
            raise KeystoreError("invalid_identity", f"expected one identity, found {len(ids)}")
        if any(r.recipient == str(ids[0].recipient) for r in self.list()):
            raise KeystoreError("duplicate_key", "this identity is already in the keystore", 409)
        return self._add(name, ids[0], passphrase)

    def unlock(self, key_id: str, passphrase: str) -> KeyRecord:
        rec = self.get(key_id)
        identity = self._unseal(key_id, passphrase)
        if str(identity.recipient) != rec.recipient:
            raise KeystoreError("key_damaged", f"sealed key {key_id} does not match its metadata", 500)
        with self._lock:
            self._unlocked[key_id] = identity
        return rec

    def lock(self, key_id: str | None = None) -> int:
        """Forget one unlocked identity (or all); return how many were locked."""
        with self._lock:
            if key_id is None:
                n = len(self._unlocked)
                self._unlocked.clear()
                return n
            self.get(key_id)
            return 1 if self._unlocked.pop(key_id, None) is not None else 0

    def rename(self, key_id: str, name: str) -> KeyRecord:
        with self._lock:
            rec = self.get(key_id)
            if any(r.name == name and r.id != key_id for r in self.list()):
                raise KeystoreError("name_taken", f"a key named {name!r} already exists", 409)
            rec.name = name
            self._save(rec)
        return rec

    def change_passphrase(self, key_id: str, passphrase: str, new_passphrase: str) -> KeyRecord:
        self._check_passphrase(new_passphrase)
        rec = self.get(key_id)
        identity = self._unseal(key_id, passphrase)
        self._seal(rec, identity, new_passphrase)
        return rec

    def rotate(self, key_id: str, passphrase: str, new_passphrase: str | None = None) -> KeyRecord:
        """Replace a key by a fresh one of the same kind; the old one is retired, kept for decryption."""
        with self._lock:
            return self._rotate_locked(key_id, passphrase, new_passphrase)

    def _rotate_locked(self, key_id: str, passphrase: str, new_passphrase: str | None) -> KeyRecord:
        old = self.get(key_id)
        if old.status != "active":
            raise KeystoreError("key_retired", f"key {key_id} was already rotated to {old.replaced_by}", 409)
        identity = self._unseal(key_id, passphrase)
        with self._lock:
            self._unlocked[key_id] = identity
        stamp = _now()
        compact = stamp[:19].replace("-", "").replace(":", "")
        old.name, base = f"{old.name[:40]}.retired-{compact}", old.name
        old.status = "retired"
        self._save(old)
        new = self._add(base, _new_identity(old.kind), new_passphrase or passphrase,
                        rotated_at=stamp, rotated_from=old.id)
        old.replaced_by = new.id
        self._save(old)
        return new

    def delete(self, key_id: str) -> KeyRecord:
        rec = self.get(key_id)
        with self._lock:
            self._unlocked.pop(key_id, None)
        (self.root / f"{key_id}.age").unlink(missing_ok=True)
        (self.root / f"{key_id}.json").unlink()
        return rec

    # --- backup ----------------------------------------------------------------------------------

    def export(self, key_ids: builtins.list[str], passphrase: str) -> bytes:
        """An age file (scrypt, ``passphrase``) holding the chosen unlocked identities as an
        identity file; ``age -d`` then ``age -d -i`` work on it directly."""
        self._check_passphrase(passphrase)
        lines = []
        for key_id in key_ids:
            rec, identity = self.get(key_id), self.identity(key_id)
            lines += [f"# name: {rec.name}", f"# created: {rec.created_at}",
                      f"# public key: {rec.recipient}", str(identity)]
        if not lines:
            raise KeystoreError("nothing_to_export", "no keys selected")
        out = io.BytesIO()
        age.encrypt(io.BytesIO(("\n".join(lines) + "\n").encode()), out,
                    [ScryptRecipient(passphrase, self.scrypt_log_n)])
        return out.getvalue()

    def import_bundle(self, data: bytes, passphrase: str, new_passphrase: str,
                      prefix: str = "imported") -> builtins.list[KeyRecord]:
        """Import every identity of an :meth:`export` bundle, sealed with ``new_passphrase``."""
        out = io.BytesIO()
        try:
            age.decrypt(io.BytesIO(data), out, [ScryptIdentity(passphrase)])
        except NoIdentityMatch:
            raise KeystoreError("wrong_passphrase", "wrong passphrase for this bundle", 403) from None
        except AgeError as exc:
            raise KeystoreError("invalid_bundle", f"not a valid key bundle: {exc}") from None
        names: dict[str, str] = {}
        pending: str | None = None
        for line in out.getvalue().decode().splitlines():
            if line.startswith("# name: "):
                pending = line[8:].strip()
            elif line.startswith("AGE-SECRET-KEY-"):
                names[line.strip()] = pending or ""
                pending = None
        known = {r.recipient for r in self.list()}
        added = []
        for i, (text, name) in enumerate(names.items()):
            identity = parse_identity_file(text)[0]
            if str(identity.recipient) in known:
                continue
            base = name or f"{prefix}-{i + 1}"
            taken = {r.name for r in self.list()}
            final = base if base not in taken else f"{base}-{secrets.token_hex(2)}"
            added.append(self._add(final, identity, new_passphrase))
        return added

    # --- audit -----------------------------------------------------------------------------------

    def mode_findings(self) -> builtins.list[dict[str, str]]:
        """Security findings about the directory and file modes/owners."""
        findings = []
        uid = os.geteuid()
        st = os.stat(self.root)
        if stat.S_IMODE(st.st_mode) & 0o077:
            findings.append({"id": "encryption.keystore_dir_mode", "severity": "high",
                             "title": "keystore directory is accessible to other users",
                             "detail": f"{self.root} has mode {stat.S_IMODE(st.st_mode):o}; expected 700"})
        for path in sorted(self.root.iterdir()):
            pst = os.lstat(path)
            if stat.S_ISLNK(pst.st_mode):
                findings.append({"id": "encryption.keystore_symlink", "severity": "high",
                                 "title": "symlink inside the keystore", "detail": str(path)})
            elif stat.S_IMODE(pst.st_mode) & 0o077:
                findings.append({"id": "encryption.key_file_mode", "severity": "high",
                                 "title": "key file readable by other users",
                                 "detail": f"{path} has mode {stat.S_IMODE(pst.st_mode):o}; expected 600"})
            if pst.st_uid != uid:
                findings.append({"id": "encryption.key_file_owner", "severity": "medium",
                                 "title": "key file owned by another user",
                                 "detail": f"{path} is owned by uid {pst.st_uid}"})
        return findings
