"""Secrets at rest: sealed with AES-256-GCM under a daemon key kept in the data dir.

The key file (``sealed.key``, mode 0600) is created on first use. A token names its format
version and is bound to a ``context`` (what row it belongs to), so a token copied to another row
does not open there. Losing the key file loses every sealed secret: it is part of a backup.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .files import fsync_dir, temp_path_for

log = logging.getLogger("sigmavault.sealed")

KEY_FILE = "sealed.key"
KEY_MODE = 0o600
PREFIX = "sv1:"
_NONCE = 12


class SealError(Exception):
    """A token that does not open: malformed, sealed under another key, or changed."""


class Sealer:
    """Seals and opens small secrets with the key at ``key_path`` (created when missing)."""

    def __init__(self, key_path: Path):
        self.key_path = Path(key_path)
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    def seal(self, data: bytes, context: str = "") -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._cipher().encrypt(nonce, data, context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, token: str, context: str = "") -> bytes:
        if not token.startswith(PREFIX):
            raise SealError("not a sealed token")
        try:
            raw = base64.urlsafe_b64decode(token[len(PREFIX):].encode("ascii"))
            return self._cipher().decrypt(raw[:_NONCE], raw[_NONCE:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealError(f"the sealed value does not open with {self.key_path}") from exc

    def _cipher(self) -> AESGCM:
        with self._lock:
            if self._aead is None:
                self._aead = AESGCM(self._load_or_create())
            return self._aead

    def _load_or_create(self) -> bytes:
        try:
            return self._read()
        except FileNotFoundError:
            pass
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = temp_path_for(self.key_path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
        try:
            os.write(fd, AESGCM.generate_key(bit_length=256))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, self.key_path)  # never replaces a key another process created meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        fsync_dir(self.key_path.parent)
        return self._read()

    def _read(self) -> bytes:
        mode = self.key_path.stat().st_mode & 0o777
        if mode != KEY_MODE:
            log.warning("%s had mode %o; set to %o", self.key_path, mode, KEY_MODE)
            self.key_path.chmod(KEY_MODE)
        key = self.key_path.read_bytes()
        if len(key) != 32:
            raise SealError(f"{self.key_path} is not a 32-byte key")
        return key


def sealer_for(data_dir: Path) -> Sealer:
    """The sealer of a daemon whose data dir is ``data_dir``."""
    return Sealer(Path(data_dir) / KEY_FILE)
